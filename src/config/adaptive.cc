#include "config/adaptive.h"

#include <cmath>
#include <set>

#include "config/sweep.h"
#include "core/strings.h"

namespace vlmscale::config {

namespace {

// "<x> flops" or "<k> jobs".
Status ParseBudget(const Config& c, AdaptiveSettings* s) {
  const std::string text = Trim(c.GetString("adaptive.budget"));
  if (text.empty()) return Status::OK();
  const std::vector<std::string> parts = SplitTrimmed(text, ' ');
  std::vector<std::string> words;
  for (const auto& p : parts) {
    if (!p.empty()) words.push_back(p);
  }
  const std::string expected =
      "expected '<x> flops' (the cost model's FLOPs, e.g. '3e18 flops') or '<k> jobs', got '" +
      text + "'";
  if (words.size() != 2) return KeyError(c, "adaptive.budget", expected);
  if (words[1] == "flops") {
    std::optional<double> x = ParseDouble(words[0]);
    if (!x || !(*x > 0)) return KeyError(c, "adaptive.budget", expected);
    s->budget_flops = *x;
    return Status::OK();
  }
  if (words[1] == "jobs") {
    std::optional<int64_t> k = ParseInt(words[0]);
    if (!k || *k < 1 || *k > (1 << 30)) return KeyError(c, "adaptive.budget", expected);
    s->budget_jobs = *k;
    return Status::OK();
  }
  return KeyError(c, "adaptive.budget", expected);
}

Status ParseInitial(const Config& c, AdaptiveSettings* s) {
  const std::string text = Trim(c.GetString("adaptive.initial"));
  const std::string expected =
      "expected 'corners' or 'corners+N' (the grid's four corners plus N spread points), got '" +
      text + "'";
  if (text == "corners") {
    s->initial_spread = 0;
    return Status::OK();
  }
  if (!StartsWith(text, "corners+")) return KeyError(c, "adaptive.initial", expected);
  std::optional<int64_t> n = ParseInt(Trim(text.substr(8)));
  if (!n || *n < 0 || *n > 100000) return KeyError(c, "adaptive.initial", expected);
  s->initial_spread = static_cast<int>(*n);
  return Status::OK();
}

}  // namespace

Result<AdaptiveSettings> ReadAdaptiveSettings(const Config& c, const Sweep& sweep) {
  AdaptiveSettings s;
  const std::string& target = c.GetString("adaptive.target");
  if (target == "none") return s;
  s.target = target == "error" ? AdaptiveTargetKind::kError : AdaptiveTargetKind::kFrontier;
  // The candidates are the final stage's jobs (the one no other stage needs).
  std::vector<bool> needed(sweep.stages.size(), false);
  for (const StageSpec& st : sweep.stages) {
    for (const std::string& need : st.needs) {
      for (size_t k = 0; k < sweep.stages.size(); ++k) {
        if (sweep.stages[k].name == need) needed[k] = true;
      }
    }
  }
  std::vector<std::string> finals;
  for (size_t k = 0; k < sweep.stages.size(); ++k) {
    if (!needed[k]) {
      finals.push_back(sweep.stages[k].name);
      s.stage = static_cast<int>(k);
    }
  }
  if (finals.size() != 1) {
    return KeyError(c, "adaptive.target",
                    "an adaptive sweep fits the final stage's jobs (the one no other stage "
                    "needs), but this study has " +
                        std::to_string(finals.size()) + " final stages (" + Join(finals, ", ") +
                        "): make one stage need the others");
  }
  std::set<std::string> methods, tasks, llms;
  std::set<int64_t> tokens, qs;
  const StageSpec& final_stage = sweep.stages[s.stage];
  for (int64_t i = final_stage.first_job; i < final_stage.first_job + final_stage.job_count; ++i) {
    const JobSpec& j = sweep.jobs[i];
    methods.insert(j.point.method);
    tasks.insert(j.point.task);
    llms.insert(j.point.llm);
    tokens.insert(j.point.visual_tokens);
    qs.insert(j.text_tokens);
  }
  if (methods.size() > 1 || tasks.size() > 1) {
    return KeyError(c, "adaptive.target",
                    "an adaptive sweep fits one law: expected one grid.method and one grid.task, "
                    "got " +
                        std::to_string(methods.size()) + " methods and " +
                        std::to_string(tasks.size()) + " tasks (run one adaptive sweep each)");
  }
  if (llms.size() < 2 || tokens.size() < 2) {
    return KeyError(c, "adaptive.target",
                    "an adaptive sweep needs at least two grid.llm sizes and two "
                    "grid.visual_tokens values, got " +
                        std::to_string(llms.size()) + " and " + std::to_string(tokens.size()));
  }
  s.tolerance = c.GetDouble("adaptive.tolerance");
  if (!(s.tolerance > 0)) return KeyError(c, "adaptive.tolerance", "expected > 0, got 0");
  s.batch = static_cast<int>(c.GetInt("adaptive.batch"));
  s.seed = c.GetInt("adaptive.seed");
  s.bootstrap = static_cast<int>(c.GetInt("adaptive.bootstrap"));
  VLM_RETURN_IF_ERROR(ParseBudget(c, &s));
  VLM_RETURN_IF_ERROR(ParseInitial(c, &s));
  if (s.target == AdaptiveTargetKind::kError) {
    for (const char* k : {"adaptive.n", "adaptive.t"}) {
      if (!c.IsSet(k)) {
        return KeyError(c, "adaptive.target",
                        std::string("target = error needs ") + k +
                            " (where the error is wanted: N in parameters, T in visual tokens)");
      }
    }
    s.n = c.GetDouble("adaptive.n");
    s.t = c.GetDouble("adaptive.t");
    if (!(s.n > 0)) return KeyError(c, "adaptive.n", "expected > 0");
    if (!(s.t > 0)) return KeyError(c, "adaptive.t", "expected > 0");
    return s;
  }
  s.budget_points = static_cast<int>(c.GetInt("adaptive.budget_points"));
  const std::string budgets = Trim(c.GetString("adaptive.budgets"));
  for (const std::string& b :
       budgets.empty() ? std::vector<std::string>{} : SplitTrimmed(budgets, ',')) {
    std::optional<double> x = ParseDouble(b);
    if (!x || !(*x > 0)) {
      return KeyError(c, "adaptive.budgets",
                      "expected positive numbers (inference FLOPs 2 N (Q + T)), got '" + b + "'");
    }
    s.budgets.push_back(*x);
  }
  s.text_tokens = c.GetDouble("adaptive.text_tokens");
  if (!c.IsSet("adaptive.text_tokens")) {
    if (qs.size() != 1) {
      return KeyError(c, "adaptive.text_tokens",
                      "the grid's jobs have " + std::to_string(qs.size()) +
                          " different text token counts Q: set adaptive.text_tokens");
    }
    s.text_tokens = static_cast<double>(*qs.begin());
  }
  return s;
}

}  // namespace vlmscale::config
