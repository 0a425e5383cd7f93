#include "core/status.h"

#include <cstdio>
#include <cstdlib>
#include <iostream>

namespace vlmscale {

std::string Status::ToString() const {
  const char* name = "OK";
  switch (code_) {
    case Code::kOk: return "OK";
    case Code::kInvalidInput: name = "invalid input"; break;
    case Code::kNotFound: name = "not found"; break;
    case Code::kIOError: name = "I/O error"; break;
    case Code::kRuntime: name = "runtime error"; break;
    case Code::kCancelled: name = "cancelled"; break;
  }
  return std::string(name) + ": " + message_;
}

int ExitCodeFor(const Status& s) {
  switch (s.code()) {
    case Status::Code::kOk: return kExitOk;
    case Status::Code::kInvalidInput:
    case Status::Code::kNotFound: return kExitUsage;
    case Status::Code::kCancelled: return kExitStopped;
    default: return kExitFailure;
  }
}

namespace internal {

CheckFailure::CheckFailure(const char* file, int line, const char* condition) {
  stream_ << file << ":" << line << ": CHECK failed: " << condition << " ";
}

CheckFailure::~CheckFailure() {
  std::cerr << stream_.str() << std::endl;
  std::abort();
}

}  // namespace internal
}  // namespace vlmscale
