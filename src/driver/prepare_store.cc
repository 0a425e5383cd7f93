#include "driver/prepare_store.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <unordered_map>

#include "config.h"
#include "core/hash.h"
#include "core/strings.h"
#include "jobs/job_type.h"
#include "store/settings.h"

namespace vlmscale::driver {

namespace {

// Journal bytes PrepareStore() buffers before it commits them (see there). Small enough that the
// buffer (and its growth by doubling) is no part of rank 0's peak; a commit per ~1,700 jobs costs
// one fdatasync.
constexpr size_t kPrepareCommitBytes = size_t{1} << 20;

int ReportStoreError(const Status& s) {
  std::cerr << "vlmscale run: error: results store: " << s.message() << std::endl;
  return ExitCodeFor(s);
}

// The settings the store keeps for each job of the sweep: each distinct text once (a sweep has a
// few: one per stage and swept value), and per job the index of its own.
struct SweepSettingsTexts {
  std::vector<std::string> texts;   // Distinct settings texts.
  std::vector<std::string> hashes;  // HexId of each of `texts`.
  std::vector<uint32_t> of_job;     // Per job: its index into texts.
  std::string swept;                // The sweep's swept keys, comma-separated.

  const std::string& text(size_t job) const { return texts[of_job[job]]; }
  const std::string& hash(size_t job) const { return hashes[of_job[job]]; }
};

SweepSettingsTexts SettingsOfSweep(const config::Sweep& sweep) {
  SweepSettingsTexts out;
  std::map<std::string, uint32_t> index;
  out.of_job.reserve(sweep.jobs.size());
  for (const config::JobSpec& j : sweep.jobs) {
    std::string text = config::JobSettingsText(sweep, j);
    auto [it, inserted] = index.try_emplace(text, static_cast<uint32_t>(out.texts.size()));
    if (inserted) {
      out.hashes.push_back(HexId(text));
      out.texts.push_back(std::move(text));
    }
    out.of_job.push_back(it->second);
  }
  out.swept = Join(sweep.swept_keys, ",");
  return out;
}

// Settings of the jobs of the config stored in the results file (the last run's resolved config):
// what a file written before vlmscale kept settings says about its jobs. Empty if the file has
// no config or it no longer plans.
// *problem says why the stored config could not be planned ("" if it could, or there is none).
std::unordered_map<std::string, std::string> SettingsOfStoredConfig(const std::string& path,
                                                                    const std::string& config_text,
                                                                    std::string* problem) {
  std::unordered_map<std::string, std::string> by_id;
  if (config_text.empty()) return by_id;
  Result<config::Config> cfg =
      jobs::ConfigFromString(config_text, path + " (its stored config)", {});
  if (!cfg.ok()) {
    *problem = cfg.status().message();
    return by_id;
  }
  Result<config::Sweep> old = jobs::PlanSweep(*cfg);
  if (!old.ok()) {
    *problem = old.status().message();
    return by_id;
  }
  for (const config::JobSpec& j : old->jobs) by_id[j.id] = config::JobSettingsText(*old, j);
  return by_id;
}

// How the settings of the file's other jobs differ from this sweep's, key by key.
struct SettingsMismatch {
  std::set<std::string> file_values;
  std::string config_value;
  int64_t jobs = 0;
};

std::string Shown(const std::string& v) { return v.empty() ? "(default)" : v; }

Status CheckSettings(const config::Sweep& sweep, const SweepSettingsTexts& settings,
                     const DriverOptions& options, const std::string& stored_config_text,
                     store::ResultsStore* s) {
  std::unordered_map<std::string, size_t> index;
  for (size_t i = 0; i < sweep.jobs.size(); ++i) index[sweep.jobs[i].id] = i;
  // This sweep's settings per stage (those of its first job: the stage's base).
  std::map<std::string, std::map<std::string, std::string>> stage_settings;
  for (size_t i = 0; i < sweep.jobs.size(); ++i) {
    const std::string& stage = sweep.stage_of(sweep.jobs[i]).name;
    if (!stage_settings.count(stage)) {
      stage_settings[stage] = store::ParseSettings(settings.text(i));
    }
  }
  std::vector<store::JobRecord> unknown;  // Other jobs without settings (older files).
  std::vector<store::JobRecord> others;   // Other jobs with settings.
  for (size_t row = 0; row < s->job_count(); ++row) {
    if (index.count(s->job_id(row))) continue;
    store::JobRecord r = s->job(row);
    (r.settings_hash.empty() ? unknown : others).push_back(std::move(r));
  }
  if (!unknown.empty()) {
    // Jobs of an older vlmscale that are not this sweep's: the file's stored config may know them.
    std::string stored_problem;
    const auto stored = SettingsOfStoredConfig(sweep.output, stored_config_text, &stored_problem);
    std::vector<store::JobRecord> still_unknown;
    for (store::JobRecord& r : unknown) {
      auto it = stored.find(r.job_id);
      if (it == stored.end()) {
        still_unknown.push_back(r);
        continue;
      }
      r.settings = it->second;
      r.settings_hash = HexId(it->second);
      VLM_RETURN_IF_ERROR(s->Append(r));  // Kept from now on (the file is upgraded).
      others.push_back(r);
    }
    if (!still_unknown.empty() && !options.allow_mixed) {
      return Status::InvalidInput(
          sweep.output + " holds " + std::to_string(still_unknown.size()) + " jobs (e.g. " +
          still_unknown.front().job_id +
          ") written by an older vlmscale that did not record their settings; they are not jobs "
          "of this config nor of the config stored in the file" +
          (stored_problem.empty() ? std::string()
                                  : " (which this vlmscale cannot plan: " + stored_problem + ")") +
          ", so whether they were made with the same settings is unknown. Write this sweep to "
          "another file (--set sweep.output=...), or pass --allow-mixed to add it anyway");
    }
  }
  // Key -> how the other jobs differ from this sweep.
  std::map<std::string, SettingsMismatch> diff;
  const std::set<std::string> swept(sweep.swept_keys.begin(), sweep.swept_keys.end());
  for (const store::JobRecord& r : others) {
    auto st = stage_settings.find(r.stage);
    if (st == stage_settings.end()) continue;  // A stage this config no longer has.
    const std::map<std::string, std::string> theirs = store::ParseSettings(r.settings);
    std::set<std::string> keys;
    for (const auto& kv : theirs) keys.insert(kv.first);
    for (const auto& kv : st->second) keys.insert(kv.first);
    for (const std::string& k : keys) {
      if (swept.count(k)) continue;  // Varied by this sweep's grid: a value among others.
      auto a = theirs.find(k);
      auto b = st->second.find(k);
      const std::string va = a == theirs.end() ? "" : a->second;
      const std::string vb = b == st->second.end() ? "" : b->second;
      if (va == vb) continue;
      SettingsMismatch& m = diff[k];
      m.file_values.insert(va);
      m.config_value = vb;
      ++m.jobs;
    }
  }
  if (diff.empty()) return Status::OK();
  std::vector<std::string> lines, keys;
  for (const auto& [k, m] : diff) {
    std::vector<std::string> values;
    for (const auto& v : m.file_values) values.push_back(Shown(v));
    lines.push_back("  " + k + ": " + Join(values, ", ") + " in " + std::to_string(m.jobs) +
                    " jobs of the file, " + Shown(m.config_value) + " in this config");
    keys.push_back(k);
  }
  if (options.allow_mixed) {
    std::cout << "vlmscale run: --allow-mixed: " << sweep.output
              << " now holds jobs with different " << Join(keys, ", ")
              << "; export, status and fit keep them apart as varied settings" << std::endl;
    return Status::OK();
  }
  return Status::InvalidInput(
      sweep.output + " holds jobs made with other settings than this config (" + Join(keys, ", ") +
      "):\n" + Join(lines, "\n") +
      "\nA results file is one study. Write this sweep to another file (--set "
      "sweep.output=...), vary the key in [grid] to study it, or pass --allow-mixed to keep both "
      "in this file (the keys become varied columns of export, status and fit)");
}

}  // namespace

bool MakeDirs(const std::string& path) {
  std::string cur;
  for (const auto& part : SplitTrimmed(path, '/')) {
    cur += "/" + part;
    if (part.empty()) continue;
    if (mkdir(cur.c_str(), 0755) != 0 && errno != EEXIST) return false;
  }
  return true;
}

int PrepareStore(const std::string& config_text, const config::Sweep& sweep,
                 const DriverOptions& options, std::unique_ptr<store::ResultsStore>* out,
                 std::vector<bool>* runnable) {
  std::string dir = sweep.output.substr(0, sweep.output.rfind('/'));
  if (!dir.empty() && !MakeDirs(dir)) {
    std::cerr << "vlmscale run: error: cannot create directory " << dir << ": "
              << std::strerror(errno) << std::endl;
    return kExitFailure;
  }
  store::StoreOptions so;
  so.path = sweep.output;
  so.sweep_name = sweep.name;
  so.config_text = config_text;
  so.fresh = options.fresh;
  so.snapshot_interval_seconds = options.snapshot_seconds;
  // The config the file was last written with (Open records the new one): it tells the settings
  // of jobs that files written before records kept settings hold.
  std::string stored_config_text;
  if (!options.fresh) {
    Result<store::ResultsFile> previous = store::ReadResults(sweep.output);
    if (previous.ok()) stored_config_text = previous->config_text;
  }
  Result<std::unique_ptr<store::ResultsStore>> st = store::ResultsStore::Open(so);
  if (!st.ok()) {
    std::cerr << "vlmscale run: error: " << st.status().message() << std::endl;
    return ExitCodeFor(st.status());
  }
  std::unique_ptr<store::ResultsStore> s = std::move(*st);
  if (!s->warning().empty()) std::cerr << "vlmscale run: warning: " << s->warning() << std::endl;
  if (!s->moved_aside_path().empty()) {
    std::cout << "vlmscale run: --fresh: moved the previous results to " << s->moved_aside_path()
              << std::endl;
  }
  const SweepSettingsTexts settings = SettingsOfSweep(sweep);
  Status mixed = CheckSettings(sweep, settings, options, stored_config_text, s.get());
  if (!mixed.ok()) {
    std::cerr << "vlmscale run: error: " << mixed.message() << std::endl;
    return ExitCodeFor(mixed);
  }
  int64_t new_jobs = 0;
  runnable->assign(sweep.jobs.size(), true);
  for (size_t i = 0; i < sweep.jobs.size(); ++i) {
    // Journal the grid in pieces: rank 0 never holds the encoded entries of a whole large grid
    // (~0.6 KB per job) at once. A crash in between leaves jobs journaled as pending, which the
    // next run finds as such.
    if (s->buffered_bytes() >= kPrepareCommitBytes) {
      Status c = s->Commit();
      if (!c.ok()) return ReportStoreError(c);
    }
    const config::JobSpec& j = sweep.jobs[i];
    const int64_t row = s->job_index(j.id);
    if (row >= 0) {
      store::JobRecord rec = s->job(static_cast<size_t>(row));
      bool changed = false;
      if (rec.settings_hash.empty()) {
        // Written before vlmscale kept settings: same id, same settings, so this sweep's are its.
        rec.settings = settings.text(i);
        rec.settings_hash = settings.hash(i);
        rec.swept = settings.swept;
        changed = true;
      }
      if (rec.state == store::JobState::kDone) {
        (*runnable)[i] = false;
      } else if (rec.state == store::JobState::kRunning || rec.state == store::JobState::kBlocked) {
        // Interrupted by a crash, or waiting for a failed job this run retries: run it again.
        rec.state = store::JobState::kPending;
        changed = true;
      }
      if (changed) {
        Status a = s->Append(rec);
        if (!a.ok()) return ReportStoreError(a);
      }
      continue;
    }
    store::JobRecord rec;
    rec.job_id = j.id;
    rec.llm = j.point.llm;
    rec.n_params = j.point.n_params;
    rec.visual_tokens = j.point.visual_tokens;
    rec.method = j.point.method;
    rec.task = j.point.task;
    rec.seed = j.point.seed;
    rec.stage = sweep.stage_of(j).name;
    std::vector<std::string> needs, axes;
    for (int64_t p : j.parents) needs.push_back(sweep.jobs[p].id);
    for (const auto& [name, value] : j.point.axes) axes.push_back(name + "=" + value);
    rec.needs = Join(needs, ",");
    rec.axes = Join(axes, ",");
    rec.state = store::JobState::kPending;
    rec.est_cost = j.est_cost;
    rec.inference_flops = j.inference_flops;
    rec.settings = settings.text(i);
    rec.settings_hash = settings.hash(i);
    rec.swept = settings.swept;
    Status a = s->Append(rec);
    if (!a.ok()) return ReportStoreError(a);
    ++new_jobs;
  }
  // The run record: what started this run, kept in the file for good (status --history).
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  const nlohmann::json run = {
      {"time",
       std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count()},
      {"host", host},
      {"vlmscale_version", VLMSCALE_VERSION},
      {"git_commit", VLMSCALE_GIT_COMMIT},
      {"config", options.config_path},
      {"overrides", options.overrides},
      {"allow_mixed", options.allow_mixed},
      {"fresh", options.fresh},
      {"jobs", sweep.jobs.size()},
      {"new_jobs", new_jobs},
      {"swept", sweep.swept_keys},
      {"config_text", config_text}};
  Status r = s->AddRun(run.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  if (!r.ok()) return ReportStoreError(r);
  Status c = s->Commit();
  if (!c.ok()) return ReportStoreError(c);
  *out = std::move(s);
  return kExitOk;
}

}  // namespace vlmscale::driver
