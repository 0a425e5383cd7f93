// The driver in one MPI job, in-process: RunSweep on 2 ranks, rank 0 running the coordinator
// thread next to its worker loop and liveness thread, with sleep jobs. Built and run under
// ThreadSanitizer by scripts/test.sh (build-tsan/, label sanitize) and under ASan+UBSan
// (build-asan/); in the main build it is an ordinary mpi test.
#include <gtest/gtest.h>
#include <mpi.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "config/config.h"
#include "config/sweep.h"
#include "core/check.h"
#include "driver/driver.h"
#include "jobs/job_type.h"
#include "store/results_store.h"

namespace vlmscale::driver {
namespace {

int Rank() {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}

// A directory every rank sees (rank 0 creates it and broadcasts its name).
std::string SharedScratchDir() {
  char path[256] = {0};
  if (Rank() == 0) {
    const char* base = std::getenv("TMPDIR");
    std::string templ = std::string(base ? base : "/tmp") + "/vlmscale_driver_XXXXXX";
    CHECK(mkdtemp(templ.data()) != nullptr) << "mkdtemp failed";
    CHECK(templ.size() < sizeof(path));
    templ.copy(path, templ.size());
  }
  MPI_Bcast(path, sizeof(path), MPI_CHAR, 0, MPI_COMM_WORLD);
  return path;
}

config::Config SleepConfig(const std::string& output, const std::string& extra) {
  const std::string text =
      "[sweep]\nname = threads\noutput = " + output +
      "\n[grid]\nllm = nano, micro, mini\nvisual_tokens = 1, 4, 9\nmethod = avgpool\n"
      "task = shapes\nseed = 0, 1\n[job]\ntype = sleep\n[sleep]\nmode = cost\nseconds = 0.05\n" +
      extra;
  Result<config::Config> c = jobs::ConfigFromString(text, "threads.ini", {});
  CHECK(c.ok()) << c.status().ToString();
  return *c;
}

// The run settings come in DriverOptions (vlmscale run fills them from [run]).
int RunOnce(const config::Config& c, DriverOptions options) {
  Result<config::Sweep> sweep = jobs::PlanSweep(c);
  CHECK(sweep.ok()) << sweep.status().ToString();
  options.quiet = true;
  return RunSweep(c, *sweep, options);
}

DriverOptions RetryOptions() {
  DriverOptions o;
  o.max_attempts = 3;
  o.commit_ms = 2;
  return o;
}

std::map<std::string, store::JobRecord> ReadJobs(const std::string& path) {
  Result<store::ResultsFile> file = store::ReadResults(path);
  CHECK(file.ok()) << file.status().ToString();
  std::map<std::string, store::JobRecord> jobs;
  for (const auto& j : file->jobs) jobs[j.job_id] = j;
  return jobs;
}

TEST(DriverThreads, RunsEveryJobRetriesFailuresAndResumesWithoutRerunning) {
  const std::string dir = SharedScratchDir();
  const std::string output = dir + "/results.h5";
  // Jobs of llm=micro fail on their first attempt and succeed on the second.
  config::Config c = SleepConfig(output, "fail = llm=micro\nfail_attempts = 1\n");
  EXPECT_EQ(RunOnce(c, RetryOptions()), 0);
  MPI_Barrier(MPI_COMM_WORLD);
  if (Rank() == 0) {
    std::map<std::string, store::JobRecord> jobs = ReadJobs(output);
    ASSERT_EQ(jobs.size(), 18u);
    std::vector<int> ranks_used(2, 0);
    for (const auto& [id, r] : jobs) {
      SCOPED_TRACE(id + " " + r.llm);
      EXPECT_EQ(r.state, store::JobState::kDone);
      EXPECT_EQ(r.attempts, r.llm == "micro" ? 2 : 1);
      EXPECT_FALSE(std::isnan(r.error));
      ASSERT_GE(r.rank, 0);
      ASSERT_LT(r.rank, 2);
      ++ranks_used[r.rank];
    }
    EXPECT_GT(ranks_used[0], 0) << "rank 0 runs jobs next to the coordinator";
    EXPECT_GT(ranks_used[1], 0);
  }
  // Resume: every job is done, nothing runs again (start times unchanged).
  std::map<std::string, store::JobRecord> before;
  if (Rank() == 0) before = ReadJobs(output);
  EXPECT_EQ(RunOnce(c, RetryOptions()), 0);
  MPI_Barrier(MPI_COMM_WORLD);
  if (Rank() == 0) {
    std::map<std::string, store::JobRecord> after = ReadJobs(output);
    ASSERT_EQ(after.size(), before.size());
    for (const auto& [id, r] : after) {
      EXPECT_EQ(r.start_time, before.at(id).start_time) << id;
      EXPECT_EQ(r.attempts, before.at(id).attempts) << id;
    }
    std::filesystem::remove_all(dir);
  }
}

// Leaves the driver's stop flag set: keep it the last test of this file.
TEST(DriverThreads, StopSignalOnRankZeroEndsEveryRankWith75AndKeepsFinishedJobs) {
  const std::string dir = SharedScratchDir();
  const std::string output = dir + "/results.h5";
  // 18 jobs of 0.4 s on 2 ranks take 3.6 s; the signal comes after 0.5 s.
  Result<config::Config> slow = jobs::ConfigFromString(
      "[sweep]\nname = threads\noutput = " + output +
          "\n[grid]\nllm = nano, micro, mini\nvisual_tokens = 1, 4, 9\nmethod = avgpool\n"
          "task = shapes\nseed = 0, 1\n[job]\ntype = sleep\n[sleep]\nseconds = 0.4\n"
          "",
      "threads.ini", {});
  ASSERT_TRUE(slow.ok()) << slow.status().ToString();
  InstallStopHandlers();
  std::thread signaller;
  if (Rank() == 0) {
    signaller = std::thread([] {
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      kill(getpid(), SIGUSR1);
    });
  }
  DriverOptions options;
  options.grace_seconds = 5;
  options.commit_ms = 2;
  EXPECT_EQ(RunOnce(*slow, options), 75);
  if (signaller.joinable()) signaller.join();
  MPI_Barrier(MPI_COMM_WORLD);
  if (Rank() == 0) {
    std::map<std::string, store::JobRecord> jobs = ReadJobs(output);
    ASSERT_EQ(jobs.size(), 18u);
    int done = 0, pending = 0;
    for (const auto& [id, r] : jobs) {
      EXPECT_NE(r.state, store::JobState::kRunning) << id << ": a stopped job is pending again";
      EXPECT_NE(r.state, store::JobState::kFailed) << id;
      done += r.state == store::JobState::kDone;
      pending += r.state == store::JobState::kPending;
    }
    EXPECT_GT(pending, 0) << "the stop came before the sweep could finish";
    EXPECT_EQ(done + pending, 18);
    std::filesystem::remove_all(dir);
  }
}

}  // namespace
}  // namespace vlmscale::driver
