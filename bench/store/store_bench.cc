// Results-store benchmark: Append+Commit throughput with group commit, a driver-like durable run
// (two appends per job, group commits, periodic snapshots), and snapshot/read time at 100k jobs.
//
//   store_bench [--jobs N] [--dir DIR]     (N: jobs of the snapshot and end-to-end runs; 100000)
//
// Prints measured figures next to their targets; never fails on a wall-clock number.
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "store/results_store.h"
#include "tests/store/store_test_util.h"

namespace vlmscale::store {
namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::unique_ptr<ResultsStore> OpenFresh(const std::string& path, double interval) {
  StoreOptions o;
  o.path = path;
  o.sweep_name = "bench";
  o.fresh = true;
  o.snapshot_interval_seconds = interval;
  auto store = ResultsStore::Open(o);
  CHECK(store.ok()) << store.status().ToString();
  return std::move(store.value());
}

void RemoveAll(const std::string& path) {
  std::string cmd = "rm -f '" + path + "' '" + path + "'.journal '" + path + "'.old-*";
  if (std::system(cmd.c_str()) != 0) std::fprintf(stderr, "cleanup of %s failed\n", path.c_str());
}

// Appends one figure to $VLMSCALE_BENCH_JSONL (bench/figures.py describes the line), if set.
void Emit(const std::string& figure, const std::string& value, const std::string& target,
          const std::string& comparison, const std::string& ratio) {
  const char* path = std::getenv("VLMSCALE_BENCH_JSONL");
  if (path == nullptr || *path == '\0') return;
  nlohmann::json line = {{"bench", "store"}, {"figure", figure},         {"value", value},
                         {"target", target}, {"comparison", comparison}, {"ratio", ratio}};
  std::FILE* f = std::fopen(path, "a");
  if (f == nullptr) return;
  std::fprintf(f, "%s\n", line.dump().c_str());
  std::fclose(f);
}

std::string Format(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), format, v);
  return buf;
}

double FileMiB(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? st.st_size / 1048576.0 : 0.0;
}

}  // namespace
}  // namespace vlmscale::store

int main(int argc, char** argv) {
  using namespace vlmscale::store;
  int jobs = 100000;
  std::string dir = "/tmp";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--jobs") jobs = std::atoi(argv[i + 1]);
    if (a == "--dir") dir = argv[i + 1];
  }
  const std::string path = dir + "/vlmscale_store_bench.h5";
  RemoveAll(path);

  // Pre-built records: the benchmark measures the store, not record construction.
  std::vector<JobRecord> records;
  records.reserve(jobs);
  for (int i = 0; i < jobs; ++i) records.push_back(testing::MakeRecord(i));

  std::printf("Append + Commit (zero-work records, journal only, no snapshots)\n");
  std::printf("%-22s %10s %12s %14s %12s\n", "records per commit", "records", "seconds",
              "records/s", "us/Append");
  for (int group : {1, 64, 1024}) {
    const int n = group == 1 ? 2000 : group == 64 ? 64 * 400 : 1024 * 60;
    auto store = OpenFresh(path, 1e9);
    double append_seconds = 0;
    const double t0 = Now();
    for (int i = 0; i < n; i += group) {
      const double a0 = Now();
      for (int k = 0; k < group && i + k < n; ++k) {
        CHECK(store->Append(records[(i + k) % jobs]).ok());
      }
      append_seconds += Now() - a0;
      CHECK(store->Commit().ok());
    }
    const double dt = Now() - t0;
    std::printf("%-22d %10d %12.3f %14.0f %12.2f\n", group, n, dt, n / dt,
                1e6 * append_seconds / n);
    Emit("Append + Commit, " + std::to_string(group) + " records per commit",
         Format("%.0f records/s", n / dt), "-",
         Format("%.2f us per Append; the rest is write + fdatasync", 1e6 * append_seconds / n),
         "-");
    store.reset();
    RemoveAll(path);
  }

  for (int jobs_per_commit : {64, 1024}) {
    std::printf(
        "\nDriver-like durable run: %d jobs, 2 appends each (running, done), Commit every "
        "%d jobs, then MaybeSnapshot (2 s), Close at the end\n",
        jobs, jobs_per_commit);
    auto store = OpenFresh(path, 2.0);
    const double t0 = Now();
    for (int i = 0; i < jobs; ++i) {
      JobRecord running = records[i];
      running.state = JobState::kRunning;
      CHECK(store->Append(running).ok());
      CHECK(store->Append(records[i]).ok());
      if (i % jobs_per_commit == jobs_per_commit - 1) {
        CHECK(store->Commit().ok());
        CHECK(store->MaybeSnapshot().ok());
      }
    }
    CHECK(store->Close().ok());
    const double dt = Now() - t0;
    std::printf(
        "  %.0f jobs/s durable overall (target >= 10000), %.2f s, %lld commits, "
        "%lld snapshots\n",
        jobs / dt, dt, static_cast<long long>(store->commits()),
        static_cast<long long>(store->snapshots()));
    Emit("driver-like durable run, " + std::to_string(jobs) + " jobs, commit every " +
             std::to_string(jobs_per_commit),
         Format("%.0f jobs/s", jobs / dt), ">= 10,000 jobs/s",
         std::to_string(store->commits()) + " commits, " + std::to_string(store->snapshots()) +
             " snapshots",
         Format("%.2fx target", jobs / dt / 10000));
    store.reset();
    RemoveAll(path);
  }

  std::printf("\nSnapshot and read of %d done jobs (no curves)\n", jobs);
  {
    auto store = OpenFresh(path, 1e9);
    for (int i = 0; i < jobs; ++i) CHECK(store->Append(records[i]).ok());
    CHECK(store->Commit().ok());
    double best = 1e9;
    for (int rep = 0; rep < 3; ++rep) {
      CHECK(store->Snapshot().ok());
      best = std::min(best, store->last_snapshot_seconds());
    }
    std::printf(
        "  Snapshot(): %.3f s best of 3 (file %.1f MiB; the 2 s snapshot interval "
        "bounds its share of the writer's time)\n",
        best, FileMiB(path));
    const double r0 = Now();
    auto file = ReadResults(path);
    CHECK(file.ok() && file->jobs.size() == static_cast<size_t>(jobs));
    const double read_seconds = Now() - r0;
    std::printf("  ReadResults(): %.3f s\n", read_seconds);
    Emit("Snapshot() of " + std::to_string(jobs) + " done jobs", Format("%.3f s", best), "-",
         Format("file %.1f MiB", FileMiB(path)) + Format("; ReadResults() %.3f s", read_seconds),
         "-");
  }
  RemoveAll(path);
  return 0;
}
