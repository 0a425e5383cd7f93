// Wire format of the driver's control messages (driver.h describes the protocol).
#ifndef VLMSCALE_DRIVER_MESSAGES_H_
#define VLMSCALE_DRIVER_MESSAGES_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/status.h"
#include "store/job_record.h"

namespace vlmscale::driver {

struct Assignment {
  int64_t index = 0;  // Into Sweep::jobs.
  int attempt = 1;
};

// kAssign payload: a batch, or a shutdown carrying the exit code every rank returns.
struct AssignMessage {
  bool shutdown = false;
  int exit_code = 0;
  std::vector<Assignment> batch;
};

// One job's outcome as the group leader reports it.
struct JobResultMessage {
  int64_t index = 0;
  int attempt = 1;
  std::string outcome;  // "done", "failed" or "cancelled".
  std::string failure_class;
  std::string message;
  std::map<std::string, double> metrics;
  std::vector<store::CurvePoint> curves;
  double train_seconds = 0, eval_seconds = 0;
  double start_time = 0, end_time = 0;
  bool started = true;  // False for batch jobs skipped because of a stop request.
};

std::string EncodeAssign(const AssignMessage& m);
Result<AssignMessage> DecodeAssign(const std::string& bytes);
std::string EncodeResults(const std::vector<JobResultMessage>& results);
Result<std::vector<JobResultMessage>> DecodeResults(const std::string& bytes);

}  // namespace vlmscale::driver

#endif  // VLMSCALE_DRIVER_MESSAGES_H_
