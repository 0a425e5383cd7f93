// CHECK macros for programmer errors: abort with file:line and a message. Expected failures
// (bad input, I/O, failed jobs) use Status instead (core/status.h).
#ifndef VLMSCALE_CORE_CHECK_H_
#define VLMSCALE_CORE_CHECK_H_

#include <sstream>

namespace vlmscale::internal {

// Collects a message with operator<< and aborts in its destructor.
class CheckFailure {
 public:
  CheckFailure(const char* file, int line, const char* condition);
  [[noreturn]] ~CheckFailure();
  std::ostream& stream() { return stream_; }

 private:
  std::ostringstream stream_;
};

// Makes `CHECK(x) << ...` a void expression in both branches of the ternary.
struct Voidify {
  void operator&(std::ostream&) {}
};

}  // namespace vlmscale::internal

// libtorch built with glog defines macros of the same names and meaning; ours take over from here.
#undef CHECK
#undef CHECK_EQ
#undef CHECK_NE
#undef CHECK_LT
#undef CHECK_LE
#undef CHECK_GT
#undef CHECK_GE

#define CHECK(condition)                        \
  (condition) ? (void)0                         \
              : ::vlmscale::internal::Voidify() & \
                    ::vlmscale::internal::CheckFailure(__FILE__, __LINE__, #condition).stream()

#define CHECK_EQ(a, b) CHECK((a) == (b))
#define CHECK_NE(a, b) CHECK((a) != (b))
#define CHECK_LT(a, b) CHECK((a) < (b))
#define CHECK_LE(a, b) CHECK((a) <= (b))
#define CHECK_GT(a, b) CHECK((a) > (b))
#define CHECK_GE(a, b) CHECK((a) >= (b))

#endif  // VLMSCALE_CORE_CHECK_H_
