// libFuzzer target: the sweep config parser (jobs::ConfigFromString) and planner
// (jobs::PlanSweep) on arbitrary file contents. Promises checked besides "no sanitizer finding,
// no exception, no CHECK failure":
//   - a rejected file gives kInvalidInput with one line of text (exit code 2);
//   - an accepted file re-parses from its canonical text (Config::ResolvedText, what results
//     files store and job ids hash) to the same values, and plans to the same job ids.
#include <cstdint>
#include <string>

#include "config/config.h"
#include "config/sweep.h"
#include "jobs/job_type.h"
#include "tests/fuzz/fuzz_util.h"

using vlmscale::Result;
using vlmscale::config::Config;
using vlmscale::config::Sweep;
using vlmscale::jobs::ConfigFromString;
using vlmscale::jobs::PlanSweep;
using vlmscale::fuzz::CheckRejection;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Result<Config> config = ConfigFromString(vlmscale::fuzz::ToString(data, size), "fuzz.ini", {});
  if (!config.ok()) {
    CheckRejection(config.status());
    return 0;
  }
  const std::string resolved = config->ResolvedText();
  Result<Config> again = ConfigFromString(resolved, "resolved.ini", {});
  FUZZ_CHECK(again.ok()) << again.status().ToString() << "\n" << resolved;
  FUZZ_CHECK(again->values().size() == config->values().size()) << resolved;
  // A staged config's resolved text leaves job.type out (Config::ResolvedText: it means nothing
  // next to [stage.NAME], and planning rejects one set there), so it reads back as its default.
  const bool staged = !config->StageNames().empty();
  for (const auto& [key, value] : config->values()) {
    if (staged && key == "job.type") continue;
    FUZZ_CHECK(again->Has(key)) << key;
    FUZZ_CHECK(again->Get(key).text == value.text) << key << ": '" << value.text << "'";
  }
  FUZZ_CHECK(again->ResolvedText() == resolved);

  Result<Sweep> sweep = PlanSweep(*config);
  if (!sweep.ok()) {
    CheckRejection(sweep.status());
    return 0;
  }
  FUZZ_CHECK(!sweep->jobs.empty());
  Result<Sweep> replanned = PlanSweep(*again);
  FUZZ_CHECK(replanned.ok()) << replanned.status().ToString();
  FUZZ_CHECK(replanned->jobs.size() == sweep->jobs.size());
  for (size_t i = 0; i < sweep->jobs.size(); ++i) {
    FUZZ_CHECK(replanned->jobs[i].id == sweep->jobs[i].id) << i;
    FUZZ_CHECK(sweep->jobs[i].est_cost >= 0.0) << sweep->jobs[i].est_cost;
  }
  return 0;
}
