#include "fit/observations.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

#include "core/hash.h"
#include "core/strings.h"
#include "store/settings.h"

namespace vlmscale::fit {
namespace {

const std::vector<std::string>& FilterKeys() {
  static const std::vector<std::string> kKeys = {"task", "method",        "llm",
                                                 "seed", "visual_tokens", "n_params"};
  return kKeys;
}

// A setting key (SECTION.KEY) rather than a record field.
bool IsSettingKey(const std::string& key) { return key.find('.') != std::string::npos; }

bool SameValue(const std::string& a, const std::string& b) {
  if (a == b) return true;
  auto x = ParseDouble(a), y = ParseDouble(b);
  return x && y && *x == *y;
}

bool MatchesOne(const store::JobRecord& r, const std::string& key, const std::string& value) {
  if (IsSettingKey(key)) return SameValue(store::SettingValue(r, key), value);
  if (key == "task") return r.task == value;
  if (key == "method") return r.method == value;
  if (key == "llm") return r.llm == value;
  if (key == "seed") {
    auto v = ParseInt(value);
    return v && *v == r.seed;
  }
  if (key == "visual_tokens") {
    auto v = ParseInt(value);
    return v && *v == r.visual_tokens;
  }
  if (key == "n_params") {
    auto v = ParseDouble(value);
    return v && std::abs(*v - r.n_params) <= 1e-9 * std::max(1.0, std::abs(*v));
  }
  return false;
}

// Whether the record's `key` is one of the comma-separated `values`.
bool Matches(const store::JobRecord& r, const std::string& key, const std::string& values) {
  for (const std::string& v : SplitTrimmed(values, ',')) {
    if (MatchesOne(r, key, v)) return true;
  }
  return false;
}

// store::JobStateName's words; fit links only the header of store (JobRecord).
const char* StateWord(store::JobState s) {
  switch (s) {
    case store::JobState::kPending:
      return "pending";
    case store::JobState::kRunning:
      return "running";
    case store::JobState::kDone:
      return "done";
    case store::JobState::kFailed:
      return "failed";
    case store::JobState::kBlocked:
      return "blocked";
  }
  return "unknown";
}

// Why GroupRecords leaves `r` out, or "" if it uses it.
std::string ExclusionReason(const store::JobRecord& r, const GroupingOptions& options,
                            const std::string& stage) {
  if (r.stage != stage) return "stage " + (r.stage.empty() ? std::string("(none)") : r.stage);
  if (r.state != store::JobState::kDone) return std::string("state ") + StateWord(r.state);
  if (r.end_time > options.ended_by) return "ended after " + FormatNumber(options.ended_by, 15);
  for (const auto& [key, value] : options.filters) {
    if (!Matches(r, key, value)) return "filter " + key + "=" + value;
  }
  return "";
}

}  // namespace

std::string ResultHash(const store::JobRecord& r) {
  char error[64];
  std::snprintf(error, sizeof(error), "%a", r.error);  // Exact: every bit of the double.
  char n[64];
  std::snprintf(n, sizeof(n), "%a", r.n_params);
  return HexId("job=" + r.job_id + "\nstage=" + r.stage + "\ntask=" + r.task +
               "\nmethod=" + r.method + "\nn=" + n + "\nt=" + std::to_string(r.visual_tokens) +
               "\nseed=" + std::to_string(r.seed) + "\naxes=" + r.axes +
               "\nstate=" + StateWord(r.state) + "\nerror=" + error + "\n");
}

std::string GroupName(const std::string& task, const std::string& method,
                      const std::vector<std::pair<std::string, std::string>>& settings) {
  std::string name = task + "/" + method;
  std::vector<std::string> parts;
  for (const auto& [k, v] : settings) parts.push_back(k + "=" + v);
  if (!parts.empty()) name += "/" + Join(parts, ",");
  return name;
}

double PointNoise(const SeedNoise& noise) {
  if (noise.dof <= 0 || !(noise.mean_replicates > 0)) return std::nan("");
  return noise.sd / std::sqrt(noise.mean_replicates);
}

double CheckHoldoutAgainstSeedNoise(const SeedNoise& noise, FitSummary* summary) {
  if (summary->extrapolation.empty()) return std::nan("");
  double ss = 0.0;
  for (const auto& h : summary->extrapolation) {
    ss += (h.predicted - h.observed) * (h.predicted - h.observed);
  }
  const double rms = std::sqrt(ss / summary->extrapolation.size());
  const double point = PointNoise(noise);
  if (std::isfinite(point) && rms > kHoldoutNoiseFactor * point) {
    summary->warnings.push_back(
        "holdout: the fit without the largest N misses them by " + FormatNumber(rms, 3) +
        " RMS, more than " + FormatNumber(kHoldoutNoiseFactor) + "x the seed noise of a point (" +
        FormatNumber(point, 3) + " = seed sd " + FormatNumber(noise.sd, 3) + " / sqrt(" +
        FormatNumber(noise.mean_replicates, 3) +
        " seeds)); the law does not extrapolate within noise, so treat predictions beyond the "
        "sampled N with care");
  }
  return rms;
}

std::vector<ExcludedJob> ExcludedRecords(const std::vector<store::JobRecord>& records,
                                         const GroupingOptions& options) {
  auto stage = FinalStage(records, options.stage);
  CHECK(stage.ok()) << stage.status().ToString();
  std::vector<ExcludedJob> out;
  for (const auto& r : records) {
    std::string why = ExclusionReason(r, options, *stage);
    if (!why.empty()) out.push_back({r.job_id, why});
  }
  return out;
}

Result<Observations> ObservationsFromCsv(const CsvTable& table, const std::string& n_column,
                                         const std::string& t_column, const std::string& y_column) {
  VLM_ASSIGN_OR_RETURN(std::vector<double> n, table.NumericColumn(n_column));
  VLM_ASSIGN_OR_RETURN(std::vector<double> t, table.NumericColumn(t_column));
  VLM_ASSIGN_OR_RETURN(std::vector<double> y, table.NumericColumn(y_column));
  if (table.num_rows() == 0) {
    return Status::InvalidInput(table.source() + ": no data rows under the header");
  }
  Observations obs;
  for (size_t i = 0; i < table.num_rows(); ++i) {
    obs.Add(n[i], t[i], y[i], table.source() + ":" + std::to_string(table.line_number(i)));
  }
  return obs;
}

bool GroupingOptions::IsValid(std::string* error) const {
  if (std::isnan(ended_by)) {
    if (error) *error = "ended_by is NaN; expected a time in unix seconds or +inf";
    return false;
  }
  for (const auto& [key, value] : filters) {
    const auto& keys = FilterKeys();
    if (std::find(keys.begin(), keys.end(), key) == keys.end() && !IsSettingKey(key)) {
      if (error) {
        *error = "unknown filter key '" + key + "'; keys are " + Join(keys, ", ") +
                 " or a setting SECTION.KEY";
      }
      return false;
    }
  }
  for (const auto& key : group_by) {
    if (!IsSettingKey(key)) {
      if (error) {
        *error = "--group-by: '" + key + "' is not a setting key SECTION.KEY (e.g. train.lr); " +
                 "fits are always grouped by task and method";
      }
      return false;
    }
  }
  return true;
}

Result<std::pair<std::string, std::string>> ParseFilter(const std::string& text) {
  size_t eq = text.find('=');
  if (eq == std::string::npos) {
    return Status::InvalidInput("filter '" + text + "' is not key=value (e.g. task=glyphs)");
  }
  std::string key = Trim(text.substr(0, eq));
  std::string value = Trim(text.substr(eq + 1));
  const auto& keys = FilterKeys();
  if (std::find(keys.begin(), keys.end(), key) == keys.end() && !IsSettingKey(key)) {
    std::string hint = ClosestMatch(key, keys);
    return Status::InvalidInput("unknown filter key '" + key + "'" +
                                (hint.empty() ? "" : " (did you mean '" + hint + "'?)") +
                                "; keys are " + Join(keys, ", ") +
                                ", or a setting SECTION.KEY (e.g. train.lr)");
  }
  for (const std::string& v : SplitTrimmed(value, ',')) {
    if (v.empty()) {
      return Status::InvalidInput("filter '" + text +
                                  "' has an empty value (a list is "
                                  "comma-separated: llm=nano,micro)");
    }
  }
  return std::make_pair(key, value);
}

Result<std::string> FinalStage(const std::vector<store::JobRecord>& records,
                               const std::string& requested) {
  std::vector<std::string> stages;
  std::map<std::string, std::string> stage_of;
  for (const auto& r : records) {
    if (std::find(stages.begin(), stages.end(), r.stage) == stages.end()) {
      stages.push_back(r.stage);
    }
    stage_of[r.job_id] = r.stage;
  }
  if (!requested.empty()) {
    if (std::find(stages.begin(), stages.end(), requested) != stages.end()) return requested;
    return Status::InvalidInput(
        "no job of stage '" + requested + "' (stages: " +
        (stages.size() == 1 && stages[0].empty() ? std::string("none") : Join(stages, ", ")) + ")");
  }
  std::vector<std::string> needed;  // Stages some other stage's job needs.
  for (const auto& r : records) {
    for (const auto& id : SplitTrimmed(r.needs, ',')) {
      auto it = stage_of.find(id);
      if (it != stage_of.end() && it->second != r.stage) needed.push_back(it->second);
    }
  }
  std::vector<std::string> finals;
  for (const auto& s : stages) {
    if (std::find(needed.begin(), needed.end(), s) == needed.end()) finals.push_back(s);
  }
  if (finals.size() <= 1) return finals.empty() ? std::string() : finals[0];
  return Status::InvalidInput("the study has several final stages (" + Join(finals, ", ") +
                              "); choose one with --stage");
}

Result<std::vector<ObservationGroup>> GroupRecords(const std::vector<store::JobRecord>& records,
                                                   const GroupingOptions& options) {
  std::string error;
  if (!options.IsValid(&error)) return Status::InvalidInput(error);
  VLM_ASSIGN_OR_RETURN(const std::string stage, FinalStage(records, options.stage));
  std::vector<const store::JobRecord*> used;
  for (const auto& r : records) {
    if (ExclusionReason(r, options, stage).empty()) used.push_back(&r);
  }
  // The setting keys that keep groups apart: never pool jobs made with different settings.
  const std::vector<std::string> varied = store::VariedSettingKeys(used);
  std::vector<std::string> group_keys, pooled;
  if (options.group_by.empty()) {
    const std::vector<std::string> mixed = store::MixedSettingKeys(used, varied);
    if (!mixed.empty()) {
      std::map<std::string, int> counts;
      for (const auto* r : used) ++counts[store::DescribeSettings(*r, mixed)];
      std::vector<std::string> listed;
      for (const auto& [label, n] : counts) {
        listed.push_back(label + " (" + std::to_string(n) + " jobs)");
      }
      return Status::InvalidInput(
          "the jobs to fit were made with different " + Join(mixed, ", ") +
          " by different runs into one file (vlmscale run --allow-mixed), not by the grid; a fit "
          "does not pool them as seeds. Groups: " +
          Join(listed, "; ") + ". Fit one with --filter KEY=VALUE, or each apart with --group-by " +
          Join(mixed, ","));
    }
    group_keys = varied;
  } else {
    group_keys = options.group_by;
    std::sort(group_keys.begin(), group_keys.end());
    group_keys.erase(std::unique(group_keys.begin(), group_keys.end()), group_keys.end());
    for (const auto& k : varied) {
      if (!std::binary_search(group_keys.begin(), group_keys.end(), k)) pooled.push_back(k);
    }
  }
  using Settings = std::vector<std::pair<std::string, std::string>>;
  auto settings_of = [&](const store::JobRecord& r) {
    Settings out;
    for (const auto& k : group_keys) out.emplace_back(k, store::SettingValue(r, k));
    return out;
  };
  // A stage's own axes (e.g. benchmark=gqa) are averaged per (task, method, settings, N, T, seed)
  // first.
  using SeedKey = std::tuple<std::string, std::string, Settings, double, int64_t, int64_t>;
  std::map<SeedKey, std::vector<const store::JobRecord*>> over_axes;
  // (task, method, settings) -> (N, T) -> errors with their job ids.
  using PointKey = std::tuple<double, int64_t>;
  using GroupKey = std::tuple<std::string, std::string, Settings>;
  struct Entry {
    double first;        // The error.
    std::string second;  // Who: the job, or the jobs averaged over the stage's own axes.
    std::vector<const store::JobRecord*> records;  // The jobs behind it.
  };
  std::map<GroupKey, std::map<PointKey, std::vector<Entry>>> groups;
  size_t done = 0;
  for (const auto* rp : used) {
    const store::JobRecord& r = *rp;
    ++done;
    const std::string who = "job " + r.job_id + " (task=" + r.task + ", method=" + r.method +
                            ", llm=" + r.llm + ", T=" + std::to_string(r.visual_tokens) +
                            ", seed=" + std::to_string(r.seed) + ")";
    if (!std::isfinite(r.error)) {
      return Status::InvalidInput(who + " is done but its error metric is " +
                                  FormatNumber(r.error) + "; rerun it or filter it out");
    }
    if (!r.axes.empty()) {
      over_axes[{r.task, r.method, settings_of(r), r.n_params, r.visual_tokens, r.seed}].push_back(
          &r);
      continue;
    }
    groups[{r.task, r.method, settings_of(r)}][{r.n_params, r.visual_tokens}].push_back(
        {r.error, who, {&r}});
  }
  for (const auto& [key, jobs] : over_axes) {
    double sum = 0.0;
    std::vector<std::string> axes;
    for (const auto* r : jobs) {
      sum += r->error;
      axes.push_back(r->axes);
    }
    const auto& [task, method, settings, n, t, seed] = key;
    std::string label = "mean over " + std::to_string(jobs.size()) + " jobs (" + Join(axes, "; ") +
                        ") at N=" + FormatNumber(n) + ", T=" + std::to_string(t) +
                        ", seed=" + std::to_string(seed);
    groups[{task, method, settings}][{n, t}].push_back(
        {sum / static_cast<double>(jobs.size()), label, jobs});
  }
  if (groups.empty()) {
    return Status::InvalidInput(done == 0 && !records.empty()
                                    ? "no done jobs match (" + std::to_string(records.size()) +
                                          " records" + (stage.empty() ? "" : ", stage " + stage) +
                                          "; check --filter and that the sweep has finished jobs)"
                                    : "no done jobs to fit (empty group)");
  }
  std::vector<ObservationGroup> out;
  for (const auto& [key, points] : groups) {
    ObservationGroup g;
    g.task = std::get<0>(key);
    g.method = std::get<1>(key);
    g.settings = std::get<2>(key);
    g.pooled_settings = pooled;
    const std::string group_name = GroupName(g.task, g.method, g.settings);
    double ss_within = 0.0;
    int replicates = 0;
    std::vector<std::pair<int, double>> point_spread;  // (seeds, own variance) per point.
    std::vector<double> qs;
    for (const auto& [pk, errors] : points) {
      const double n = std::get<0>(pk);
      const double t = static_cast<double>(std::get<1>(pk));
      double sum = 0.0;
      for (const auto& e : errors) {
        g.num_jobs += static_cast<int>(e.records.size());
        sum += e.first;
        for (const auto* r : e.records) {
          g.jobs.push_back({r->job_id, ResultHash(*r)});
          if (std::isfinite(r->inference_flops) && r->n_params > 0) {
            qs.push_back(std::round(r->inference_flops / (2.0 * r->n_params) -
                                    static_cast<double>(r->visual_tokens)));
          }
        }
      }
      const double mean = sum / errors.size();
      double own_ss = 0.0;
      for (const auto& e : errors) own_ss += (e.first - mean) * (e.first - mean);
      point_spread.push_back({static_cast<int>(errors.size()),
                              errors.size() >= 2 ? own_ss / (errors.size() - 1) : std::nan("")});
      if (errors.size() >= 2) {
        ss_within += own_ss;
        g.seed_noise.dof += static_cast<int>(errors.size()) - 1;
        ++g.seed_noise.points_with_replicates;
      }
      if (options.average_seeds) {
        replicates += static_cast<int>(errors.size());
        std::string label = errors.size() == 1
                                ? errors[0].second
                                : "mean of " + std::to_string(errors.size()) +
                                      " seeds at N=" + FormatNumber(n) + ", T=" + FormatNumber(t) +
                                      " (" + group_name + ")";
        g.observations.Add(n, t, mean, label);
      } else {
        for (const auto& e : errors) g.observations.Add(n, t, e.first, e.second);
        replicates += static_cast<int>(errors.size());
      }
    }
    if (g.seed_noise.dof > 0) g.seed_noise.sd = std::sqrt(ss_within / g.seed_noise.dof);
    const double pooled = g.seed_noise.sd * g.seed_noise.sd;
    if (options.seed_weights && options.average_seeds && g.seed_noise.dof > 0 && pooled > 0) {
      for (const auto& [k, own] : point_spread) {
        const double var = k >= 2 ? std::max(own, 0.25 * pooled) : pooled;
        g.observations.weights.push_back(k / var);
      }
    }
    g.seed_noise.mean_replicates =
        options.average_seeds ? static_cast<double>(replicates) / g.observations.size() : 1.0;
    if (!qs.empty() && std::all_of(qs.begin(), qs.end(), [&](double q) { return q == qs[0]; }) &&
        qs[0] >= 0) {
      g.text_tokens = qs[0];
    }
    std::sort(g.jobs.begin(), g.jobs.end(),
              [](const UsedJob& a, const UsedJob& b) { return a.job_id < b.job_id; });
    out.push_back(std::move(g));
  }
  return out;
}

}  // namespace vlmscale::fit
