// Config: a sweep configuration file (INI in Boost.Program_options' config-file syntax) plus
// `--set section.key=value` overrides, validated against a Schema (config/schema.h) that the
// caller assembles (jobs::ConfigSchema()).
//
// Every value has an origin ("FILE:LINE", "--set", or "default") so errors can name it.
#ifndef VLMSCALE_CONFIG_CONFIG_H_
#define VLMSCALE_CONFIG_CONFIG_H_

#include <cstdint>
#include <map>
#include <utility>
#include <string>
#include <vector>

#include "config/schema.h"
#include "core/status.h"

namespace vlmscale::config {

struct Value {
  std::string text;
  std::string origin;  // "path:line", "--set", or "default".
};

class Config {
 public:
  // Reads `path`, applies `overrides` ("section.key=value", in order) and validates every key
  // and value against the schema. Returns kInvalidInput with one line naming file, line, key,
  // what was expected and the closest valid spelling on any problem.
  static Result<Config> Load(const std::string& path, const std::vector<std::string>& overrides,
                             const Schema& schema);
  // Same, from text; `name` stands for the file name in messages.
  static Result<Config> FromString(const std::string& text, const std::string& name,
                                   const std::vector<std::string>& overrides,
                                   const Schema& schema);

  // Typed access to "section.key". Keys with schema defaults always resolve.
  // REQUIRES: the key is in the schema (or an [llm.NAME] key that is set); CHECK-fails otherwise.
  const std::string& GetString(const std::string& key) const;
  int64_t GetInt(const std::string& key) const;
  double GetDouble(const std::string& key) const;
  std::vector<std::string> GetList(const std::string& key) const;  // Comma-separated.
  bool Has(const std::string& key) const;  // Set explicitly or has a default.
  bool IsSet(const std::string& key) const;  // Set in the file or by --set.
  const Value& Get(const std::string& key) const;

  // All resolved values (defaults filled), sorted by key.
  const std::map<std::string, Value>& values() const { return values_; }
  // Canonical INI text of every resolved value (without job.type in a config with stages, where
  // it has no meaning): stored in results files, written by submit; it plans the same sweep.
  std::string ResolvedText() const;
  // Canonical "key=value\n" lines of the keys under `section.` (e.g. "train"), sorted.
  std::string SectionText(const std::string& section) const;
  // The part of a job's identity text these sections give: their SectionText lines, section by
  // section, without the keys whose KeySpec::identity leaves them out (kNever; kUnlessDefault
  // at a value equal to its default, compared as numbers where both are numbers).
  std::string IdentityText(const std::vector<std::string>& sections) const;
  // Names of [llm.NAME] sections defined in the config.
  std::vector<std::string> UserLlmNames() const;
  // Whether the config defines [llm.NAME] (one lookup, not a scan of every key).
  bool HasUserLlm(const std::string& name) const;
  // Names of [stage.NAME] sections defined in the config, sorted.
  std::vector<std::string> StageNames() const;
  // The config as stage `stage` sees it: each of its keys stage.NAME.SECTION.KEY replaces
  // SECTION.KEY (keeping its origin, so errors name the stage's line).
  Config StageView(const std::string& stage) const;
  // The config with `values` (key -> value with its origin) set: one point of a swept setting
  // ([grid] SECTION.KEY). REQUIRES: values valid for their keys (Load checks swept values).
  Config WithValues(const std::vector<std::pair<std::string, Value>>& values) const;
  // The config file path as given ("" for FromString).
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::map<std::string, Value> values_;
  // Keys whose identity rule is not kValue -> (rule, default text).
  std::map<std::string, std::pair<IdentityRule, std::string>> identity_rules_;
};

}  // namespace vlmscale::config

#endif  // VLMSCALE_CONFIG_CONFIG_H_
