// libFuzzer target: `--set section.key=value` overrides (the override loop of
// jobs::ConfigFromString, then jobs::PlanSweep and, for command jobs,
// jobs::command::ValidateCommandConfig). The input is one override per line, applied on top of a
// valid base config that the first byte chooses (sleep, command or finetune_eval). Promises:
//   - a rejection is kInvalidInput with one line of text (exit code 2);
//   - on success, every key set by an override holds the (trimmed) value of its last override and
//     names "--set KEY" as its origin (an empty sweep.output means the default results path);
//     the base file's other keys keep their values.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "config/config.h"
#include "config/sweep.h"
#include "core/strings.h"
#include "jobs/command/command_job.h"
#include "jobs/job_type.h"
#include "tests/fuzz/fuzz_util.h"

using vlmscale::Result;
using vlmscale::Status;
using vlmscale::config::Config;
using vlmscale::fuzz::CheckRejection;

namespace {

const char* const kBases[] = {
    // sleep jobs, as the driver tests use them.
    "[sweep]\nname = s\n[grid]\nllm = nano, micro\nvisual_tokens = 1, 4\nmethod = avgpool\n"
    "task = shapes\nseed = 0, 1\n[job]\ntype = sleep\n[sleep]\nseconds = 0.01\n",
    // command jobs with placeholders and an environment.
    "[sweep]\nname = c\n[grid]\nllm = nano\nvisual_tokens = 1, 9\nmethod = quecc, avgpool\n"
    "task = shapes\nseed = 0\n[job]\ntype = command\n[command]\n"
    "argv = /usr/bin/python3 train.py --llm {llm} --v {visual_tokens} --out {run_dir}\n"
    "env = A={seed} B=\"x y\"\nmetric = accuracy\n",
    // finetune_eval with a user LLM preset.
    "[sweep]\nname = f\n[grid]\nllm = nano, mine\nvisual_tokens = 1, 4, 16\nmethod = avgpool\n"
    "task = shapes, glyphs\nseed = 0\nexclude = llm=mine,visual_tokens=16\n[llm.mine]\n"
    "width = 48\ndepth = 2\nheads = 4\n[job]\ntype = finetune_eval\n[train]\nsteps = 10\n",
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string base = kBases[data[0] % (sizeof(kBases) / sizeof(kBases[0]))];
  std::vector<std::string> overrides;
  std::string input = vlmscale::fuzz::ToString(data + 1, size - 1);
  size_t pos = 0;
  while (pos <= input.size() && overrides.size() < 64) {
    size_t end = input.find('\n', pos);
    if (end == std::string::npos) end = input.size();
    overrides.push_back(input.substr(pos, end - pos));
    pos = end + 1;
  }
  Result<Config> plain = vlmscale::jobs::ConfigFromString(base, "base.ini", {});
  FUZZ_CHECK(plain.ok()) << plain.status().ToString();

  Result<Config> config = vlmscale::jobs::ConfigFromString(base, "base.ini", overrides);
  if (!config.ok()) {
    CheckRejection(config.status());
    return 0;
  }
  std::map<std::string, std::string> last;
  for (const auto& o : overrides) {
    size_t eq = o.find('=');
    FUZZ_CHECK(eq != std::string::npos) << "accepted an override without '=': " << o;
    last[vlmscale::Trim(o.substr(0, eq))] = vlmscale::Trim(o.substr(eq + 1));
  }
  for (const auto& [key, value] : last) {
    if (key == "sweep.output" && value.empty()) {  // Documented: empty means the default path.
      FUZZ_CHECK(config->Get(key).text == "results/" + config->GetString("sweep.name") + ".h5")
          << config->Get(key).text;
      continue;
    }
    FUZZ_CHECK(config->IsSet(key)) << key;
    FUZZ_CHECK(config->Get(key).text == value) << key << ": '" << config->Get(key).text << "'";
    FUZZ_CHECK(config->Get(key).origin == "--set " + key) << config->Get(key).origin;
  }
  for (const auto& [key, value] : plain->values()) {
    if (last.count(key) || value.origin == "default") continue;
    FUZZ_CHECK(config->Get(key).text == value.text) << key;
  }
  Result<vlmscale::config::Sweep> sweep = vlmscale::jobs::PlanSweep(*config);
  if (!sweep.ok()) {
    CheckRejection(sweep.status());
    return 0;
  }
  if (sweep->stages.back().job_type == "command") {
    Status s = vlmscale::jobs::command::ValidateCommandConfig(*config);
    if (!s.ok()) CheckRejection(s);
  }
  return 0;
}
