// Wire format of the driver's control messages (driver.h describes the protocol). Every Decode*
// returns kRuntime with a message naming the malformed part instead of trusting the bytes.
#ifndef VLMSCALE_DRIVER_MESSAGES_H_
#define VLMSCALE_DRIVER_MESSAGES_H_

#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/status.h"
#include "store/job_record.h"

namespace vlmscale::driver {

// How one attempt of a job ended. A NaN error metric is kFailed with failure class "diverged".
enum class Outcome { kDone, kFailed, kCancelled };

// "done", "failed", "cancelled" (the wire and log spelling).
const char* OutcomeName(Outcome outcome);
// Inverse of OutcomeName; false for any other text.
bool ParseOutcome(const std::string& name, Outcome* outcome);

struct Assignment {
  int64_t index = 0;  // Into Sweep::jobs.
  int attempt = 1;
};

// kAssign payload: a batch, or a shutdown carrying the exit code every rank returns. The
// coordinator sends the same batch to every rank of `ranks` (the job's world ranks, ascending;
// empty: the receiving rank alone); ranks[0] leads it (heartbeats with progress, the results).
struct AssignMessage {
  bool shutdown = false;
  int exit_code = 0;
  std::vector<Assignment> batch;
  std::vector<int> ranks;
};

// One job's outcome as the group leader reports it (kRequest payload: a list of these).
struct JobResultMessage {
  int64_t index = 0;
  int attempt = 1;
  Outcome outcome = Outcome::kDone;
  std::string failure_class;  // Non-empty iff outcome == kFailed.
  std::string message;
  std::map<std::string, double> metrics;
  std::vector<store::CurvePoint> curves;
  double train_seconds = 0, eval_seconds = 0;
  double start_time = 0, end_time = 0;
  bool started = true;  // False for batch jobs skipped because of a stop request.
  // Not started (outcome kCancelled, started false) because the artifacts of these parent jobs
  // (indices into Sweep::jobs) are missing: the coordinator runs them again first.
  std::vector<int64_t> missing_parents;
};

// kHeartbeat payload: a leader's liveness report, sent every second.
struct HeartbeatMessage {
  // Seconds since the running job last called heartbeat(); negative when no job is running.
  double progress_age = -1.0;
  bool stop_requested = false;  // A stop signal arrived on this group.
  // The running job's progress (jobs::JobEnv::progress), when it has reported any:
  int64_t job_index = -1;  // Its index into Sweep::jobs; -1 when no progress is reported.
  std::string phase;
  int64_t step = 0, total = 0;
  double loss = std::nan("");                 // NaN when none.
  std::vector<store::CurvePoint> new_points;  // Curve points logged since the last heartbeat.
};

std::string EncodeAssign(const AssignMessage& m);
Result<AssignMessage> DecodeAssign(const std::string& bytes);
std::string EncodeResults(const std::vector<JobResultMessage>& results);
Result<std::vector<JobResultMessage>> DecodeResults(const std::string& bytes);
std::string EncodeHeartbeat(const HeartbeatMessage& m);
Result<HeartbeatMessage> DecodeHeartbeat(const std::string& bytes);

}  // namespace vlmscale::driver

#endif  // VLMSCALE_DRIVER_MESSAGES_H_
