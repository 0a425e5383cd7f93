// The worker of every rank (protocol steps 2, 4 and 5 in driver.h): every rank pulls work from the
// coordinator for itself; the coordinator sends a job to each of the ranks it picked, which run
// it on a communicator of exactly those ranks (GroupComms); the lowest of them leads it
// (progress, results). A liveness thread sends the rank's heartbeats and picks up stops.
#ifndef VLMSCALE_DRIVER_WORKER_H_
#define VLMSCALE_DRIVER_WORKER_H_

#include <atomic>
#include <string>
#include <vector>

#include "comm/communicator.h"
#include "config/config.h"
#include "config/sweep.h"
#include "core/status.h"
#include "driver/group_comms.h"
#include "driver/messages.h"
#include "driver/placement.h"

namespace vlmscale::driver {

struct WorkerContext {
  const config::Config* config = nullptr;  // Handed to jobs (JobInput::config).
  const config::Sweep* sweep = nullptr;
  const Placement* place = nullptr;
  const std::vector<std::string>* hosts = nullptr;  // Host of every world rank (GatherHosts).
  // Communicators of the ranks a job runs on, as the coordinator picked them per job.
  GroupComms* groups = nullptr;
  std::atomic<bool>* stop = nullptr;   // The process's stop flag; set by kStop or a signal.
  double grace_seconds = 0.0;          // DriverOptions::grace_seconds, handed to jobs.
};

// Sets r->outcome, failure_class and message from how Job::Run ended (`status`, and the
// failure class the job chose, may be empty) and r->metrics: OK with a non-finite "error" metric
// is a failure of class "diverged"; Cancelled is kCancelled; other errors are kFailed with
// `failure_class` or "error".
void ClassifyResult(const Status& status, const std::string& failure_class, JobResultMessage* r);

// Serves jobs until the coordinator shuts the rank down; returns the exit code it sent.
// REQUIRES: every pointer in `ctx` is set and outlives the call; every rank calls it.
// Never throws: a job's exception is its failure.
int RunWorker(const WorkerContext& ctx);

}  // namespace vlmscale::driver

#endif  // VLMSCALE_DRIVER_WORKER_H_
