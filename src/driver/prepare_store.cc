#include "driver/prepare_store.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <iostream>

#include "core/strings.h"

namespace vlmscale::driver {

namespace {

int ReportStoreError(const Status& s) {
  std::cerr << "vlmscale run: error: results store: " << s.message() << std::endl;
  return ExitCodeFor(s);
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
  runnable->assign(sweep.jobs.size(), true);
  for (size_t i = 0; i < sweep.jobs.size(); ++i) {
    const config::JobSpec& j = sweep.jobs[i];
    auto it = s->jobs().find(j.id);
    if (it != s->jobs().end()) {
      store::JobRecord rec = it->second;
      if (rec.state == store::JobState::kDone) {
        (*runnable)[i] = false;
        continue;
      }
      if (rec.state == store::JobState::kRunning || rec.state == store::JobState::kBlocked) {
        // Interrupted by a crash, or waiting for a failed job this run retries: run it again.
        rec.state = store::JobState::kPending;
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
    Status a = s->Append(rec);
    if (!a.ok()) return ReportStoreError(a);
  }
  Status c = s->Commit();
  if (!c.ok()) return ReportStoreError(c);
  *out = std::move(s);
  return kExitOk;
}

}  // namespace vlmscale::driver
