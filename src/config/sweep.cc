#include "config/sweep.h"

#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <map>
#include <set>

#include "core/hash.h"
#include "core/strings.h"

namespace vlmscale::config {

double LlmNonEmbeddingParams(int64_t width, int64_t depth, int64_t mlp_ratio) {
  const double d = static_cast<double>(width);
  const double r = static_cast<double>(mlp_ratio);
  const double attention = 4.0 * d * d + 4.0 * d;   // qkv (3d^2+3d) + out (d^2+d)
  const double mlp = 2.0 * r * d * d + r * d + d;   // d->rd (rd^2+rd) + rd->d (rd^2+d)
  const double norms = 4.0 * d;                     // two LayerNorms (weight+bias)
  return static_cast<double>(depth) * (attention + mlp + norms) + 2.0 * d;  // + final LayerNorm
}

const std::vector<LlmPreset>& BuiltinLlmPresets() {
  static const std::vector<LlmPreset> presets = [] {
    std::vector<LlmPreset> p = {
        {"nano", 32, 2, 2, 4, 0, true},   {"micro", 48, 3, 3, 4, 0, true},
        {"mini", 64, 4, 4, 4, 0, true},   {"small", 96, 6, 4, 4, 0, true},
        {"base", 128, 8, 8, 4, 0, true},
    };
    for (auto& x : p) x.n_params = LlmNonEmbeddingParams(x.width, x.depth, x.mlp_ratio);
    return p;
  }();
  return presets;
}

const std::vector<std::string>& KnownMethods() {
  static const std::vector<std::string> m = {"none", "avgpool", "tokenpacker", "quecc", "topk"};
  return m;
}

const std::vector<std::string>& KnownTasks() {
  static const std::vector<std::string> t = {"shapes", "glyphs"};
  return t;
}

const std::vector<std::string>& KnownJobTypes() {
  static const std::vector<std::string> t = {"sleep", "finetune_eval", "command"};
  return t;
}

int64_t TaskQuestionTokens(const std::string& task) {
  if (task == "shapes") return 8;
  if (task == "glyphs") return 8;
  return 0;
}

std::string CheckMethodTokens(const std::string& method, int64_t v, int64_t g) {
  const int64_t all = g * g;
  if (v < 1) return "at least 1 visual token";
  if (method == "none") {
    if (v != all) {
      return "method 'none' keeps all G*G = " + std::to_string(all) +
             " encoder tokens (model.grid_size = " + std::to_string(g) + "), so visual_tokens = " +
             std::to_string(all);
    }
    return "";
  }
  if (v > all) {
    return "at most G*G = " + std::to_string(all) + " visual tokens (model.grid_size = " +
           std::to_string(g) + ")";
  }
  if (method == "topk") return "";
  int64_t s = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(v))));
  if (s * s != v) {
    return "a perfect square for grid-based method '" + method + "' (1, 4, 9, 16, ...)";
  }
  if ((method == "tokenpacker" || method == "quecc") && g % s != 0) {
    return "sqrt(visual_tokens) dividing model.grid_size = " + std::to_string(g) + " for method '" +
           method + "' (each query covers a k x k region, k = G / sqrt(V))";
  }
  return "";
}

namespace {

const std::vector<std::string>& GridKeys() {
  static const std::vector<std::string> k = {"llm", "visual_tokens", "method", "task", "seed"};
  return k;
}

std::string ConfigName(const Config& c) { return c.path().empty() ? "config" : c.path(); }

std::string Origin(const Config& c, const std::string& key) { return c.Get(key).origin; }

Status KeyError(const Config& c, const std::string& key, const std::string& msg) {
  return Status::InvalidInput(Origin(c, key) + ": key '" + key + "': " + msg);
}

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

Result<bool> PointMatchesRules(const Config& config, const std::string& key, const GridPoint& p) {
  VLM_ASSIGN_OR_RETURN(std::vector<Rule> rules, ParseRules(config, key));
  for (const auto& rule : rules) {
    if (RuleMatches(rule, p)) return true;
  }
  return false;
}

Result<LlmPreset> FindLlmPreset(const Config& config, const std::string& name) {
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
      p.n_params = LlmNonEmbeddingParams(p.width, p.depth, p.mlp_ratio);
    }
    return p;
  }
  for (const auto& p : BuiltinLlmPresets()) {
    if (p.name == name) return p;
  }
  std::vector<std::string> names = user;
  for (const auto& p : BuiltinLlmPresets()) names.push_back(p.name);
  std::string hint = ClosestMatch(name, names);
  return Status::InvalidInput("unknown llm preset '" + name + "' (built-in: nano, micro, mini, " +
                              "small, base; or define [llm." + name + "])" +
                              (hint.empty() ? "" : "; did you mean '" + hint + "'?"));
}

std::string JobIdentityText(const Config& config, const GridPoint& p, const LlmPreset& llm) {
  std::string t = "vlmscale-job-v1\n";
  t += "llm=" + p.llm + "\nvisual_tokens=" + std::to_string(p.visual_tokens) +
       "\nmethod=" + p.method + "\ntask=" + p.task + "\nseed=" + std::to_string(p.seed) + "\n";
  t += "llm.width=" + std::to_string(llm.width) + "\nllm.depth=" + std::to_string(llm.depth) +
       "\nllm.heads=" + std::to_string(llm.heads) + "\nllm.mlp_ratio=" +
       std::to_string(llm.mlp_ratio) + "\nllm.n_params=" + FormatNumber(llm.n_params, 17) + "\n";
  const std::string& type = config.GetString("job.type");
  t += "job.type=" + type + "\n";
  if (type == "sleep") {
    t += config.SectionText("sleep");
  } else if (type == "command") {
    t += config.SectionText("command");
  } else {
    std::string model = config.SectionText("model");
    // The cache location does not change results.
    std::string filtered;
    for (const auto& line : SplitTrimmed(model, '\n')) {
      if (!line.empty() && !StartsWith(line, "model.cache_dir=")) filtered += line + "\n";
    }
    t += filtered + config.SectionText("train") + config.SectionText("eval");
  }
  return t;
}

Result<Sweep> PlanSweep(const Config& c) {
  Sweep sweep;
  sweep.name = c.GetString("sweep.name");
  if (Trim(sweep.name).empty()) return KeyError(c, "sweep.name", "expected a non-empty name");
  sweep.output = AbsolutePath(c.GetString("sweep.output"));
  sweep.job_type = c.GetString("job.type");

  VLM_RETURN_IF_ERROR(CheckNames(c, "grid.method", KnownMethods(), "method"));
  VLM_RETURN_IF_ERROR(CheckNames(c, "grid.task", KnownTasks(), "task"));

  // LLM presets.
  std::vector<LlmPreset> llms;
  for (const auto& name : c.GetList("grid.llm")) {
    Result<LlmPreset> p = FindLlmPreset(c, name);
    if (!p.ok()) return Status::InvalidInput(Origin(c, "grid.llm") + ": key 'grid.llm': " +
                                             p.status().message());
    bool user = !p->builtin;
    std::string prefix = "llm." + name + ".";
    if (user && sweep.job_type == "finetune_eval") {
      for (const char* k : {"width", "depth", "heads"}) {
        if (!c.IsSet(prefix + k)) {
          return Status::InvalidInput(ConfigName(c) + ": missing required key '" + k +
                                      "' in section [llm." + name +
                                      "] (finetune_eval builds the model from it)");
        }
      }
      if (c.IsSet(prefix + "n_params")) {
        return KeyError(c, prefix + "n_params",
                        "not allowed for finetune_eval jobs (N is computed from width, depth and "
                        "mlp_ratio); remove it");
      }
      if (p->width % p->heads != 0) {
        return KeyError(c, prefix + "heads",
                        "expected a divisor of width = " + std::to_string(p->width) + ", got " +
                            std::to_string(p->heads));
      }
    }
    if (user && p->n_params <= 0.0) {
      return Status::InvalidInput(ConfigName(c) +
                                  ": section [llm." + name +
                                  "] needs n_params, or width and depth, to know N");
    }
    llms.push_back(*p);
  }
  sweep.llms = llms;

  if (sweep.job_type == "command" && !c.Has("command.argv")) {
    return Status::InvalidInput(ConfigName(c) +
                                ": missing required key 'argv' in section [command] "
                                "(job.type = command)");
  }

  const int64_t g = c.GetInt("model.grid_size");
  for (const auto& m : c.GetList("grid.method")) {
    for (const auto& vs : c.GetList("grid.visual_tokens")) {
      int64_t v = *ParseInt(vs);
      std::string expected = CheckMethodTokens(m, v, g);
      if (!expected.empty()) {
        return KeyError(c, "grid.visual_tokens",
                        "method '" + m + "' cannot produce " + vs + " visual tokens: expected " +
                            expected);
      }
    }
  }

  VLM_ASSIGN_OR_RETURN(std::vector<Rule> excludes, ParseRules(c, "grid.exclude"));
  // Sleep's fail/hang rules are validated here too so mistakes surface at plan time.
  VLM_RETURN_IF_ERROR(ParseRules(c, "sleep.fail").status());
  VLM_RETURN_IF_ERROR(ParseRules(c, "sleep.hang").status());

  const int64_t steps = c.GetInt("train.steps");
  const int64_t batch = c.GetInt("train.batch_size");
  const double vision_width = static_cast<double>(c.GetInt("model.vision_width"));
  const double encoder_params =
      static_cast<double>(c.GetInt("model.encoder_depth")) * 12.0 * vision_width * vision_width;

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
            JobSpec job;
            job.index = index++;
            job.point = p;
            job.text_tokens = sweep.job_type == "command" ? c.GetInt("command.text_tokens")
                                                          : TaskQuestionTokens(task);
            const double tokens = static_cast<double>(job.text_tokens + p.visual_tokens);
            job.inference_flops = 2.0 * p.n_params * tokens;
            // Training FLOPs: forward+backward through the LLM (6*N per token) plus the frozen
            // encoder's forward over all G*G patches, per example and step.
            double per_example = 6.0 * p.n_params * tokens;
            if (sweep.job_type == "finetune_eval") {
              per_example += 2.0 * encoder_params * static_cast<double>(g * g);
            }
            job.est_cost = per_example * static_cast<double>(steps * batch);
            job.id = HexId(JobIdentityText(c, p, llm));
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
  return sweep;
}

}  // namespace vlmscale::config
