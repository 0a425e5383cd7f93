// command jobs' command lines: splitting, placeholders, the [command] options and their
// plan-time check (command_job.h).
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "config/options_table.h"
#include "core/strings.h"
#include "jobs/command/command_job.h"

namespace vlmscale::jobs {
namespace command {

namespace {

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

Result<std::string> ExpandPlaceholders(const std::string& word,
                                       const std::map<std::string, std::string>& values,
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
      auto it = values.find(name);
      if (it == values.end()) {
        std::vector<std::string> names;
        for (const auto& kv : values) names.push_back(kv.first);
        std::string close = ClosestMatch(name, names);
        return Status::InvalidInput(
            what + ": unknown placeholder {" + Excerpt(name) + "}" +
            (close.empty() ? "" : "; did you mean {" + close + "}?") +
            " (known: llm, n_params, visual_tokens, method, task, seed, job_id, run_dir, job_dir, "
            "attempt, text_tokens, or any section.key of the config)");
      }
      out += it->second;
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

std::map<std::string, std::string> PlaceholderValues(const JobInput& input) {
  std::map<std::string, std::string> v;
  for (const auto& kv : input.config->values()) v[kv.first] = kv.second.text;
  const config::GridPoint& p = input.spec->point;
  v["llm"] = p.llm;
  v["n_params"] = ShortestNumber(p.n_params);
  v["visual_tokens"] = std::to_string(p.visual_tokens);
  v["method"] = p.method;
  v["task"] = p.task;
  v["seed"] = std::to_string(p.seed);
  v["job_id"] = input.spec->id;
  v["run_dir"] = input.run_dir;
  v["job_dir"] = input.job_dir;
  v["attempt"] = std::to_string(input.attempt);
  v["text_tokens"] = std::to_string(input.spec->text_tokens);
  return v;
}

Result<CommandLine> ExpandCommand(const CommandOptions& o,
                                  const std::map<std::string, std::string>& values) {
  CommandLine out;
  if (o.argv_origin.empty()) {
    return Status::InvalidInput("missing required key 'argv' in section [command]");
  }
  const std::string argv_what = "command.argv (" + o.argv_origin + ")";
  VLM_ASSIGN_OR_RETURN(std::vector<std::string> words, SplitCommandLine(o.argv, argv_what, false));
  for (const auto& w : words) {
    VLM_ASSIGN_OR_RETURN(std::string e, ExpandPlaceholders(w, values, argv_what));
    out.argv.push_back(std::move(e));
  }
  if (out.argv[0].empty()) return Status::InvalidInput(argv_what + ": the program name is empty");
  const std::string env_what = "command.env (" + o.env_origin + ")";
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
        [](O& o) -> double& { return o.timeout_seconds; }, 0.0, std::nullopt,
        "Kill an attempt after this long (0: no limit).");
    t->Int(
        "command.text_tokens", "text_tokens", [](O& o) -> int64_t& { return o.text_tokens; }, 0.0,
        std::nullopt, "Q used for inference FLOPs 2*N*(Q+V) of command jobs.");
    return t;
  }();
  return *table;
}

}  // namespace

std::vector<config::KeySpec> CommandKeys() { return Table().keys(); }

CommandOptions ReadCommandOptions(const config::Config& config) {
  CommandOptions o;
  Table().Read(config, &o);
  if (config.Has("command.argv")) o.argv_origin = config.Get("command.argv").origin;
  o.env_origin = config.Get("command.env").origin;
  return o;
}

Status ValidateCommandConfig(const config::Config& config) {
  std::map<std::string, std::string> values;
  for (const auto& kv : config.values()) values[kv.first] = kv.second.text;
  for (const char* k : {"llm", "n_params", "visual_tokens", "method", "task", "seed", "job_id",
                        "run_dir", "job_dir", "attempt", "text_tokens"}) {
    values[k] = "x";
  }
  return ExpandCommand(ReadCommandOptions(config), values).status();
}

}  // namespace command
}  // namespace vlmscale::jobs
