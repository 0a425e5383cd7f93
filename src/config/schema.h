// The schema of sweep configuration files: every section and key, its type, default and meaning.
// docs/CONFIG.md documents the same table (a test checks every key appears there).
#ifndef VLMSCALE_CONFIG_SCHEMA_H_
#define VLMSCALE_CONFIG_SCHEMA_H_

#include <optional>
#include <string>
#include <vector>

namespace vlmscale::config {

enum class KeyType {
  kString,
  kInt,         // Integer; `min` applies.
  kDouble,      // Finite number; `min` applies.
  kBool,
  kEnum,        // One of `choices`.
  kIntList,     // Comma-separated integers, non-empty; `min` applies to each.
  kStringList,  // Comma-separated non-empty strings.
};

struct KeySpec {
  const char* section;        // "grid", or "llm.*" for every [llm.NAME] section.
  const char* key;
  KeyType type;
  const char* default_value;  // nullptr: no default (required when `required`, else optional).
  bool required;
  std::optional<double> min;  // Inclusive lower bound for numbers.
  std::vector<std::string> choices;  // kEnum values.
  const char* doc;
};

const std::vector<KeySpec>& Schema();
// Section names ("llm.*" stands for user LLM presets).
std::vector<std::string> SchemaSections();
// The spec of "section.key", or nullptr. "llm.foo.width" resolves to the "llm.*" entry.
const KeySpec* FindKeySpec(const std::string& full_key);
// Keys of a section, e.g. "train" -> {"steps", "batch_size", ...}.
std::vector<std::string> SectionKeys(const std::string& section);

}  // namespace vlmscale::config

#endif  // VLMSCALE_CONFIG_SCHEMA_H_
