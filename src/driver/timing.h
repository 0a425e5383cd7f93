// Clocks and the polling backoff of the driver.
#ifndef VLMSCALE_DRIVER_TIMING_H_
#define VLMSCALE_DRIVER_TIMING_H_

#include <functional>

namespace vlmscale::driver {

// Seconds since the Unix epoch (wall clock; for records and logs).
double UnixNow();
// Seconds of a monotonic clock (for intervals).
double MonoNow();

// A monotonic clock in seconds. The coordinator takes one so tests can drive stall, grace and
// commit windows without sleeping.
using Clock = std::function<double()>;

// Polls with a short spin then growing sleeps, so idle waits cost no core (OpenMPI's blocking
// calls busy-poll) while busy exchanges stay fast.
class Backoff {
 public:
  void Reset() { idle_ = 0; }
  void Wait();

 private:
  int idle_ = 0;
};

}  // namespace vlmscale::driver

#endif  // VLMSCALE_DRIVER_TIMING_H_
