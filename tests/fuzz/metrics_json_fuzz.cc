// libFuzzer target: the metrics.json reader of command jobs (jobs::command::ParseMetricsJson) and
// the error metric derived from it (ApplyErrorMetric). Promises:
//   - it never throws; a rejection is kInvalidInput with one line of text (exit code 2);
//   - an accepted file holds at most 1000 metrics, with names of 1-64 characters of [A-Za-z0-9_.-]
//   and
//     finite values;
//   - the derived error is finite; for `accuracy` it is 1 - accuracy, in [0, 1].
#include <cctype>
#include <cmath>
#include <cstdint>
#include <map>
#include <string>

#include "jobs/command/command_job.h"
#include "tests/fuzz/fuzz_util.h"

using vlmscale::Result;
using vlmscale::Status;
using vlmscale::fuzz::CheckRejection;
using vlmscale::jobs::command::ApplyErrorMetric;
using vlmscale::jobs::command::ParseMetricsJson;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Result<std::map<std::string, double>> metrics =
      ParseMetricsJson(vlmscale::fuzz::ToString(data, size));
  if (!metrics.ok()) {
    CheckRejection(metrics.status());
    return 0;
  }
  FUZZ_CHECK(metrics->size() <= 1000) << metrics->size();
  for (const auto& [name, value] : *metrics) {
    FUZZ_CHECK(!name.empty() && name.size() <= 64) << name;
    for (char c : name) {
      FUZZ_CHECK(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-')
          << name;
    }
    FUZZ_CHECK(std::isfinite(value)) << name;
  }
  for (const char* metric : {"accuracy", "error", "loss"}) {
    std::map<std::string, double> m = *metrics;
    Status s = ApplyErrorMetric(metric, &m);
    if (!s.ok()) {
      CheckRejection(s);
      FUZZ_CHECK(!metrics->count(metric) || std::string(metric) == "accuracy") << metric;
      continue;
    }
    FUZZ_CHECK(m.count("error")) << metric;
    FUZZ_CHECK(std::isfinite(m.at("error"))) << metric;
    if (std::string(metric) == "accuracy") {
      FUZZ_CHECK(m.at("error") >= 0.0 && m.at("error") <= 1.0) << m.at("error");
      FUZZ_CHECK(m.at("error") == 1.0 - metrics->at("accuracy"));
    } else {
      FUZZ_CHECK(m.at("error") == metrics->at(metric));
    }
  }
  return 0;
}
