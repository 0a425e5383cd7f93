#include "store/job_record.h"

#include "core/check.h"

namespace vlmscale::store {

const char* JobStateName(JobState s) {
  switch (s) {
    case JobState::kPending:
      return "pending";
    case JobState::kRunning:
      return "running";
    case JobState::kDone:
      return "done";
    case JobState::kFailed:
      return "failed";
    case JobState::kBlocked:
      return "blocked";
  }
  CHECK(false) << "invalid JobState " << static_cast<int>(s);
  return "";
}

bool ParseJobState(const std::string& name, JobState* state) {
  for (JobState s : {JobState::kPending, JobState::kRunning, JobState::kDone, JobState::kFailed,
                     JobState::kBlocked}) {
    if (name == JobStateName(s)) {
      *state = s;
      return true;
    }
  }
  return false;
}

}  // namespace vlmscale::store
