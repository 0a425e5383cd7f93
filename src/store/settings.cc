#include "store/settings.h"

#include <algorithm>
#include <set>

#include "core/strings.h"

namespace vlmscale::store {

std::map<std::string, std::string> ParseSettings(const std::string& text) {
  std::map<std::string, std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(start, end - start);
    const size_t eq = line.find('=');
    if (eq != std::string::npos && eq > 0) out[line.substr(0, eq)] = line.substr(eq + 1);
    start = end + 1;
  }
  return out;
}

std::string SettingValue(const JobRecord& record, const std::string& key) {
  // A linear scan of one record's lines: cheaper than building its map for one key.
  const std::string& text = record.settings;
  const std::string prefix = key + "=";
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    if (text.compare(start, prefix.size(), prefix) == 0 && start + prefix.size() <= end) {
      return text.substr(start + prefix.size(), end - start - prefix.size());
    }
    start = end + 1;
  }
  return "";
}

std::vector<std::string> VariedSettingKeys(const std::vector<const JobRecord*>& records) {
  // Distinct settings per stage (few: one per run configuration and grid setting).
  std::map<std::string, std::set<std::string>> texts;
  for (const JobRecord* r : records) {
    if (!r->settings_hash.empty()) texts[r->stage].insert(r->settings);
  }
  std::set<std::string> varied;
  for (const auto& [stage, distinct] : texts) {
    if (distinct.size() < 2) continue;
    std::vector<std::map<std::string, std::string>> maps;
    std::set<std::string> keys;
    for (const std::string& t : distinct) {
      maps.push_back(ParseSettings(t));
      for (const auto& kv : maps.back()) keys.insert(kv.first);
    }
    for (const std::string& k : keys) {
      auto value = [&](const std::map<std::string, std::string>& m) {
        auto it = m.find(k);
        return it == m.end() ? std::string() : it->second;
      };
      for (const auto& m : maps) {
        if (value(m) != value(maps.front())) {
          varied.insert(k);
          break;
        }
      }
    }
  }
  return {varied.begin(), varied.end()};
}

std::vector<std::string> VariedSettingKeys(const std::vector<JobRecord>& records) {
  std::vector<const JobRecord*> ptrs;
  ptrs.reserve(records.size());
  for (const JobRecord& r : records) ptrs.push_back(&r);
  return VariedSettingKeys(ptrs);
}

std::vector<std::string> MixedSettingKeys(const std::vector<const JobRecord*>& records,
                                          const std::vector<std::string>& varied) {
  std::vector<std::string> mixed;
  for (const std::string& key : varied) {
    bool swept_everywhere = true;
    for (const JobRecord* r : records) {
      if (r->settings_hash.empty()) continue;
      const std::vector<std::string> swept = SplitTrimmed(r->swept, ',');
      if (std::find(swept.begin(), swept.end(), key) == swept.end()) {
        swept_everywhere = false;
        break;
      }
    }
    if (!swept_everywhere) mixed.push_back(key);
  }
  return mixed;
}

std::string DescribeSettings(const JobRecord& record, const std::vector<std::string>& keys) {
  std::vector<std::string> parts;
  for (const std::string& k : keys) {
    const std::string v = SettingValue(record, k);
    parts.push_back(k + "=" + (v.empty() ? "(default)" : v));
  }
  return Join(parts, ", ");
}

}  // namespace vlmscale::store
