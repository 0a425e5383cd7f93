#include "config/config.h"

#include <sys/stat.h>

#include <boost/program_options.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

#include "config/schema.h"
#include "core/check.h"
#include "core/strings.h"

namespace vlmscale::config {

namespace po = boost::program_options;

namespace {

// A key = value line as found by the scanner, with its line number.
struct ScannedEntry {
  std::string key;  // "section.key"
  std::string value;
  int line = 0;
};

std::string Where(const std::string& name, int line) {
  return line > 0 ? name + ":" + std::to_string(line) : name;
}

bool IsNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
}

std::string DisplaySection(const std::string& section) { return "[" + section + "]"; }

bool IsStageNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
}

// `s` with control characters and bytes above 0x7E shown as \xNN, at most 80 characters: a value
// quoted in a one-line message.
std::string Printable(const std::string& s) {
  std::string out;
  for (unsigned char c : s.substr(0, 80)) {
    if (c < 0x20 || c >= 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof(hex), "\\x%02X", static_cast<unsigned>(c));
      out += hex;
    } else {
      out += static_cast<char>(c);
    }
  }
  return s.size() > 80 ? out + "..." : out;
}

// Why `name` cannot be a sweep name, or "". A sweep name is the file name of the default results
// file (results/<name>.h5) and is written to logs and results files: one path component of
// printable UTF-8 text, however it was set (file or --set).
std::string SweepNameProblem(const std::string& name) {
  if (Trim(name).empty()) return "expected a non-empty name";
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof(hex), "0x%02X", static_cast<unsigned>(c));
      return std::string("a sweep name is printable text; it holds a control character (byte ") +
             hex + ")";
    }
  }
  if (!IsValidUtf8(name)) return "a sweep name is UTF-8 text; it holds a byte sequence that is not";
  if (name.find('/') != std::string::npos || name == "." || name == "..") {
    return "a sweep name is a file name (the results file is results/<name>.h5), not a path: "
           "no '/', not '.' or '..'; to write elsewhere set sweep.output";
  }
  return "";
}

// Checks that a section name is known (or an [llm.NAME] or [stage.NAME(.SECTION)] section).
// Returns "" or the problem.
std::string CheckSection(const Schema& schema, const std::string& section) {
  if (StartsWith(section, "grid.")) {  // [grid] SECTION.KEY = values (a swept setting).
    const std::string inner = section.substr(5);
    if (schema.StageMayOverride(inner)) return "";
    return "[grid] sweeps keys of the job types' sections as SECTION.KEY (e.g. train.lr), not "
           "of [" +
           inner + "]";
  }
  if (StartsWith(section, "stage.")) {
    size_t name_end = section.find('.', 6);
    std::string name = section.substr(6, name_end == std::string::npos ? std::string::npos
                                                                        : name_end - 6);
    if (name.empty()) return "section [stage.] needs a stage name, e.g. [stage.pretrain]";
    for (char c : name) {
      if (!IsStageNameChar(c)) {
        return "invalid stage name '" + name + "' in " + DisplaySection(section) +
               " (expected letters, digits, '_' or '-')";
      }
    }
    if (name_end == std::string::npos) return "";
    std::string inner = section.substr(name_end + 1);
    if (inner == "axis" || schema.StageMayOverride(inner)) return "";
    std::vector<std::string> sections = {"axis"};
    for (const auto& s : schema.Sections()) {
      if (schema.StageMayOverride(s)) sections.push_back(s);
    }
    std::string hint = ClosestMatch(inner, sections);
    return "a stage may set keys of its job type's sections and axis.NAME, not of [" + inner +
           "] (in " + DisplaySection(section) + "; known: " + Join(sections, ", ") + ")" +
           (hint.empty() ? "" : "; did you mean [stage." + name + "." + hint + "]?");
  }
  if (StartsWith(section, "llm.")) {
    std::string name = section.substr(4);
    if (name.empty()) return "section [llm.] needs a preset name, e.g. [llm.mymodel]";
    for (char c : name) {
      if (!IsNameChar(c)) {
        return "invalid preset name in " + DisplaySection(section) +
               " (expected letters, digits, '_', '-' or '.')";
      }
    }
    return "";
  }
  std::vector<std::string> sections;
  for (const auto& s : schema.Sections()) {
    if (s == section) return "";
    sections.push_back(s == "llm.*" ? "llm.NAME" : s == "stage.*" ? "stage.NAME" : s);
  }
  std::string hint = ClosestMatch(section, sections);
  return "unknown section " + DisplaySection(section) +
         (hint.empty() ? " (known: " + Join(sections, ", ") + ")"
                       : "; did you mean " + DisplaySection(hint) + "?");
}

// Checks that "section.key" is in the schema. Returns "" or the problem (with the closest key).
std::string CheckKey(const Schema& schema, const std::string& full_key) {
  size_t dot = full_key.rfind('.');
  if (dot == std::string::npos || dot == 0) {
    return "'" + full_key + "' is not of the form section.key";
  }
  std::string section = full_key.substr(0, dot);
  std::string key = full_key.substr(dot + 1);
  std::string problem = CheckSection(schema, section);
  if (!problem.empty()) return problem;
  if (schema.Find(full_key) != nullptr) return "";
  std::vector<std::string> keys = schema.SectionKeys(section);
  std::string hint = ClosestMatch(key, keys);
  return "unknown key '" + key + "' in section " + DisplaySection(section) +
         (hint.empty() ? " (known: " + Join(keys, ", ") + ")" : "; did you mean '" + hint + "'?");
}

bool OutOfRange(const KeySpec& spec, double v) {
  return (spec.min && v < *spec.min) || (spec.max && v > *spec.max);
}

// What a number key expects: "an integer in [1, 1000]"; for list elements (`plural`),
// "integers in [1, 1000]".
std::string DescribeRange(const KeySpec& spec, bool integer, bool plural = false) {
  std::string what =
      plural ? (integer ? "integers" : "numbers") : (integer ? "an integer" : "a number");
  if (spec.max) {
    return what + " in [" + ShortestNumber(spec.min.value_or(-1e308)) + ", " +
           ShortestNumber(*spec.max) + "]";
  }
  if (!spec.min) return what;
  if (*spec.min == 0.0) {
    return plural    ? "non-negative " + what
           : integer ? "a non-negative integer"
                     : "a non-negative number";
  }
  if (*spec.min == 1.0 && integer) return plural ? "positive integers" : "a positive integer";
  return what + " >= " + FormatNumber(*spec.min);
}

// Validates a value's type. Returns "" or what was expected.
std::string CheckValue(const KeySpec& spec, const std::string& full_key, const std::string& value) {
  auto expected = [&](const std::string& what) {
    return "key '" + full_key + "': expected " + what + ", got '" + value + "'";
  };
  switch (spec.type) {
    case KeyType::kString:
      return "";
    case KeyType::kInt: {
      auto v = ParseInt(value);
      if (!v || OutOfRange(spec, static_cast<double>(*v))) {
        return expected(DescribeRange(spec, true));
      }
      return "";
    }
    case KeyType::kDouble: {
      auto v = ParseDouble(value);
      if (!v || OutOfRange(spec, *v)) return expected(DescribeRange(spec, false));
      return "";
    }
    case KeyType::kBool:
      return ParseBool(value) ? "" : expected("true or false");
    case KeyType::kEnum: {
      for (const auto& c : spec.choices) {
        if (c == value) return "";
      }
      std::string hint = ClosestMatch(value, spec.choices);
      return "key '" + full_key + "': unknown value '" + value + "' (expected one of " +
             Join(spec.choices, ", ") + ")" +
             (hint.empty() ? "" : "; did you mean '" + hint + "'?");
    }
    case KeyType::kIntList:
    case KeyType::kStringList: {
      std::vector<std::string> items = SplitTrimmed(value, ',');
      bool integer = spec.type == KeyType::kIntList;
      std::string what = "a non-empty comma-separated list of " +
                         (integer ? DescribeRange(spec, true, /*plural=*/true) : "names");
      std::set<std::string> seen;
      for (const auto& item : items) {
        if (item.empty() && items.size() == 1) return expected(what);
        if (item.empty()) {
          return "key '" + full_key + "': expected " + what + ", got '' in '" + value + "'";
        }
        if (integer) {
          auto v = ParseInt(item);
          if (!v || OutOfRange(spec, static_cast<double>(*v))) {
            return "key '" + full_key + "': expected " + what + ", got '" + item + "' in '" +
                   value + "'";
          }
        }
        if (!seen.insert(item).second) {
          return "key '" + full_key + "': '" + item + "' is listed twice in '" + value + "'";
        }
      }
      return "";
    }
  }
  return "";
}

// The values of a swept setting `key` (a list) checked one by one as values of `target`; "" or
// the problem, naming the value.
std::string CheckSweptValues(const Schema& schema, const std::string& key,
                             const std::string& target, const std::string& list) {
  const KeySpec* spec = schema.Find(target);
  if (spec == nullptr) return "unknown setting '" + target + "'";
  if (spec->type == KeyType::kIntList || spec->type == KeyType::kStringList) {
    return "'" + target + "' is a list itself, so it cannot be swept value by value";
  }
  if (spec->identity == IdentityRule::kNever) {
    return "'" + target +
           "' does not enter job ids (where, not what): sweeping it would make "
           "the same jobs twice";
  }
  std::vector<std::string> seen;
  for (const std::string& item : SplitTrimmed(list, ',')) {
    if (item.empty()) return "expected a comma-separated list of values, got '" + list + "'";
    std::string problem = CheckValue(*spec, target, item);
    if (!problem.empty()) return "value '" + item + "': " + problem;
    for (const std::string& other : seen) {
      const std::optional<double> a = ParseDouble(item), b = ParseDouble(other);
      if (a && b ? *a == *b : item == other) {
        return "'" + item + "' and '" + other + "' are the same value (listed twice)";
      }
    }
    seen.push_back(item);
  }
  return "";
}

// Scans text in Boost.Program_options' config-file syntax, recording line numbers, and rejects
// malformed lines, keys outside sections, unknown sections/keys and duplicate keys.
Status Scan(const Schema& schema, const std::string& text, const std::string& name,
            std::vector<ScannedEntry>* out) {
  std::istringstream in(text);
  std::string raw;
  std::string section;
  int line_no = 0;
  std::map<std::string, int> first_line;
  while (std::getline(in, raw)) {
    ++line_no;
    // Boost strips everything from '#' on, then whitespace.
    std::string line = raw;
    size_t hash = line.find('#');
    if (hash != std::string::npos) line.erase(hash);
    if (!line.empty() && line.back() == '\r') line.pop_back();  // CRLF files.
    // Boost trims only some whitespace where the scanner trims all of it: control characters
    // would make the two read different keys (found by tests/fuzz).
    for (char c : line) {
      if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f) {
        char hex[8];
        std::snprintf(hex, sizeof(hex), "0x%02X", static_cast<unsigned>(c));
        return Status::InvalidInput(Where(name, line_no) + ": unexpected control character (byte " +
                                    hex + "); a config file is plain text");
      }
    }
    line = Trim(line);
    if (line.empty()) continue;
    if (line.front() == '[') {
      if (line.back() != ']') {
        return Status::InvalidInput(Where(name, line_no) + ": malformed section header '" + line +
                                    "', expected '[section]'");
      }
      std::string inner = line.substr(1, line.size() - 2);
      section = Trim(inner);
      if (section != inner) {  // Boost would read "[train ]" as section "train ".
        return Status::InvalidInput(Where(name, line_no) + ": spaces inside the section header '" +
                                    line + "'; write '[" + section + "]'");
      }
      std::string problem = CheckSection(schema, section);
      if (!problem.empty()) return Status::InvalidInput(Where(name, line_no) + ": " + problem);
      continue;
    }
    size_t eq = line.find('=');
    if (eq == std::string::npos) {
      return Status::InvalidInput(Where(name, line_no) +
                                  ": expected 'key = value' or '[section]', got '" + line + "'");
    }
    std::string key = Trim(line.substr(0, eq));
    std::string value = Trim(line.substr(eq + 1));
    if (key.empty()) {
      return Status::InvalidInput(Where(name, line_no) + ": missing key before '=' in '" + line +
                                  "'");
    }
    if (section.empty()) {
      return Status::InvalidInput(Where(name, line_no) + ": key '" + key +
                                  "' is outside any section; put it under a [section] header");
    }
    std::string full = section + "." + key;
    std::string problem = CheckKey(schema, full);
    if (!problem.empty()) return Status::InvalidInput(Where(name, line_no) + ": " + problem);
    auto [it, inserted] = first_line.emplace(full, line_no);
    if (!inserted) {
      return Status::InvalidInput(Where(name, line_no) + ": duplicate key '" + full +
                                  "' (first set on line " + std::to_string(it->second) + ")");
    }
    out->push_back({full, value, line_no});
  }
  return Status::OK();
}

// Parses with Boost.Program_options (the syntax of record) into key -> value.
Status ParseWithBoost(const std::string& text, const std::string& name,
                      std::map<std::string, std::string>* out) {
  try {
    std::istringstream in(text);
    po::options_description none;
    po::parsed_options parsed = po::parse_config_file(in, none, /*allow_unregistered=*/true);
    for (const auto& opt : parsed.options) {
      (*out)[opt.string_key] = opt.value.empty() ? std::string() : opt.value.front();
    }
  } catch (const std::exception& e) {
    return Status::InvalidInput(name + ": " + e.what());
  }
  return Status::OK();
}

}  // namespace

Result<Config> Config::Load(const std::string& path, const std::vector<std::string>& overrides,
                            const Schema& schema) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    return Status::InvalidInput(path + ": cannot read config file: " + std::strerror(errno));
  }
  if (S_ISDIR(st.st_mode)) {
    return Status::InvalidInput(path + ": is a directory, expected a config file (.ini)");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status::InvalidInput(path + ": cannot read config file: " + std::strerror(errno));
  }
  std::stringstream buf;
  buf << in.rdbuf();
  if (in.bad()) return Status::InvalidInput(path + ": error while reading the config file");
  Result<Config> r = FromString(buf.str(), path, overrides, schema);
  if (r.ok()) r->path_ = path;
  return r;
}

Result<Config> Config::FromString(const std::string& text, const std::string& name,
                                  const std::vector<std::string>& overrides,
                                  const Schema& schema) {
  std::vector<ScannedEntry> scanned;
  VLM_RETURN_IF_ERROR(Scan(schema, text, name, &scanned));
  std::map<std::string, std::string> parsed;
  VLM_RETURN_IF_ERROR(ParseWithBoost(text, name, &parsed));

  Config config;
  for (const auto& e : scanned) {
    auto it = parsed.find(e.key);
    if (it == parsed.end()) {  // Scan() rejects every case known to get here (tests/fuzz).
      return Status::InvalidInput(Where(name, e.line) + ": cannot read key '" + e.key +
                                  "' unambiguously; check the characters around it and its "
                                  "section header");
    }
    config.values_[e.key] = Value{it->second, Where(name, e.line)};
  }
  for (const auto& o : overrides) {
    size_t eq = o.find('=');
    if (eq == std::string::npos) {
      return Status::InvalidInput("--set '" + o + "': expected section.key=value");
    }
    std::string key = Trim(o.substr(0, eq));
    // The same rule as for a file's lines: a value that holds a newline would be another value
    // in the resolved text (and in the results file's copy of it).
    for (char c : o) {
      if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f) {
        char hex[8];
        std::snprintf(hex, sizeof(hex), "0x%02X", static_cast<unsigned>(c));
        std::string shown = key;  // The message stays one line even if the key is the culprit.
        for (char& k : shown) {
          if (static_cast<unsigned char>(k) < 0x20 || k == 0x7f) k = '?';
        }
        return Status::InvalidInput("--set " + shown + ": unexpected control character (byte " +
                                    hex + "); a setting is one line of text");
      }
    }
    std::string problem = CheckKey(schema, key);
    if (!problem.empty()) return Status::InvalidInput("--set '" + o + "': " + problem);
    config.values_[key] = Value{Trim(o.substr(eq + 1)), "--set " + key};
  }
  // Types of every set value.
  for (const auto& [key, value] : config.values_) {
    const KeySpec* spec = schema.Find(key);
    CHECK(spec != nullptr) << key;
    std::string problem = CheckValue(*spec, key, value.text);
    if (!problem.empty()) return Status::InvalidInput(value.origin + ": " + problem);
  }
  // Every value of a swept setting ([grid] SECTION.KEY, [llm.NAME] lr) as that key's value.
  for (const auto& [key, value] : config.values_) {
    std::string target;
    if (StartsWith(key, "grid.") && key.find('.', 5) != std::string::npos) {
      target = key.substr(5);
    } else if (StartsWith(key, "llm.") && EndsWith(key, ".lr") && schema.Find("train.lr")) {
      const KeySpec* spec = schema.Find(key);
      if (spec != nullptr && spec->section == "llm.*" && spec->key == "lr") target = "train.lr";
    }
    if (target.empty()) continue;
    std::string problem = CheckSweptValues(schema, key, target, value.text);
    if (!problem.empty()) {
      return Status::InvalidInput(value.origin + ": key '" + key + "': " + problem);
    }
  }
  // Required keys and defaults (not for the llm.* and stage.* templates).
  for (const auto& spec : schema.keys()) {
    if (spec.section == "llm.*" || spec.section == "stage.*") continue;
    std::string key = spec.FullKey();
    if (config.values_.count(key)) continue;
    if (spec.required) {
      return Status::InvalidInput(name + ": missing required key '" + spec.key + "' in section [" +
                                  spec.section + "]");
    }
    if (spec.default_value) config.values_[key] = Value{*spec.default_value, "default"};
  }
  for (const auto& spec : schema.keys()) {
    if (spec.identity != IdentityRule::kValue) {
      config.identity_rules_[spec.FullKey()] = {spec.identity, spec.default_value.value_or("")};
    }
  }
  // Defaults inside each [llm.NAME].
  for (const auto& llm : config.UserLlmNames()) {
    for (const auto& spec : schema.keys()) {
      if (spec.section != "llm.*" || !spec.default_value) continue;
      std::string key = "llm." + llm + "." + spec.key;
      if (!config.values_.count(key)) config.values_[key] = Value{*spec.default_value, "default"};
    }
  }
  // Required keys and defaults inside each [stage.NAME].
  for (const auto& stage : config.StageNames()) {
    for (const auto& spec : schema.keys()) {
      if (spec.section != "stage.*" || spec.key == "axis.*") continue;
      std::string key = "stage." + stage + "." + spec.key;
      if (config.values_.count(key)) continue;
      if (spec.key == "type") {
        return Status::InvalidInput(name + ": missing required key 'type' in section [stage." +
                                    stage + "] (the job type of the stage)");
      }
      if (spec.default_value) config.values_[key] = Value{*spec.default_value, "default"};
    }
  }
  const Value& name_value = config.values_.at("sweep.name");
  const std::string name_problem = SweepNameProblem(name_value.text);
  if (!name_problem.empty()) {
    return Status::InvalidInput(name_value.origin + ": key 'sweep.name': " + name_problem +
                                ", got '" + Printable(name_value.text) + "'");
  }
  if (config.values_.at("sweep.output").text.empty()) {
    config.values_["sweep.output"] =
        Value{"results/" + config.values_.at("sweep.name").text + ".h5", "default"};
  }
  return config;
}

const Value& Config::Get(const std::string& key) const {
  auto it = values_.find(key);
  CHECK(it != values_.end()) << "config key '" << key << "' has no value and no default";
  return it->second;
}

const std::string& Config::GetString(const std::string& key) const { return Get(key).text; }

int64_t Config::GetInt(const std::string& key) const {
  auto v = ParseInt(Get(key).text);
  CHECK(v.has_value()) << key << " is not an integer (validation missed it)";
  return *v;
}

double Config::GetDouble(const std::string& key) const {
  auto v = ParseDouble(Get(key).text);
  CHECK(v.has_value()) << key << " is not a number (validation missed it)";
  return *v;
}

std::vector<std::string> Config::GetList(const std::string& key) const {
  return SplitTrimmed(Get(key).text, ',');
}

bool Config::Has(const std::string& key) const { return values_.count(key) > 0; }

bool Config::IsSet(const std::string& key) const {
  auto it = values_.find(key);
  return it != values_.end() && it->second.origin != "default";
}

std::string Config::ResolvedText() const {
  std::string out;
  std::string section;
  // job.type means nothing next to [stage.NAME] sections, and set there it is an error: the
  // resolved text of a staged config must plan again (submit writes it for the batch job).
  const bool staged = !StageNames().empty();
  for (const auto& [key, value] : values_) {
    if (staged && key == "job.type") continue;
    size_t dot = key.rfind('.');
    std::string s = key.substr(0, dot);
    if (s != section) {
      if (!out.empty()) out += "\n";
      out += "[" + s + "]\n";
      section = s;
    }
    out += key.substr(dot + 1) + " = " + value.text + "\n";
  }
  return out;
}

std::string Config::SectionText(const std::string& section) const {
  std::string out;
  std::string prefix = section + ".";
  for (const auto& [key, value] : values_) {
    if (!StartsWith(key, prefix)) continue;
    std::string rest = key.substr(prefix.size());
    if (rest.find('.') != std::string::npos) continue;  // Keys of nested sections.
    out += key + "=" + value.text + "\n";
  }
  return out;
}

std::string Config::IdentityText(const std::vector<std::string>& sections) const {
  std::string out;
  for (const std::string& section : sections) {
    const std::string prefix = section + ".";
    for (const auto& [key, value] : values_) {
      if (!StartsWith(key, prefix) || key.find('.', prefix.size()) != std::string::npos) continue;
      auto rule = identity_rules_.find(key);
      if (rule != identity_rules_.end()) {
        if (rule->second.first == IdentityRule::kNever) continue;
        const std::string& fallback = rule->second.second;
        const std::optional<double> a = ParseDouble(value.text), b = ParseDouble(fallback);
        if (a && b ? *a == *b : value.text == fallback) continue;
      }
      out += key + "=" + value.text + "\n";
    }
  }
  return out;
}

std::vector<std::string> Config::StageNames() const {
  std::set<std::string> names;
  for (const auto& [key, value] : values_) {
    if (!StartsWith(key, "stage.")) continue;
    size_t dot = key.find('.', 6);
    if (dot != std::string::npos && dot > 6) names.insert(key.substr(6, dot - 6));
  }
  return {names.begin(), names.end()};
}

Config Config::WithValues(const std::vector<std::pair<std::string, Value>>& values) const {
  Config view = *this;
  for (const auto& [key, value] : values) view.values_[key] = value;
  return view;
}

Config Config::StageView(const std::string& stage) const {
  Config view = *this;
  const std::string prefix = "stage." + stage + ".";
  for (const auto& [key, value] : values_) {
    if (!StartsWith(key, prefix)) continue;
    std::string rest = key.substr(prefix.size());
    // SECTION.KEY (not the stage's own keys, not axis.NAME).
    if (rest.find('.') == std::string::npos || StartsWith(rest, "axis.")) continue;
    view.values_[rest] = value;
  }
  return view;
}

bool Config::HasUserLlm(const std::string& name) const {
  const std::string prefix = "llm." + name + ".";
  auto it = values_.lower_bound(prefix);
  // A key of [llm.NAME] itself, not of [llm.NAME.x] (preset names may contain '.').
  for (; it != values_.end() && StartsWith(it->first, prefix); ++it) {
    if (it->first.find('.', prefix.size()) == std::string::npos) return true;
  }
  return false;
}

std::vector<std::string> Config::UserLlmNames() const {
  std::set<std::string> names;
  for (const auto& [key, value] : values_) {
    if (!StartsWith(key, "llm.")) continue;
    size_t dot = key.rfind('.');
    if (dot > 4) names.insert(key.substr(4, dot - 4));
  }
  return {names.begin(), names.end()};
}

}  // namespace vlmscale::config
