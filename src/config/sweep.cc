#include "config/sweep.h"

#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <map>
#include <set>

#include "core/check.h"
#include "core/hash.h"
#include "core/strings.h"

namespace vlmscale::config {

namespace {

const std::vector<std::string>& GridKeys() {
  static const std::vector<std::string> k = {"llm", "visual_tokens", "method", "task", "seed"};
  return k;
}

std::string ConfigName(const Config& c) { return c.path().empty() ? "config" : c.path(); }

std::string Origin(const Config& c, const std::string& key) { return c.Get(key).origin; }

// A rule: all conditions key=value must hold.
using Rule = std::vector<std::pair<std::string, std::string>>;

Result<std::vector<Rule>> ParseRules(const Config& c, const std::string& key) {
  std::vector<Rule> rules;
  const std::string& text = c.GetString(key);
  if (Trim(text).empty()) return rules;
  for (const auto& rule_text : SplitTrimmed(text, ';')) {
    if (rule_text.empty()) continue;
    Rule rule;
    for (const auto& cond : SplitTrimmed(rule_text, ',')) {
      size_t eq = cond.find('=');
      if (eq == std::string::npos) {
        return KeyError(c, key, "expected conditions of the form key=value, got '" + cond + "'");
      }
      std::string k = Trim(cond.substr(0, eq));
      std::string v = Trim(cond.substr(eq + 1));
      if (std::find(GridKeys().begin(), GridKeys().end(), k) == GridKeys().end()) {
        std::string hint = ClosestMatch(k, GridKeys());
        return KeyError(c, key,
                        "unknown grid key '" + k + "' in rule '" + rule_text + "' (expected " +
                            Join(GridKeys(), ", ") + ")" +
                            (hint.empty() ? "" : "; did you mean '" + hint + "'?"));
      }
      if (v.empty()) return KeyError(c, key, "empty value for '" + k + "' in '" + rule_text + "'");
      rule.emplace_back(k, v);
    }
    rules.push_back(rule);
  }
  return rules;
}

std::string PointValue(const GridPoint& p, const std::string& k) {
  if (k == "llm") return p.llm;
  if (k == "visual_tokens") return std::to_string(p.visual_tokens);
  if (k == "method") return p.method;
  if (k == "task") return p.task;
  return std::to_string(p.seed);
}

Status CheckNames(const Config& c, const std::string& key, const std::vector<std::string>& known,
                  const std::string& what) {
  for (const auto& v : c.GetList(key)) {
    if (std::find(known.begin(), known.end(), v) != known.end()) continue;
    std::string hint = ClosestMatch(v, known);
    return KeyError(c, key,
                    "unknown " + what + " '" + v + "' (expected one of " + Join(known, ", ") + ")" +
                        (hint.empty() ? "" : "; did you mean '" + hint + "'?"));
  }
  return Status::OK();
}

std::string AbsolutePath(const std::string& path) {
  if (!path.empty() && path[0] == '/') return path;
  char buf[PATH_MAX];
  if (getcwd(buf, sizeof(buf)) == nullptr) return path;
  return std::string(buf) + "/" + path;
}

bool RuleMatches(const Rule& rule, const GridPoint& p) {
  for (const auto& [k, v] : rule) {
    if (PointValue(p, k) != v) return false;
  }
  return true;
}

}  // namespace

Status KeyError(const Config& c, const std::string& key, const std::string& msg) {
  return Status::InvalidInput(Origin(c, key) + ": key '" + key + "': " + msg);
}

Result<GridRules> GridRules::Parse(const Config& config, const std::string& key) {
  GridRules r;
  VLM_ASSIGN_OR_RETURN(r.rules_, ParseRules(config, key));
  return r;
}

bool GridRules::Matches(const GridPoint& p) const {
  for (const auto& rule : rules_) {
    if (RuleMatches(rule, p)) return true;
  }
  return false;
}

Result<LlmPreset> FindLlmPreset(const Config& config, const GridFacts& facts,
                                const std::string& name) {
  std::string prefix = "llm." + name + ".";
  auto user = config.UserLlmNames();
  if (std::find(user.begin(), user.end(), name) != user.end()) {
    LlmPreset p;
    p.name = name;
    auto get = [&](const char* k) -> int64_t {
      return config.Has(prefix + k) ? config.GetInt(prefix + k) : 0;
    };
    p.width = get("width");
    p.depth = get("depth");
    p.heads = get("heads");
    p.mlp_ratio = get("mlp_ratio");
    if (config.Has(prefix + "n_params")) {
      p.n_params = config.GetDouble(prefix + "n_params");
    } else if (p.width > 0 && p.depth > 0) {
      p.n_params = facts.n_params(p.width, p.depth, p.mlp_ratio);
    }
    return p;
  }
  std::vector<std::string> builtin;
  for (const auto& p : facts.builtin_llms) {
    if (p.name == name) return p;
    builtin.push_back(p.name);
  }
  std::vector<std::string> names = user;
  names.insert(names.end(), builtin.begin(), builtin.end());
  std::string hint = ClosestMatch(name, names);
  return Status::InvalidInput("unknown llm preset '" + name + "' (built-in: " + Join(builtin, ", ") +
                              "; or define [llm." + name + "])" +
                              (hint.empty() ? "" : "; did you mean '" + hint + "'?"));
}

std::string JobIdentityText(const GridPoint& p, const LlmPreset& llm, const std::string& job_type,
                            const std::string& settings_text) {
  std::string t = "vlmscale-job-v1\n";
  t += "llm=" + p.llm + "\nvisual_tokens=" + std::to_string(p.visual_tokens) +
       "\nmethod=" + p.method + "\ntask=" + p.task + "\nseed=" + std::to_string(p.seed) + "\n";
  t += "llm.width=" + std::to_string(llm.width) + "\nllm.depth=" + std::to_string(llm.depth) +
       "\nllm.heads=" + std::to_string(llm.heads) + "\nllm.mlp_ratio=" +
       std::to_string(llm.mlp_ratio) + "\nllm.n_params=" + FormatNumber(llm.n_params, 17) + "\n";
  t += "job.type=" + job_type + "\n";
  return t + settings_text;
}

SweepSettings ReadSweepSettings(const Config& c) {
  SweepSettings s;
  s.name = c.GetString("sweep.name");
  s.output = AbsolutePath(c.GetString("sweep.output"));
  s.job_type = c.GetString("job.type");
  s.ranks_per_job = c.GetInt("run.ranks_per_job");
  return s;
}

Result<Sweep> PlanSweep(const Config& c, const GridFacts& facts,
                        std::shared_ptr<const JobTypePlanner> planner_ptr) {
  CHECK(planner_ptr != nullptr);
  const JobTypePlanner& planner = *planner_ptr;
  Sweep sweep;
  const SweepSettings settings = ReadSweepSettings(c);
  sweep.name = settings.name;
  if (Trim(sweep.name).empty()) return KeyError(c, "sweep.name", "expected a non-empty name");
  sweep.output = settings.output;
  sweep.job_type = settings.job_type;

  VLM_RETURN_IF_ERROR(CheckNames(c, "grid.method", facts.methods, "method"));
  VLM_RETURN_IF_ERROR(CheckNames(c, "grid.task", facts.tasks, "task"));

  // LLM presets.
  std::vector<LlmPreset> llms;
  for (const auto& name : c.GetList("grid.llm")) {
    Result<LlmPreset> p = FindLlmPreset(c, facts, name);
    if (!p.ok()) return Status::InvalidInput(Origin(c, "grid.llm") + ": key 'grid.llm': " +
                                             p.status().message());
    if (!p->builtin) {
      VLM_RETURN_IF_ERROR(planner.CheckPreset(c, *p));
      if (p->n_params <= 0.0) {
        return Status::InvalidInput(ConfigName(c) + ": section [llm." + name +
                                    "] needs n_params, or width and depth, to know N");
      }
    }
    llms.push_back(*p);
  }
  sweep.llms = llms;

  VLM_ASSIGN_OR_RETURN(std::vector<Rule> excludes, ParseRules(c, "grid.exclude"));

  const std::string settings_text = planner.IdentityText();
  std::set<std::string> ids;
  int64_t index = 0;
  for (const auto& llm : llms) {
    for (const auto& vs : c.GetList("grid.visual_tokens")) {
      for (const auto& method : c.GetList("grid.method")) {
        for (const auto& task : c.GetList("grid.task")) {
          for (const auto& ss : c.GetList("grid.seed")) {
            GridPoint p{llm.name, llm.n_params, *ParseInt(vs), method, task, *ParseInt(ss)};
            bool excluded = false;
            for (const auto& rule : excludes) excluded = excluded || RuleMatches(rule, p);
            if (excluded) continue;
            VLM_RETURN_IF_ERROR(planner.CheckPoint(p, llm));
            JobSpec job;
            job.index = index++;
            job.point = p;
            job.llm = llm;
            job.text_tokens = planner.TextTokens(p);
            job.inference_flops =
                2.0 * p.n_params * static_cast<double>(job.text_tokens + p.visual_tokens);
            job.est_cost = planner.EstimateCost(p, job.text_tokens);
            job.id = HexId(JobIdentityText(p, llm, sweep.job_type, settings_text));
            if (!ids.insert(job.id).second) {
              return Status::InvalidInput("two grid points have the same job id " + job.id +
                                          " (duplicate grid values?)");
            }
            sweep.max_est_cost = std::max(sweep.max_est_cost, job.est_cost);
            sweep.jobs.push_back(job);
          }
        }
      }
    }
  }
  if (sweep.jobs.empty()) {
    return KeyError(c, "grid.exclude", "every grid point is excluded: the grid is empty");
  }
  sweep.planner = std::move(planner_ptr);
  return sweep;
}

}  // namespace vlmscale::config
