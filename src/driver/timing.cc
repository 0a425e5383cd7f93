#include "driver/timing.h"

#include <chrono>
#include <thread>

namespace vlmscale::driver {

double UnixNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

double MonoNow() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void Backoff::Wait() {
  ++idle_;
  if (idle_ < 50) return;
  // Up to 5 ms once idle for long: a quiet coordinator then costs well under 1% of a core.
  int us = idle_ < 200 ? 20 : (idle_ < 1000 ? 200 : (idle_ < 3000 ? 1000 : 5000));
  std::this_thread::sleep_for(std::chrono::microseconds(us));
}

}  // namespace vlmscale::driver
