// Test-only helper: writes a results file through the ResultsStore API so the script tests
// (h5py layout, vlmscale status/export) have one without running the driver.
//
//   store_make_results PATH [--sweep NAME] [--done N] [--failed N] [--running N] [--pending N]
//                      [--run-info JSON] [--curves] [--no-close] [--live SECONDS]
//
// Jobs are testing::MakeRecord(i) for i = 0, 1, ... in the order done, failed, running, pending.
// --no-close leaves the last records in the journal only (like a running writer); --live keeps
// appending one done job every 20 ms for SECONDS, committing each, then closes.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "store/results_store.h"
#include "tests/store/store_test_util.h"

using vlmscale::store::JobRecord;
using vlmscale::store::JobState;

namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

int Fail(const vlmscale::Status& s) {
  std::fprintf(stderr, "store_make_results: %s\n", s.ToString().c_str());
  return 1;
}

}  // namespace

#define RETURN_FAIL_IF_ERROR(expr) \
  do {                             \
    vlmscale::Status _s = (expr);  \
    if (!_s.ok()) return Fail(_s); \
  } while (0)

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: store_make_results PATH [options]\n");
    return 2;
  }
  vlmscale::store::StoreOptions options;
  options.path = argv[1];
  options.sweep_name = "demo-sweep";
  int done = 0, failed = 0, running = 0, pending = 0;
  std::string run_info;
  bool curves = false, close = true;
  double live = 0;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "store_make_results: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--sweep") {
      options.sweep_name = next();
    } else if (a == "--done") {
      done = std::atoi(next().c_str());
    } else if (a == "--failed") {
      failed = std::atoi(next().c_str());
    } else if (a == "--running") {
      running = std::atoi(next().c_str());
    } else if (a == "--pending") {
      pending = std::atoi(next().c_str());
    } else if (a == "--run-info") {
      run_info = next();
    } else if (a == "--curves") {
      curves = true;
    } else if (a == "--no-close") {
      close = false;
    } else if (a == "--live") {
      live = std::atof(next().c_str());
    } else {
      std::fprintf(stderr, "store_make_results: unknown option %s\n", a.c_str());
      return 2;
    }
  }
  options.config_text = "[sweep]\nname = " + options.sweep_name + "\n";
  options.snapshot_interval_seconds = 0.05;
  auto opened = vlmscale::store::ResultsStore::Open(options);
  if (!opened.ok()) return Fail(opened.status());
  vlmscale::store::ResultsStore& store = *opened.value();
  int id = static_cast<int>(store.job_count());
  auto add = [&](JobState state) {
    JobRecord r = vlmscale::store::testing::MakeRecord(id++, state);
    if (state == JobState::kRunning) r.start_time = Now() - 30;
    if (state == JobState::kDone) {
      r.start_time = Now() - 100;
      r.end_time = r.start_time + 10;  // Every finished job took 10 s: the ETA estimate's base.
      if (curves) r.curves = {{"train_loss", 1, 2.0}, {"train_loss", 2, 1.5}, {"eval/acc", 2, 0.5}};
    }
    if (state == JobState::kPending) {
      r.attempts = 0;
      r.start_time = r.end_time = 0;
    }
    return store.Append(r);
  };
  for (int i = 0; i < done; ++i) RETURN_FAIL_IF_ERROR(add(JobState::kDone));
  for (int i = 0; i < failed; ++i) RETURN_FAIL_IF_ERROR(add(JobState::kFailed));
  for (int i = 0; i < running; ++i) RETURN_FAIL_IF_ERROR(add(JobState::kRunning));
  for (int i = 0; i < pending; ++i) RETURN_FAIL_IF_ERROR(add(JobState::kPending));
  if (!run_info.empty()) {
    vlmscale::Status s = store.SetRunInfo(run_info);
    if (!s.ok()) return Fail(s);
  }
  vlmscale::Status s = store.Commit();
  if (!s.ok()) return Fail(s);
  const double end = Now() + live;
  while (Now() < end) {
    if (!(s = add(JobState::kDone)).ok() || !(s = store.Commit()).ok() ||
        !(s = store.MaybeSnapshot()).ok()) {
      return Fail(s);
    }
    usleep(20 * 1000);
  }
  if (close) {
    s = store.Close();
    if (!s.ok()) return Fail(s);
  }
  std::printf("%zu jobs in %s\n", store.job_count(), options.path.c_str());
  return 0;
}
