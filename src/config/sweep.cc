#include "config/sweep.h"

#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <map>
#include <optional>
#include <set>
#include <unordered_set>

#include "config/adaptive.h"
#include "core/check.h"
#include "core/hash.h"
#include "core/strings.h"

namespace vlmscale::config {

namespace {

std::string ConfigName(const Config& c) { return c.path().empty() ? "config" : c.path(); }

std::string Origin(const Config& c, const std::string& key) { return c.Get(key).origin; }

// A rule: all conditions key=value must hold.
using Rule = std::vector<std::pair<std::string, std::string>>;

// The key [llm.NAME] lr sets.
constexpr char kPresetLrKey[] = "train.lr";

Result<std::vector<Rule>> ParseRules(const Config& c, const std::string& key,
                                     const std::vector<std::string>& swept) {
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
      if (std::find(GridAxes().begin(), GridAxes().end(), k) == GridAxes().end() &&
          std::find(swept.begin(), swept.end(), k) == swept.end()) {
        std::vector<std::string> known = GridAxes();
        known.insert(known.end(), swept.begin(), swept.end());
        std::string hint = ClosestMatch(k, known);
        return KeyError(c, key,
                        "unknown grid key '" + k + "' in rule '" + rule_text + "' (expected " +
                            Join(known, ", ") + ")" +
                            (hint.empty() ? "" : "; did you mean '" + hint + "'?"));
      }
      if (v.empty()) return KeyError(c, key, "empty value for '" + k + "' in '" + rule_text + "'");
      rule.emplace_back(k, v);
    }
    rules.push_back(rule);
  }
  return rules;
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
    const std::string have = AxisValue(p, k);
    if (have == v) continue;
    const std::optional<double> a = ParseDouble(have), b = ParseDouble(v);
    if (k.find('.') != std::string::npos && a && b && *a == *b) continue;  // 1e-3 = 0.001.
    return false;
  }
  return true;
}

}  // namespace

const std::vector<std::string>& GridAxes() {
  static const std::vector<std::string> k = {"llm", "visual_tokens", "method", "task", "seed"};
  return k;
}

std::string AxisValue(const GridPoint& p, const std::string& k) {
  if (k == "llm") return p.llm;
  if (k == "visual_tokens") return std::to_string(p.visual_tokens);
  if (k == "method") return p.method;
  if (k == "task") return p.task;
  if (k == "seed") return std::to_string(p.seed);
  for (const auto& [name, value] : p.axes) {
    if (name == k) return value;
  }
  for (const auto& [name, value] : p.settings) {
    if (name == k) return value;
  }
  return "";
}

std::vector<std::string> SweptSettingKeys(const Config& c) {
  std::vector<std::string> keys;
  for (const auto& [key, value] : c.values()) {
    if (StartsWith(key, "grid.") && key.find('.', 5) != std::string::npos) {
      keys.push_back(key.substr(5));
    }
  }
  if (std::find(keys.begin(), keys.end(), kPresetLrKey) == keys.end()) {
    for (const auto& name : c.UserLlmNames()) {
      if (c.IsSet("llm." + name + ".lr")) {
        keys.push_back(kPresetLrKey);
        break;
      }
    }
  }
  return keys;
}

bool StageSpec::Varies(const std::string& grid_axis) const {
  return std::find(over.begin(), over.end(), grid_axis) != over.end();
}

Status KeyError(const Config& c, const std::string& key, const std::string& msg) {
  return Status::InvalidInput(Origin(c, key) + ": key '" + key + "': " + msg);
}

Result<GridRules> GridRules::Parse(const Config& config, const std::string& key) {
  GridRules r;
  VLM_ASSIGN_OR_RETURN(r.rules_, ParseRules(config, key, SweptSettingKeys(config)));
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
  // A section that only sets lr for a built-in preset keeps the built-in shape.
  const bool shape_given = config.IsSet(prefix + "width") || config.IsSet(prefix + "depth") ||
                           config.IsSet(prefix + "n_params");
  bool builtin_exists = false;
  for (const auto& p : facts.builtin_llms) builtin_exists = builtin_exists || p.name == name;
  if (config.HasUserLlm(name) && (shape_given || !builtin_exists)) {
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
  std::vector<std::string> names = config.UserLlmNames();  // Only on this error path.
  names.insert(names.end(), builtin.begin(), builtin.end());
  std::string hint = ClosestMatch(name, names);
  return Status::InvalidInput("unknown llm preset '" + name + "' (built-in: " + Join(builtin, ", ") +
                              "; or define [llm." + name + "])" +
                              (hint.empty() ? "" : "; did you mean '" + hint + "'?"));
}

namespace {

std::string PresetText(const LlmPreset& llm) {
  return "llm.width=" + std::to_string(llm.width) + "\nllm.depth=" + std::to_string(llm.depth) +
         "\nllm.heads=" + std::to_string(llm.heads) + "\nllm.mlp_ratio=" +
         std::to_string(llm.mlp_ratio) + "\nllm.n_params=" + FormatNumber(llm.n_params, 17) +
         "\n";
}

}  // namespace

std::string JobIdentityText(const GridPoint& p, const LlmPreset& llm, const std::string& job_type,
                            const std::string& settings_text) {
  std::string t = "vlmscale-job-v1\n";
  t += "llm=" + p.llm + "\nvisual_tokens=" + std::to_string(p.visual_tokens) +
       "\nmethod=" + p.method + "\ntask=" + p.task + "\nseed=" + std::to_string(p.seed) + "\n";
  t += PresetText(llm);
  t += "job.type=" + job_type + "\n";
  return t + settings_text;
}

std::string StageJobIdentityText(const StageSpec& stage, const GridPoint& p, const LlmPreset& llm,
                                 const std::string& settings_text,
                                 const std::vector<std::string>& parent_ids) {
  std::string t = "vlmscale-stage-job-v1\nstage=" + stage.name + "\n";
  for (const auto& axis : stage.over) t += axis + "=" + AxisValue(p, axis) + "\n";
  if (stage.Varies("llm")) t += PresetText(llm);
  for (const auto& [name, value] : p.axes) t += "axis." + name + "=" + value + "\n";
  t += "job.type=" + stage.job_type + "\n" + settings_text;
  return t + "needs=" + Join(parent_ids, ",") + "\n";
}

std::string JobSettingsText(const Sweep& sweep, const JobSpec& job) {
  const StageSpec& stage = sweep.stage_of(job);
  // A sweep assembled without planners (tests of the driver) has only its job type to say.
  if (stage.planner == nullptr) return "job.type=" + stage.job_type + "\n";
  return "job.type=" + stage.job_type + "\n" + sweep.planner_of(job).IdentityText();
}

std::string JobRanksKey(const Config& c, const StageSpec& stage, const std::string& llm) {
  if (!stage.name.empty()) {
    std::string key = "stage." + stage.name + ".ranks";
    if (c.IsSet(key)) return key;
  }
  if (!llm.empty()) {
    std::string key = "llm." + llm + ".ranks";
    if (c.IsSet(key)) return key;
  }
  return "run.ranks_per_job";
}

SweepSettings ReadSweepSettings(const Config& c) {
  SweepSettings s;
  s.name = c.GetString("sweep.name");
  s.output = AbsolutePath(c.GetString("sweep.output"));
  s.job_type = c.GetString("job.type");
  s.ranks_per_job = c.GetInt("run.ranks_per_job");
  s.artifact_dir = c.GetString("run.artifact_dir");
  if (s.artifact_dir.empty()) {
    s.artifact_dir = s.output;
    if (EndsWith(s.artifact_dir, ".h5")) s.artifact_dir.resize(s.artifact_dir.size() - 3);
    s.artifact_dir += ".runs";
  }
  s.artifact_dir = AbsolutePath(s.artifact_dir);
  return s;
}

namespace {

bool Contains(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

}  // namespace

namespace {

// The point `p` seen by a stage that varies `stage.over` (other grid axes cleared).
GridPoint Project(const GridPoint& p, const StageSpec& stage) {
  GridPoint q;
  if (stage.Varies("llm")) {
    q.llm = p.llm;
    q.n_params = p.n_params;
  }
  if (stage.Varies("visual_tokens")) q.visual_tokens = p.visual_tokens;
  if (stage.Varies("method")) q.method = p.method;
  if (stage.Varies("task")) q.task = p.task;
  if (stage.Varies("seed")) q.seed = p.seed;
  for (const auto& kv : p.settings) {
    if (std::find(stage.swept.begin(), stage.swept.end(), kv.first) != stage.swept.end()) {
      q.settings.push_back(kv);
    }
  }
  return q;
}

// The values of `stage`'s axes (grid axes it varies, then its own) in `p`: the key that joins a
// child to its parent job.
std::string JoinKey(const GridPoint& p, const StageSpec& stage) {
  std::string k;
  for (const auto& axis : stage.over) k += axis + "=" + AxisValue(p, axis) + "\n";
  for (const auto& axis : stage.axes) k += axis.first + "=" + AxisValue(p, axis.first) + "\n";
  for (const auto& key : stage.swept) k += key + "=" + AxisValue(p, key) + "\n";
  return k;
}

using Combo = std::vector<std::pair<std::string, std::string>>;

// Every combination of the swept settings' values for the jobs of preset `llm` (its own lr
// list, else the [grid] list, else the config's one value), in `swept` order.
std::vector<Combo> CombosFor(const Config& c, const std::vector<std::string>& swept,
                             const std::string& llm) {
  std::vector<Combo> out = {Combo{}};
  for (const auto& key : swept) {
    std::vector<std::string> values;
    if (key == kPresetLrKey && c.IsSet("llm." + llm + ".lr")) {
      values = c.GetList("llm." + llm + ".lr");
    } else if (c.Has("grid." + key)) {
      values = c.GetList("grid." + key);
    } else {
      values = {c.Has(key) ? c.GetString(key) : ""};
    }
    std::vector<Combo> next;
    for (const auto& combo : out) {
      for (const auto& v : values) {
        Combo longer = combo;
        longer.emplace_back(key, v);
        next.push_back(std::move(longer));
      }
    }
    out = std::move(next);
  }
  return out;
}

// The config at one combination of swept values (each keeps the origin of the line that lists
// it, so that errors name it).
Config AtCombo(const Config& c, const Combo& combo) {
  std::vector<std::pair<std::string, Value>> values;
  for (const auto& [key, v] : combo) {
    std::string origin = c.Has("grid." + key) ? c.Get("grid." + key).origin : c.Get(key).origin;
    values.push_back({key, Value{v, origin}});
  }
  return c.WithValues(values);
}

std::string DescribeCombo(const Combo& combo) {
  std::vector<std::string> parts;
  for (const auto& [k, v] : combo) parts.push_back(k + "=" + v);
  return Join(parts, ", ");
}

// Every combination of the stage's own axes applied to `base`, in declared order.
std::vector<GridPoint> WithOwnAxes(const GridPoint& base, const StageSpec& stage) {
  std::vector<GridPoint> out = {base};
  for (const auto& [name, values] : stage.axes) {
    std::vector<GridPoint> next;
    for (const auto& p : out) {
      for (const auto& v : values) {
        GridPoint q = p;
        q.axes.emplace_back(name, v);
        next.push_back(q);
      }
    }
    out = std::move(next);
  }
  return out;
}

}  // namespace

Result<Sweep> PlanSweep(const Config& c, const GridFacts& facts,
                        const PlannerFactory& make_planner) {
  Sweep sweep;
  const SweepSettings settings = ReadSweepSettings(c);
  sweep.name = settings.name;
  // Config::FromString has checked sweep.name (a file name of printable UTF-8).
  sweep.output = settings.output;
  sweep.artifact_dir = settings.artifact_dir;

  VLM_RETURN_IF_ERROR(CheckNames(c, "grid.method", facts.methods, "method"));
  VLM_RETURN_IF_ERROR(CheckNames(c, "grid.task", facts.tasks, "task"));

  VLM_ASSIGN_OR_RETURN(sweep.stages, ReadStages(c));
  const bool multi = !sweep.stages.empty();
  if (!multi) {
    StageSpec only;
    only.job_type = settings.job_type;
    only.over = GridAxes();
    sweep.stages.push_back(only);
  }
  for (auto& stage : sweep.stages) {
    VLM_ASSIGN_OR_RETURN(stage.planner,
                         make_planner(multi ? c.StageView(stage.name) : c, stage));
    CHECK(stage.planner != nullptr);
    std::vector<std::string> missing;
    for (const auto& axis : stage.planner->RequiredAxes()) {
      if (!stage.Varies(axis)) missing.push_back(axis);
    }
    if (!missing.empty()) {
      return KeyError(c, "stage." + stage.name + ".over",
                      "a " + stage.job_type + " stage must vary " + Join(missing, ", ") +
                          " (its jobs read them); add " + (missing.size() > 1 ? "them" : "it") +
                          " to over");
    }
  }

  // LLM presets.
  std::vector<LlmPreset> llms;
  for (const auto& name : c.GetList("grid.llm")) {
    Result<LlmPreset> p = FindLlmPreset(c, facts, name);
    if (!p.ok()) return Status::InvalidInput(Origin(c, "grid.llm") + ": key 'grid.llm': " +
                                             p.status().message());
    if (!p->builtin) {
      for (const auto& stage : sweep.stages) {
        if (stage.Varies("llm")) VLM_RETURN_IF_ERROR(stage.planner->CheckPreset(c, *p));
      }
      if (p->n_params <= 0.0) {
        return Status::InvalidInput(ConfigName(c) + ": section [llm." + name +
                                    "] needs n_params, or width and depth, to know N");
      }
    }
    llms.push_back(*p);
  }
  sweep.llms = llms;

  const std::vector<std::string> swept = SweptSettingKeys(c);
  sweep.swept_keys = swept;
  VLM_ASSIGN_OR_RETURN(std::vector<Rule> excludes, ParseRules(c, "grid.exclude", swept));
  std::vector<std::pair<GridPoint, const LlmPreset*>> grid;
  std::vector<Combo> combos;  // Distinct combinations of swept values, in grid order.
  for (const auto& llm : llms) {
    for (const Combo& combo : CombosFor(c, swept, llm.name)) {
      for (const auto& vs : c.GetList("grid.visual_tokens")) {
        for (const auto& method : c.GetList("grid.method")) {
          for (const auto& task : c.GetList("grid.task")) {
            for (const auto& ss : c.GetList("grid.seed")) {
              GridPoint p{llm.name,      llm.n_params, *ParseInt(vs), method, task,
                          *ParseInt(ss), {},           combo};
              bool excluded = false;
              for (const auto& rule : excludes) excluded = excluded || RuleMatches(rule, p);
              if (excluded) continue;
              grid.emplace_back(p, &llm);
              if (std::find(combos.begin(), combos.end(), combo) == combos.end()) {
                combos.push_back(combo);
              }
            }
          }
        }
      }
    }
  }
  if (grid.empty()) {
    return KeyError(c, "grid.exclude", "every grid point is excluded: the grid is empty");
  }

  // Each stage's settings at every combination of swept values, deduplicated: a stage that does
  // not read a swept key (pretraining, for train.lr) keeps one job per point.
  std::vector<std::vector<int>> variant_of(sweep.stages.size());  // [stage][combo] -> variant.
  if (!swept.empty()) {
    for (size_t si = 0; si < sweep.stages.size(); ++si) {
      StageSpec& stage = sweep.stages[si];
      std::vector<std::string> texts;
      for (const Combo& combo : combos) {
        const Config at = AtCombo(c, combo);
        Result<std::shared_ptr<const JobTypePlanner>> planner =
            make_planner(multi ? at.StageView(stage.name) : at, stage);
        if (!planner.ok()) return planner.status().WithPrefix("at " + DescribeCombo(combo));
        const std::string text = (*planner)->IdentityText();
        auto it = std::find(texts.begin(), texts.end(), text);
        if (it == texts.end()) {
          texts.push_back(text);
          stage.variants.push_back(*planner);
          variant_of[si].push_back(static_cast<int>(stage.variants.size()) - 1);
        } else {
          variant_of[si].push_back(static_cast<int>(it - texts.begin()));
        }
      }
      // The keys that tell this stage's variants apart, and its parents' (their jobs differ).
      std::set<std::string> keys;
      for (const auto& need : stage.needs) {
        for (const auto& s : sweep.stages) {
          if (s.name == need) keys.insert(s.swept.begin(), s.swept.end());
        }
      }
      for (size_t a = 0; a < combos.size(); ++a) {
        for (size_t b = a + 1; b < combos.size(); ++b) {
          if (variant_of[si][a] == variant_of[si][b]) continue;
          for (size_t k = 0; k < swept.size(); ++k) {
            if (combos[a][k].second != combos[b][k].second) keys.insert(swept[k]);
          }
        }
      }
      for (const auto& key : swept) {
        if (keys.count(key)) stage.swept.push_back(key);
      }
    }
  }

  // Planning holds ~1 KB per job besides the jobs themselves; for large grids that is rank 0's
  // peak memory, so the per-job bookkeeping below is kept to what the stages need.
  std::unordered_set<uint64_t> ids;  // Each job id's value, to refuse duplicates.
  ids.reserve(grid.size());
  if (!multi) sweep.jobs.reserve(grid.size());
  std::vector<std::map<std::string, int64_t>> by_key(sweep.stages.size());  // Of needed stages.
  std::vector<bool> needed(sweep.stages.size(), false);
  for (const StageSpec& stage : sweep.stages) {
    for (size_t pi = 0; pi < sweep.stages.size(); ++pi) {
      if (Contains(stage.needs, sweep.stages[pi].name)) needed[pi] = true;
    }
  }
  for (size_t si = 0; si < sweep.stages.size(); ++si) {
    StageSpec& stage = sweep.stages[si];
    stage.first_job = static_cast<int64_t>(sweep.jobs.size());
    // A stage that varies every grid axis and every swept key projects distinct grid points to
    // distinct points (list values are distinct: Config refuses repeats), so it needs no set.
    const bool dedupe =
        stage.over.size() != GridAxes().size() || stage.swept.size() != swept.size();
    std::set<std::string> seen;
    for (const auto& [full, llm_ptr] : grid) {
      GridPoint projected = Project(full, stage);
      if (dedupe && !seen.insert(JoinKey(projected, stage)).second) continue;
      const LlmPreset llm = stage.Varies("llm") ? *llm_ptr : LlmPreset{};
      const int variant =
          swept.empty()
              ? -1
              : variant_of[si]
                          [std::find(combos.begin(), combos.end(), full.settings) - combos.begin()];
      const JobTypePlanner& planner = variant >= 0 ? *stage.variants[variant] : *stage.planner;
      const std::string settings_text = planner.IdentityText();
      // The schema bounds ranks keys to [1, 2^20].
      const int ranks = static_cast<int>(c.GetInt(JobRanksKey(c, stage, llm.name)));
      for (const GridPoint& p : WithOwnAxes(projected, stage)) {
        Status check = planner.CheckPoint(p, llm);
        if (!check.ok()) {
          return multi ? Status::InvalidInput("stage '" + stage.name + "': " + check.message())
                       : check;
        }
        JobSpec job;
        job.index = static_cast<int64_t>(sweep.jobs.size());
        job.point = p;
        job.llm = llm;
        job.stage = static_cast<int>(si);
        job.variant = variant;
        job.ranks = ranks;
        job.text_tokens = planner.TextTokens(p);
        job.inference_flops =
            2.0 * p.n_params * static_cast<double>(job.text_tokens + planner.VisualTokens(p));
        job.est_cost = planner.EstimateCost(p, job.text_tokens);
        std::vector<std::string> parent_ids;
        for (const auto& need : stage.needs) {
          size_t pi = 0;
          while (sweep.stages[pi].name != need) ++pi;
          auto it = by_key[pi].find(JoinKey(p, sweep.stages[pi]));
          if (it == by_key[pi].end()) {
            std::string values;
            for (const auto& [axis, value] : p.axes) values += " " + axis + "=" + value;
            return KeyError(c, "stage." + stage.name + ".needs",
                            "no job of stage '" + need + "' has the values" + values +
                                " (a child's own-axis values must be among its parent's)");
          }
          job.parents.push_back(it->second);
          parent_ids.push_back(sweep.jobs[it->second].id);
        }
        job.id = HexId(multi ? StageJobIdentityText(stage, p, llm, settings_text, parent_ids)
                             : JobIdentityText(p, llm, stage.job_type, settings_text));
        if (!ids.insert(std::stoull(job.id, nullptr, 16)).second) {
          return Status::InvalidInput("two grid points have the same job id " + job.id +
                                      " (duplicate grid values?)");
        }
        if (needed[si]) by_key[si][JoinKey(p, stage)] = job.index;
        sweep.max_est_cost = std::max(sweep.max_est_cost, job.est_cost);
        sweep.max_ranks = std::max(sweep.max_ranks, job.ranks);
        sweep.jobs.push_back(std::move(job));
      }
    }
    stage.job_count = static_cast<int64_t>(sweep.jobs.size()) - stage.first_job;
  }
  // [adaptive] is checked against the planned grid here; the driver reads it again to run it.
  VLM_RETURN_IF_ERROR(ReadAdaptiveSettings(c, sweep).status());
  return sweep;
}

}  // namespace vlmscale::config
