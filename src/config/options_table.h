// OptionsTable<Options>: binds config keys to the fields of a component's Options struct, so the
// struct stays the one owner of every default. The table
//   - declares the keys (KeySpec), with defaults rendered from a default-constructed Options;
//   - reads a validated Config into an Options (below the CLI/config boundary nobody looks keys
//     up by string);
//   - maps a field back to its key, so a failed Options::IsValid names the key the user set.
//
//   OptionsTable<SleepOptions> t("sleep");
//   t.Double("sleep.seconds", "seconds", [](SleepOptions& o) -> double& { return o.seconds; },
//            0.0, "Sleep duration.");
#ifndef VLMSCALE_CONFIG_OPTIONS_TABLE_H_
#define VLMSCALE_CONFIG_OPTIONS_TABLE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "config/config.h"
#include "config/schema.h"
#include "core/check.h"
#include "core/strings.h"

namespace vlmscale::config {

template <class Options>
class OptionsTable {
 public:
  // `owner` names the component in docs ("finetune_eval", "sleep", ...).
  explicit OptionsTable(std::string owner) : owner_(std::move(owner)) {}

  // An integer key stored in a field reached by `ref` (Options& -> int64_t&).
  template <class Ref>
  OptionsTable& Int(const std::string& full_key, const std::string& field, Ref ref,
                    std::optional<double> min, std::optional<double> max, std::string doc) {
    Options defaults;
    KeySpec& k = Add(full_key, field, KeyType::kInt, std::move(doc));
    k.default_value = std::to_string(ref(defaults));
    k.min = min;
    k.max = max;
    readers_.push_back(
        [ref, full_key](const Config& c, Options* o) { ref(*o) = c.GetInt(full_key); });
    return *this;
  }
  // An integer key with explicit conversion: `get` renders the field as the key's value
  // (e.g. bytes -> MiB), `set` stores the key's value.
  OptionsTable& IntConverted(const std::string& full_key, const std::string& field,
                             std::function<int64_t(const Options&)> get,
                             std::function<void(Options*, int64_t)> set, std::optional<double> min,
                             std::optional<double> max, std::string doc) {
    KeySpec& k = Add(full_key, field, KeyType::kInt, std::move(doc));
    k.default_value = std::to_string(get(Options{}));
    k.min = min;
    k.max = max;
    readers_.push_back(
        [set, full_key](const Config& c, Options* o) { set(o, c.GetInt(full_key)); });
    return *this;
  }
  // A number key. `spelling` overrides how the default is written (job ids hash the text; see
  // the caller's comment); it must read back as the struct's default (CHECK).
  template <class Ref>
  OptionsTable& Double(const std::string& full_key, const std::string& field, Ref ref,
                       std::optional<double> min, std::optional<double> max, std::string doc,
                       const char* spelling = nullptr) {
    Options defaults;
    KeySpec& k = Add(full_key, field, KeyType::kDouble, std::move(doc));
    const double value = ref(defaults);
    k.default_value = spelling == nullptr ? ShortestNumber(value) : std::string(spelling);
    CHECK(std::stod(*k.default_value) == value) << full_key << ": spelling of the default";
    k.min = min;
    k.max = max;
    readers_.push_back(
        [ref, full_key](const Config& c, Options* o) { ref(*o) = c.GetDouble(full_key); });
    return *this;
  }
  // A string key. With `required`, there is no default and the key must be set.
  template <class Ref>
  OptionsTable& String(const std::string& full_key, const std::string& field, Ref ref,
                       std::string doc, bool required = false) {
    Options defaults;
    KeySpec& k = Add(full_key, field, KeyType::kString, std::move(doc));
    if (!required) k.default_value = ref(defaults);
    readers_.push_back([ref, full_key](const Config& c, Options* o) {
      if (c.Has(full_key)) ref(*o) = c.GetString(full_key);
    });
    return *this;
  }
  // One of `choices` (a string field).
  template <class Ref>
  OptionsTable& Enum(const std::string& full_key, const std::string& field, Ref ref,
                     std::vector<std::string> choices, std::string doc) {
    String(full_key, field, ref, std::move(doc));
    keys_.back().type = KeyType::kEnum;
    keys_.back().choices = std::move(choices);
    return *this;
  }

  // Sets how the key declared last enters job ids (KeySpec::identity).
  OptionsTable& WithIdentity(IdentityRule rule) {
    CHECK(!keys_.empty());
    keys_.back().identity = rule;
    return *this;
  }

  const std::vector<KeySpec>& keys() const { return keys_; }

  // Reads every bound key of `config` into *options (fields without a key keep their value).
  // REQUIRES: `config` was loaded with a schema containing keys().
  void Read(const Config& config, Options* options) const {
    for (const auto& read : readers_) read(config, options);
  }

  // The key bound to `field` (e.g. "encoder.depth" -> "model.encoder_depth"), or "".
  std::string KeyOf(const std::string& field) const {
    for (size_t i = 0; i < keys_.size(); ++i) {
      if (fields_[i] == field) return keys_[i].FullKey();
    }
    return "";
  }

 private:
  KeySpec& Add(const std::string& full_key, const std::string& field, KeyType type,
               std::string doc) {
    const size_t dot = full_key.rfind('.');
    CHECK(dot != std::string::npos) << full_key;
    KeySpec k;
    k.section = full_key.substr(0, dot);
    k.key = full_key.substr(dot + 1);
    k.type = type;
    k.doc = std::move(doc);
    k.owner = owner_;
    keys_.push_back(std::move(k));
    fields_.push_back(field);
    return keys_.back();
  }

  std::string owner_;
  std::vector<KeySpec> keys_;
  std::vector<std::string> fields_;
  std::vector<std::function<void(const Config&, Options*)>> readers_;
};

}  // namespace vlmscale::config

#endif  // VLMSCALE_CONFIG_OPTIONS_TABLE_H_
