// The schema of sweep configuration files: every section and key, its type, default and meaning.
//
// config owns the parsing and the keys of the sweep itself ([sweep], [grid], [llm.NAME], [job],
// [run], [slurm]); every other key is declared by the component whose Options it fills (a job type
// registers its keys with an OptionsTable, options_table.h). The caller assembles the full Schema
// (jobs::ConfigSchema()) and hands it to Config::Load. docs/CONFIG.md's key table is generated
// from it (`vlmscale keys --markdown`; a test keeps the two in step).
#ifndef VLMSCALE_CONFIG_SCHEMA_H_
#define VLMSCALE_CONFIG_SCHEMA_H_

#include <optional>
#include <string>
#include <vector>

namespace vlmscale::config {

enum class KeyType {
  kString,
  kInt,     // Integer; `min` and `max` apply.
  kDouble,  // Finite number; `min` and `max` apply.
  kBool,
  kEnum,        // One of `choices`.
  kIntList,     // Comma-separated integers, non-empty; `min` and `max` apply to each.
  kStringList,  // Comma-separated non-empty strings.
};

// Shared upper bounds of number keys. Every integer and number key has a range (min and max),
// checked when the config is loaded, so that no product or sum of settings overflows (an int64
// or an int) further on; a component's IsValid may check finer rules within it.
constexpr double kMaxVisualTokens = 1 << 20;  // grid.visual_tokens, pretrain_llm.visual_tokens.
constexpr double kMaxSeed = 2147483647;       // Seeds (2^31 - 1).
constexpr double kMaxSeconds = 1e7;           // Durations in seconds (about 116 days).
constexpr double kMaxSteps = 1e9;             // Optimizer steps and step counts.
constexpr double kMaxBatch = 1 << 24;         // Batch sizes and example counts.
constexpr double kMaxTokens = 1 << 20;        // Text tokens Q.

// How a key's resolved value enters the identity text of a job (Config::IdentityText).
enum class IdentityRule {
  kValue,          // Always (every setting that affects a result).
  kUnlessDefault,  // Unless it equals its default: a key added after results existed, so that
                   // those results keep their ids while the key is left at its default.
  kNever,          // Never: where something is kept, not what it is (model.cache_dir).
};

struct KeySpec {
  // "grid"; "llm.*" for every [llm.NAME] section; "stage.*" for every [stage.NAME] section.
  std::string section;
  std::string key;
  KeyType type = KeyType::kString;
  std::optional<std::string> default_value;  // None: no default (required when `required`).
  bool required = false;
  // Inclusive bounds for numbers (kInt, kDouble, kIntList): both set for every such key
  // (config_test checks). At most 2^53, so that every int64 in range compares exactly.
  std::optional<double> min;
  std::optional<double> max;
  std::vector<std::string> choices;  // kEnum values.
  std::string doc;
  std::string owner;  // Who declares it: "sweep", "finetune_eval", ... (docs).
  IdentityRule identity = IdentityRule::kValue;

  std::string FullKey() const { return section + "." + key; }
};

// A set of keys, in declaration order. Sections and keys are unique.
class Schema {
 public:
  Schema() = default;
  // REQUIRES: no key declared twice (CHECK-fails: a programmer error).
  explicit Schema(std::vector<KeySpec> keys);

  const std::vector<KeySpec>& keys() const { return keys_; }
  // The spec of "section.key", or nullptr. "llm.foo.width" resolves to the "llm.*" entry;
  // "stage.s.over" to the "stage.*" entry, "stage.s.axis.NAME" to "stage.*"'s "axis.*", and
  // "stage.s.SECTION.KEY" to "SECTION.KEY" when a stage may override SECTION.
  const KeySpec* Find(const std::string& full_key) const;
  // Section names in declaration order ("llm.*", "stage.*" stand for user sections).
  std::vector<std::string> Sections() const;
  // Keys of a section, e.g. "train" -> {"steps", "batch_size", ...}.
  std::vector<std::string> SectionKeys(const std::string& section) const;
  // Whether a [stage.NAME] section may set keys of `section` (SECTION.KEY): the sections job
  // types declare, not config's own ([sweep], [grid], [llm.*], [job], [run], [slurm], [stage.*]).
  bool StageMayOverride(const std::string& section) const;
  // The key table of docs/CONFIG.md: one markdown table per section.
  std::string Markdown() const;

 private:
  std::vector<KeySpec> keys_;
};

// What the sweep keys' documentation and choices list: the registered job types, compressors,
// tasks and built-in LLM presets (config knows none of them itself).
struct SweepVocabulary {
  std::vector<std::string> job_types;
  std::vector<std::string> methods;
  std::vector<std::string> tasks;
  std::vector<std::string> llm_presets;
  std::string default_job_type, default_method, default_task;
};

// The keys config owns: [sweep], [grid], [llm.*], [job], [run], [slurm].
std::vector<KeySpec> SweepKeys(const SweepVocabulary& vocabulary);


}  // namespace vlmscale::config

#endif  // VLMSCALE_CONFIG_SCHEMA_H_
