// command jobs' command lines: splitting, placeholders, the [command] options and their
// plan-time check (command_job.h).
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "config/options_table.h"
#include "config/sweep.h"
#include "core/strings.h"
#include "jobs/command/command_job.h"

namespace vlmscale::jobs {
namespace command {

namespace {

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

bool IsEnvName(const std::string& s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  }
  return true;
}

}  // namespace

// Printable excerpt of untrusted text for messages.
std::string Excerpt(const std::string& s, size_t n) {
  std::string out;
  for (char c : s.substr(0, n)) {
    out += std::isprint(static_cast<unsigned char>(c)) ? c : '?';
  }
  if (s.size() > n) out += "...";
  return out;
}

Result<std::vector<std::string>> SplitCommandLine(const std::string& text, const std::string& what,
                                                  bool allow_empty) {
  std::vector<std::string> words;
  std::string cur;
  bool in_word = false, quoted = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\\' && i + 1 < text.size() && (text[i + 1] == '"' || text[i + 1] == '\\')) {
      cur += text[++i];
      in_word = true;
    } else if (c == '"') {
      quoted = !quoted;
      in_word = true;
    } else if (!quoted && (c == ' ' || c == '\t' || c == '\n' || c == '\r')) {
      if (in_word) words.push_back(cur);
      cur.clear();
      in_word = false;
    } else {
      cur += c;
      in_word = true;
    }
  }
  if (quoted) {
    return Status::InvalidInput(what +
                                ": unterminated double quote; close it with \" (write \\\" "
                                "for a literal quote)");
  }
  if (in_word) words.push_back(cur);
  if (words.empty() && !allow_empty) {
    return Status::InvalidInput(what + ": expected a program and its arguments, got nothing");
  }
  return words;
}

namespace {

const char* const kFixedNames[] = {"job_id", "run_dir", "job_dir", "attempt", "text_tokens"};

// The names a job of `scope` knows, for "unknown placeholder" messages.
std::string KnownNames(const StageScope& scope) {
  std::vector<std::string> known;
  for (const auto& axis : config::GridAxes()) {
    if (!Contains(scope.over, axis)) continue;
    known.push_back(axis);
    if (axis == "llm") known.push_back("n_params");
  }
  for (const char* k : kFixedNames) known.push_back(k);
  if (!scope.stage.empty()) {
    known.push_back("stage");
    for (const auto& a : scope.own_axes) known.push_back(a);
    for (const auto& n : scope.needs) {
      for (const char* f : {"run_dir", "job_dir", "job_id", "metric.KEY"}) {
        known.push_back("needs." + n + "." + f);
      }
    }
  }
  return Join(known, ", ") + ", or any section.key of the config";
}

// "stage 'eval'" (or "this one-stage study").
std::string StageWords(const StageScope& scope) {
  return scope.stage.empty() ? std::string("this one-stage study") : "stage '" + scope.stage + "'";
}

// Why `name` (not in the values) cannot be expanded.
Status UnknownPlaceholder(const std::string& name, const Placeholders& p, const std::string& what) {
  const StageScope& scope = p.scope;
  const std::string ph = "{" + Excerpt(name) + "}";
  if (StartsWith(name, "needs.")) {
    const std::string rest = name.substr(6);
    const size_t dot = rest.find('.');
    const std::string stage = rest.substr(0, dot);
    const std::string field = dot == std::string::npos ? "" : rest.substr(dot + 1);
    const bool metric = StartsWith(field, "metric.") && IsMetricName(field.substr(7));
    if (stage.empty() ||
        !(field == "run_dir" || field == "job_dir" || field == "job_id" || metric)) {
      return Status::InvalidInput(
          what + ": malformed placeholder " + ph +
          "; expected {needs.STAGE.run_dir}, {needs.STAGE.job_dir}, {needs.STAGE.job_id} or "
          "{needs.STAGE.metric.KEY} (KEY: 1-64 of letters, digits, '_', '.', '-')");
    }
    if (!Contains(scope.needs, stage)) {
      std::string hint = ClosestMatch(stage, scope.needs);
      return Status::InvalidInput(
          what + ": placeholder " + ph + " names stage '" + Excerpt(stage) + "', which " +
          StageWords(scope) + " does not need" +
          (scope.needs.empty() ? std::string(" (it needs no stage)")
                               : " (needs = " + Join(scope.needs, ", ") + ")") +
          (hint.empty() ? "" : "; did you mean {needs." + hint + "." + field + "}?"));
    }
    const auto job = p.values.find("needs." + stage + ".job_id");
    if (job == p.values.end()) {
      return Status::Runtime(what + ": placeholder " + ph + ": no job of stage '" + stage +
                             "' was handed to this job (JobInput::parents); the driver starts a "
                             "job only after its parents are done, so report this as a bug");
    }
    // A metric the parent did not record.
    const std::string prefix = "needs." + stage + ".metric.";
    std::vector<std::string> recorded;
    for (auto it = p.values.lower_bound(prefix);
         it != p.values.end() && StartsWith(it->first, prefix); ++it) {
      recorded.push_back(it->first.substr(prefix.size()));
    }
    return Status::Runtime(
        what + ": placeholder " + ph + ": job " + job->second + " of stage '" + stage +
        "' recorded no metric '" + Excerpt(field.substr(7)) +
        "' (it recorded: " + (recorded.empty() ? std::string("none") : Join(recorded, ", ")) +
        "); have that stage's program write it to its metrics.json, or name "
        "one of these");
  }
  const bool grid_axis = Contains(config::GridAxes(), name);
  if ((grid_axis && !Contains(scope.over, name)) ||
      (name == "n_params" && !Contains(scope.over, "llm"))) {
    const std::string axis = grid_axis ? name : "llm";
    return Status::InvalidInput(
        what + ": placeholder " + ph +
        (grid_axis ? " names grid axis '" : " belongs to grid axis '") + axis + "', which " +
        StageWords(scope) + " does not vary (over = " + Join(scope.over, ", ") + "); add " + axis +
        " to stage." + scope.stage + ".over or remove the placeholder");
  }
  std::vector<std::string> names;
  for (const auto& kv : p.values) names.push_back(kv.first);
  std::string close = ClosestMatch(name, names);
  return Status::InvalidInput(what + ": unknown placeholder " + ph +
                              (close.empty() ? "" : "; did you mean {" + close + "}?") +
                              " (known: " + KnownNames(scope) + ")");
}

}  // namespace

Result<std::string> ExpandPlaceholders(const std::string& word, const Placeholders& p,
                                       const std::string& what) {
  std::string out;
  for (size_t i = 0; i < word.size(); ++i) {
    char c = word[i];
    if (c == '{' && i + 1 < word.size() && word[i + 1] == '{') {
      out += '{';
      ++i;
    } else if (c == '}' && i + 1 < word.size() && word[i + 1] == '}') {
      out += '}';
      ++i;
    } else if (c == '{') {
      size_t end = word.find('}', i + 1);
      if (end == std::string::npos) {
        return Status::InvalidInput(what + ": unmatched '{' in '" + Excerpt(word) +
                                    "' (write {{ for a literal brace)");
      }
      std::string name = word.substr(i + 1, end - i - 1);
      auto it = p.values.find(name);
      if (it != p.values.end()) {
        out += it->second;
      } else if (p.any_metric && StartsWith(name, "needs.")) {
        // Plan time: a well-formed metric of a needed stage is accepted.
        const std::string rest = name.substr(6);
        const std::string stage = rest.substr(0, rest.find('.'));
        const std::string prefix = stage + ".metric.";
        if (!Contains(p.scope.needs, stage) || !StartsWith(rest, prefix) ||
            !IsMetricName(rest.substr(prefix.size()))) {
          return UnknownPlaceholder(name, p, what);
        }
        out += "x";
      } else {
        return UnknownPlaceholder(name, p, what);
      }
      i = end;
    } else if (c == '}') {
      return Status::InvalidInput(what + ": unmatched '}' in '" + Excerpt(word) +
                                  "' (write }} for a literal brace)");
    } else {
      out += c;
    }
  }
  return out;
}

Result<std::string> ExpandPlaceholders(const std::string& word,
                                       const std::map<std::string, std::string>& values,
                                       const std::string& what) {
  Placeholders p;
  p.values = values;
  return ExpandPlaceholders(word, p, what);
}

StageScope ScopeOf(const config::StageSpec& stage) {
  StageScope scope;
  scope.stage = stage.name;
  scope.over = stage.over;
  for (const auto& axis : stage.axes) scope.own_axes.push_back(axis.first);
  scope.needs = stage.needs;
  return scope;
}

Placeholders PlaceholderValues(const JobInput& input, const StageScope& scope) {
  Placeholders out;
  out.scope = scope;
  std::map<std::string, std::string>& v = out.values;
  for (const auto& kv : input.config->values()) v[kv.first] = kv.second.text;
  const config::GridPoint& p = input.spec->point;
  auto axis = [&](const char* name, std::string value) {
    if (Contains(scope.over, name)) v[name] = std::move(value);
  };
  axis("llm", p.llm);
  if (Contains(scope.over, "llm")) v["n_params"] = ShortestNumber(p.n_params);
  axis("visual_tokens", std::to_string(p.visual_tokens));
  axis("method", p.method);
  axis("task", p.task);
  axis("seed", std::to_string(p.seed));
  v["job_id"] = input.spec->id;
  v["run_dir"] = input.run_dir;
  v["job_dir"] = input.job_dir;
  v["attempt"] = std::to_string(input.attempt);
  v["text_tokens"] = std::to_string(input.spec->text_tokens);
  if (scope.stage.empty()) return out;
  v["stage"] = scope.stage;
  for (const auto& name : scope.own_axes) v[name] = config::AxisValue(p, name);
  for (const auto& parent : input.parents) {
    if (!Contains(scope.needs, parent.stage)) continue;
    const std::string prefix = "needs." + parent.stage + ".";
    v[prefix + "run_dir"] = parent.dir;
    v[prefix + "job_dir"] = parent.dir;
    v[prefix + "job_id"] = parent.job_id;
    for (const auto& [key, value] : parent.metrics) {
      v[prefix + "metric." + key] = ShortestNumber(value);
    }
  }
  return out;
}

std::string EnvNamePart(const std::string& name) {
  std::string out;
  for (char c : name) {
    out += std::isalnum(static_cast<unsigned char>(c))
               ? static_cast<char>(std::toupper(static_cast<unsigned char>(c)))
               : '_';
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> StageEnvironment(const JobInput& input,
                                                                  const StageScope& scope) {
  std::vector<std::pair<std::string, std::string>> env;
  if (scope.stage.empty()) return env;
  env.emplace_back("VLMSCALE_STAGE", scope.stage);
  for (const auto& name : scope.own_axes) {
    env.emplace_back("VLMSCALE_AXIS_" + EnvNamePart(name),
                     config::AxisValue(input.spec->point, name));
  }
  for (const auto& parent : input.parents) {
    if (!Contains(scope.needs, parent.stage)) continue;
    const std::string prefix = "VLMSCALE_NEEDS_" + EnvNamePart(parent.stage) + "_";
    env.emplace_back(prefix + "RUN_DIR", parent.dir);
    env.emplace_back(prefix + "JOB_ID", parent.job_id);
  }
  return env;
}

Result<CommandLine> ExpandCommand(const CommandOptions& o,
                                  const std::map<std::string, std::string>& values) {
  Placeholders p;
  p.values = values;
  return ExpandCommand(o, p);
}

Result<CommandLine> ExpandCommand(const CommandOptions& o, const Placeholders& values) {
  CommandLine out;
  if (o.argv_origin.empty()) {
    return Status::InvalidInput("missing required key 'argv' in section [command]");
  }
  const std::string argv_what = o.argv_key + " (" + o.argv_origin + ")";
  VLM_ASSIGN_OR_RETURN(std::vector<std::string> words, SplitCommandLine(o.argv, argv_what, false));
  for (const auto& w : words) {
    VLM_ASSIGN_OR_RETURN(std::string e, ExpandPlaceholders(w, values, argv_what));
    out.argv.push_back(std::move(e));
  }
  if (out.argv[0].empty()) return Status::InvalidInput(argv_what + ": the program name is empty");
  const std::string env_what = o.env_key + " (" + o.env_origin + ")";
  VLM_ASSIGN_OR_RETURN(std::vector<std::string> pairs, SplitCommandLine(o.env, env_what, true));
  for (const auto& pr : pairs) {
    size_t eq = pr.find('=');
    std::string name = pr.substr(0, eq);
    if (eq == std::string::npos || !IsEnvName(name)) {
      return Status::InvalidInput(env_what +
                                  ": expected NAME=value with NAME of letters, digits "
                                  "and '_', got '" +
                                  Excerpt(pr) + "'");
    }
    VLM_ASSIGN_OR_RETURN(std::string value,
                         ExpandPlaceholders(pr.substr(eq + 1), values, env_what));
    out.env.emplace_back(name, std::move(value));
  }
  return out;
}

namespace {

const config::OptionsTable<CommandOptions>& Table() {
  using O = CommandOptions;
  static const auto* table = [] {
    auto* t = new config::OptionsTable<O>("command");
    t->String(
        "command.argv", "argv", [](O& o) -> std::string& { return o.argv; },
        "Program and arguments (space-separated, double quotes group), with "
        "{placeholders}. Required for command jobs.",
        /*required=*/true);
    t->String(
        "command.env", "env", [](O& o) -> std::string& { return o.env; },
        "Extra environment, 'NAME=value' pairs separated by spaces (placeholders "
        "allowed).");
    t->String(
        "command.metric", "metric", [](O& o) -> std::string& { return o.metric; },
        "Key of metrics.json holding the error Y (or 'accuracy': error = 1 - accuracy).");
    t->Double(
        "command.timeout_seconds", "timeout_seconds",
        [](O& o) -> double& { return o.timeout_seconds; }, 0.0, config::kMaxSeconds,
        "Kill an attempt after this long (0: no limit).");
    t->Int(
        "command.text_tokens", "text_tokens", [](O& o) -> int64_t& { return o.text_tokens; }, 0.0,
        config::kMaxTokens, "Q used for inference FLOPs 2*N*(Q+V) of command jobs.");
    return t;
  }();
  return *table;
}

}  // namespace

std::vector<config::KeySpec> CommandKeys() { return Table().keys(); }

CommandOptions ReadCommandOptions(const config::Config& config, const std::string& stage) {
  CommandOptions o;
  Table().Read(config, &o);
  if (config.Has("command.argv")) o.argv_origin = config.Get("command.argv").origin;
  o.env_origin = config.Get("command.env").origin;
  if (!stage.empty()) {
    const std::string prefix = "stage." + stage + ".";
    if (config.IsSet(prefix + "command.argv")) o.argv_key = prefix + "command.argv";
    if (config.IsSet(prefix + "command.env")) o.env_key = prefix + "command.env";
  }
  return o;
}

Status ValidateCommandConfig(const config::Config& config) {
  config::StageSpec only;
  only.over = config::GridAxes();
  return ValidateCommandConfig(config, only);
}

Status ValidateCommandConfig(const config::Config& config, const config::StageSpec& stage) {
  const StageScope scope = ScopeOf(stage);
  const std::string p = "stage." + stage.name + ".";
  std::map<std::string, std::string> env_names;  // Environment name part -> axis or stage.
  for (const auto& axis : scope.own_axes) {
    for (const char* k : kFixedNames) {
      if (axis != k) continue;
      return config::KeyError(config, p + "axis." + axis,
                              "'" + axis + "' is a placeholder of every command job ({" + axis +
                                  "}); name the axis differently");
    }
    auto [it, added] = env_names.emplace(EnvNamePart(axis), axis);
    if (!added) {
      return config::KeyError(config, p + "axis." + axis,
                              "axes '" + it->second + "' and '" + axis +
                                  "' would both be VLMSCALE_AXIS_" + it->first +
                                  " in the program's environment; rename one");
    }
  }
  env_names.clear();
  for (const auto& need : scope.needs) {
    auto [it, added] = env_names.emplace(EnvNamePart(need), need);
    if (!added) {
      return config::KeyError(config, p + "needs",
                              "stages '" + it->second + "' and '" + need +
                                  "' would both be VLMSCALE_NEEDS_" + it->first +
                                  "_* in the program's environment; rename one");
    }
  }
  Placeholders values;
  values.scope = scope;
  values.any_metric = true;
  for (const auto& kv : config.values()) values.values[kv.first] = kv.second.text;
  for (const auto& axis : config::GridAxes()) {
    if (Contains(scope.over, axis)) values.values[axis] = "x";
  }
  if (Contains(scope.over, "llm")) values.values["n_params"] = "x";
  for (const char* k : kFixedNames) values.values[k] = "x";
  if (!scope.stage.empty()) {
    values.values["stage"] = "x";
    for (const auto& axis : scope.own_axes) values.values[axis] = "x";
    for (const auto& need : scope.needs) {
      for (const char* f : {"run_dir", "job_dir", "job_id"}) {
        values.values["needs." + need + "." + f] = "x";
      }
    }
  }
  return ExpandCommand(ReadCommandOptions(config, scope.stage), values).status();
}

}  // namespace command
}  // namespace vlmscale::jobs
