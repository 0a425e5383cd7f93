#include "driver/driver_options.h"

#include <cmath>

#include "core/strings.h"

namespace vlmscale::driver {

namespace {

bool Fail(std::string* error, const std::string& field, const std::string& requirement,
          const std::string& got) {
  if (error != nullptr) {
    *error = "DriverOptions." + field + ": expected " + requirement + ", got " + got;
  }
  return false;
}

}  // namespace

bool DriverOptions::IsValid(std::string* error) const {
  if (ranks_per_job < 1) {
    return Fail(error, "ranks_per_job", ">= 1", std::to_string(ranks_per_job));
  }
  if (threads_per_rank < 0) {
    return Fail(error, "threads_per_rank", ">= 0", std::to_string(threads_per_rank));
  }
  if (max_attempts < 1) {
    return Fail(error, "max_attempts", ">= 1", std::to_string(max_attempts));
  }
  if (order != DispatchOrder::kCost && order != DispatchOrder::kGrid &&
      order != DispatchOrder::kStages) {
    return Fail(error, "order", "kCost, kGrid or kStages", std::to_string(static_cast<int>(order)));
  }
  if (!std::isfinite(grace_seconds) || grace_seconds < 0) {
    return Fail(error, "grace_seconds", "a finite number >= 0", FormatNumber(grace_seconds));
  }
  if (!std::isfinite(stall_seconds) || stall_seconds <= 0) {
    return Fail(error, "stall_seconds", "a finite number > 0", FormatNumber(stall_seconds));
  }
  if (!std::isfinite(commit_ms) || commit_ms < 0) {
    return Fail(error, "commit_ms", "a finite number >= 0", FormatNumber(commit_ms));
  }
  if (!std::isfinite(snapshot_seconds) || snapshot_seconds < 0) {
    return Fail(error, "snapshot_seconds", "a finite number >= 0", FormatNumber(snapshot_seconds));
  }
  if (log_format != LogFormat::kText && log_format != LogFormat::kJson) {
    return Fail(error, "log_format", "kText or kJson",
                std::to_string(static_cast<int>(log_format)));
  }
  return true;
}

}  // namespace vlmscale::driver
