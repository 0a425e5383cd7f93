#include "driver/driver_options.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace vlmscale::driver {
namespace {

TEST(DriverOptions, DefaultsAreValid) {
  std::string error = "untouched";
  EXPECT_TRUE(DriverOptions().IsValid(&error));
  EXPECT_TRUE(DriverOptions().IsValid(nullptr));
}

TEST(DriverOptions, EachViolationNamesItsField) {
  std::vector<std::pair<std::string, std::function<void(DriverOptions*)>>> cases = {
      {"ranks_per_job", [](DriverOptions* o) { o->ranks_per_job = 0; }},
      {"threads_per_rank", [](DriverOptions* o) { o->threads_per_rank = -1; }},
      {"max_attempts", [](DriverOptions* o) { o->max_attempts = 0; }},
      {"grace_seconds", [](DriverOptions* o) { o->grace_seconds = -1; }},
      {"grace_seconds", [](DriverOptions* o) { o->grace_seconds = NAN; }},
      {"stall_seconds", [](DriverOptions* o) { o->stall_seconds = 0; }},
      {"commit_ms", [](DriverOptions* o) { o->commit_ms = INFINITY; }},
      {"snapshot_seconds", [](DriverOptions* o) { o->snapshot_seconds = -0.5; }},
      {"order", [](DriverOptions* o) { o->order = static_cast<DispatchOrder>(7); }},
  };
  for (const auto& [field, breaks] : cases) {
    DriverOptions o;
    breaks(&o);
    std::string error;
    EXPECT_FALSE(o.IsValid(&error)) << field;
    EXPECT_NE(error.find("DriverOptions." + field + ":"), std::string::npos) << error;
    EXPECT_FALSE(o.IsValid(nullptr));
  }
}

}  // namespace
}  // namespace vlmscale::driver
