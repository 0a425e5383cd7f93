// Status and Result<T>: how expected failures travel (LevelDB Status, abseil StatusOr).
//
// A Status is OK or carries a code and a message a user can act on. Codes map onto the CLI's
// exit codes through ExitCodeFor(): kInvalidInput -> 2, kCancelled -> 75, everything else -> 1.
#ifndef VLMSCALE_CORE_STATUS_H_
#define VLMSCALE_CORE_STATUS_H_

#include <optional>
#include <string>
#include <utility>

#include "core/check.h"

namespace vlmscale {

class Status {
 public:
  enum class Code {
    kOk = 0,
    kInvalidInput,  // Bad config, bad flag, bad input file: the user must fix something.
    kNotFound,      // A file or object that should exist does not.
    kIOError,       // Reading or writing failed (disk full, permissions, corrupt file).
    kRuntime,       // A computation or job failed at run time.
    kCancelled,     // Stopped by a signal or stop request before completion.
  };

  Status() = default;
  static Status OK() { return Status(); }
  static Status InvalidInput(std::string msg) { return Status(Code::kInvalidInput, std::move(msg)); }
  static Status NotFound(std::string msg) { return Status(Code::kNotFound, std::move(msg)); }
  static Status IOError(std::string msg) { return Status(Code::kIOError, std::move(msg)); }
  static Status Runtime(std::string msg) { return Status(Code::kRuntime, std::move(msg)); }
  static Status Cancelled(std::string msg) { return Status(Code::kCancelled, std::move(msg)); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  bool IsInvalidInput() const { return code_ == Code::kInvalidInput; }
  bool IsCancelled() const { return code_ == Code::kCancelled; }

  // Returns a copy whose message is "prefix: message". OK stays OK.
  Status WithPrefix(const std::string& prefix) const {
    if (ok()) return *this;
    return Status(code_, prefix + ": " + message_);
  }

  // "OK" or "<code name>: <message>".
  std::string ToString() const;

 private:
  Status(Code code, std::string msg) : code_(code), message_(std::move(msg)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

// Process exit codes of the vlmscale CLI.
constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;
constexpr int kExitStopped = 75;  // EX_TEMPFAIL: stopped by a signal, resume later.

int ExitCodeFor(const Status& s);

// A value or a non-OK Status.
template <typename T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design.
  Result(Status status) : status_(std::move(status)) {  // NOLINT
    CHECK(!status_.ok()) << "Result constructed from an OK status without a value";
  }
  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() {
    CHECK(ok()) << status_.ToString();
    return *value_;
  }
  const T& value() const {
    CHECK(ok()) << status_.ToString();
    return *value_;
  }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace vlmscale

// Returns early from the enclosing function with the Status if it is not OK.
#define VLM_RETURN_IF_ERROR(expr)                  \
  do {                                             \
    ::vlmscale::Status _vlm_status = (expr);       \
    if (!_vlm_status.ok()) return _vlm_status;     \
  } while (0)

#define VLM_CONCAT_INNER(a, b) a##b
#define VLM_CONCAT(a, b) VLM_CONCAT_INNER(a, b)
// Assigns the value of a Result<T> expression to lhs, or returns its Status.
#define VLM_ASSIGN_OR_RETURN(lhs, expr) \
  VLM_ASSIGN_OR_RETURN_IMPL(VLM_CONCAT(_vlm_result_, __LINE__), lhs, expr)
#define VLM_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return tmp.status();             \
  lhs = std::move(tmp.value())

#endif  // VLMSCALE_CORE_STATUS_H_
