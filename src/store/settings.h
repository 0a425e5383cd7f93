// The settings a job was made with, as the results store keeps them (JobRecord::settings and
// settings_hash), and what readers derive from them: the keys that vary between the jobs of a
// file (export columns, status groups, fit groups) and which of those a study did not choose to
// vary (a file that mixes studies, `vlmscale run --allow-mixed`).
#ifndef VLMSCALE_STORE_SETTINGS_H_
#define VLMSCALE_STORE_SETTINGS_H_

#include <map>
#include <string>
#include <vector>

#include "store/job_record.h"

namespace vlmscale::store {

// "key=value\n" lines (JobRecord::settings) as a map; lines without '=' are ignored.
std::map<std::string, std::string> ParseSettings(const std::string& text);

// The value of `key` in the record's settings; "" when the record has no such line (the key was
// at its default where the identity rule leaves defaults out, or the record predates settings).
std::string SettingValue(const JobRecord& record, const std::string& key);

// The keys whose value differs between two records of the same stage that both carry settings
// (records without settings, written by vlmscale before settings were kept, are not compared),
// sorted. These are the columns export adds and the groups status and fit keep apart.
std::vector<std::string> VariedSettingKeys(const std::vector<const JobRecord*>& records);
std::vector<std::string> VariedSettingKeys(const std::vector<JobRecord>& records);

// The keys of `varied` that some record does not list in JobRecord::swept: their differences
// come from runs with different configs into one file (--allow-mixed), not from the grid.
std::vector<std::string> MixedSettingKeys(const std::vector<const JobRecord*>& records,
                                          const std::vector<std::string>& varied);

// "k1=v1, k2=v2" of the record's values of `keys` ("(default)" for an empty value).
std::string DescribeSettings(const JobRecord& record, const std::vector<std::string>& keys);

}  // namespace vlmscale::store

#endif  // VLMSCALE_STORE_SETTINGS_H_
