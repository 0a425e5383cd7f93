// Crash and concurrency tests of the results store: writers killed with SIGKILL at random moments,
// and a reader process running while a writer commits and snapshots.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "store/results_store.h"
#include "tests/store/store_test_util.h"

namespace vlmscale::store {
namespace {

using testing::MakeRecord;
using testing::ScratchDir;

StoreOptions WriterOptions(const std::string& path, double snapshot_interval) {
  StoreOptions o;
  o.path = path;
  o.sweep_name = "crash-sweep";
  o.config_text = "name: crash-sweep\n";
  o.snapshot_interval_seconds = snapshot_interval;
  return o;
}

// Child body: opens the store, appends records numbered from the current job count on, commits
// them in groups of 1..8 and writes each acknowledged number to `ack_fd` only after Commit()
// returned OK. Runs until killed; exits 3 on any store error.
[[noreturn]] void WriterLoop(const std::string& path, int ack_fd, unsigned seed,
                             double snapshot_interval) {
  auto opened = ResultsStore::Open(WriterOptions(path, snapshot_interval));
  if (!opened.ok()) _exit(3);
  ResultsStore& store = *opened.value();
  std::mt19937 rng(seed);
  int next = static_cast<int>(store.job_count());
  while (true) {
    const int group = 1 + static_cast<int>(rng() % 8);
    std::vector<int32_t> acks;
    for (int k = 0; k < group; ++k, ++next) {
      // Each job goes running -> done, so files hold both states mid-sweep.
      if (!store.Append(MakeRecord(next, JobState::kRunning)).ok()) _exit(3);
      if (!store.Append(MakeRecord(next, JobState::kDone)).ok()) _exit(3);
      acks.push_back(next);
    }
    if (!store.Commit().ok()) _exit(3);
    if (write(ack_fd, acks.data(), acks.size() * sizeof(int32_t)) < 0) _exit(4);
    if (!store.MaybeSnapshot().ok()) _exit(3);
  }
}

TEST(Durability, EveryAcknowledgedJobSurvivesRepeatedSigkills) {
  ScratchDir dir;
  const std::string path = dir.File("crash.h5");
  const unsigned seed = std::random_device{}();
  std::mt19937 rng(seed);
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::set<int32_t> acknowledged;
  int kills_during_snapshot = 0;  // Kills that left a half-written snapshot behind.
  constexpr int kKills = 12;
  for (int round = 0; round < kKills; ++round) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(fds[0]);
      // Odd rounds snapshot after every commit, so that kills often land mid-snapshot.
      WriterLoop(path, fds[1], seed + round, round % 2 ? 0.0 : 0.01);
    }
    close(fds[1]);
    // Kill somewhere between startup (Open and its snapshot) and well into the loop. Even rounds
    // first wait for the writer's first acknowledgement, so that a slow start (a loaded machine,
    // a sanitizer build) still leaves acknowledged jobs to check.
    if (round % 2 == 0) {
      int32_t first;
      if (read(fds[0], &first, sizeof(first)) == sizeof(first)) acknowledged.insert(first);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5 + rng() % 200));
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status)) << "writer exited early with " << WEXITSTATUS(status);
    if (access((path + ".tmp").c_str(), F_OK) == 0) ++kills_during_snapshot;
    int32_t id;
    while (read(fds[0], &id, sizeof(id)) == sizeof(id)) acknowledged.insert(id);
    close(fds[0]);

    auto file = ReadResults(path);
    if (!file.ok() && file.status().code() == Status::Code::kNotFound && acknowledged.empty()) {
      continue;  // Killed before the store made its file (a slow start): nothing to lose yet.
    }
    ASSERT_TRUE(file.ok()) << "round " << round << ": " << file.status().ToString();
    std::map<std::string, int> count;
    for (const JobRecord& r : file->jobs) ++count[r.job_id];
    for (const auto& [job_id, n] : count) ASSERT_EQ(n, 1) << job_id;
    // Jobs are in grid order 0..n-1 and each is an exact, untorn record.
    for (size_t i = 0; i < file->jobs.size(); ++i) {
      const JobRecord& r = file->jobs[i];
      JobRecord expected = MakeRecord(static_cast<int>(i), r.state);
      ASSERT_EQ(r.job_id, expected.job_id) << "round " << round << " row " << i;
      ASSERT_EQ(r.host, expected.host);
      ASSERT_EQ(r.start_time, expected.start_time);
    }
    for (int32_t a : acknowledged) {
      ASSERT_LT(static_cast<size_t>(a), file->jobs.size()) << "acknowledged job " << a << " lost";
      ASSERT_EQ(file->jobs[a].state, JobState::kDone) << "acknowledged job " << a;
    }
  }
  EXPECT_GT(acknowledged.size(), 0u);
  std::printf("%d SIGKILLs (%d mid-snapshot), %zu acknowledged jobs, all present exactly once\n",
              kKills, kills_during_snapshot, acknowledged.size());
  // A writer resumes the file and finishes cleanly.
  auto store = ResultsStore::Open(WriterOptions(path, 2.0));
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  const size_t before = store.value()->job_count();
  ASSERT_TRUE(store.value()->Append(MakeRecord(static_cast<int>(before))).ok());
  ASSERT_TRUE(store.value()->Close().ok());
  auto file = ReadResults(path);
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(file->jobs.size(), before + 1);
  EXPECT_EQ(file->journal_entries, 0);
}

TEST(Durability, AReaderSeesConsistentGrowingCountsWhileTheWriterCommits) {
  ScratchDir dir;
  const std::string path = dir.File("live.h5");
  constexpr int kJobs = 3000;
  {
    // Create the file first so the reader never races the very first snapshot.
    auto store = ResultsStore::Open(WriterOptions(path, 0.005));
    ASSERT_TRUE(store.ok());
  }
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto opened = ResultsStore::Open(WriterOptions(path, 0.005));
    if (!opened.ok()) _exit(3);
    ResultsStore& store = *opened.value();
    for (int i = 0; i < kJobs; ++i) {
      if (!store.Append(MakeRecord(i, JobState::kRunning)).ok()) _exit(3);
      if (!store.Append(MakeRecord(i, JobState::kDone)).ok()) _exit(3);
      if (i % 16 == 15 && !store.Commit().ok()) _exit(3);
      if (!store.MaybeSnapshot().ok()) _exit(3);
    }
    _exit(store.Close().ok() ? 0 : 3);
  }
  size_t last_done = 0;
  int reads = 0;
  int status = 0;
  bool finished = false;
  while (!finished) {
    finished = waitpid(pid, &status, WNOHANG) == pid;
    auto file = ReadResults(path);
    ASSERT_TRUE(file.ok()) << file.status().ToString();
    ++reads;
    size_t done = 0;
    for (size_t i = 0; i < file->jobs.size(); ++i) {
      const JobRecord& r = file->jobs[i];
      ASSERT_EQ(r.job_id, MakeRecord(static_cast<int>(i)).job_id)
          << "row " << i << " of " << file->jobs.size() << " (" << file->journal_entries
          << " journal entries): a read mixed two moments of the writer";
      if (r.state == JobState::kDone) ++done;
    }
    // Each job is appended running then done before any commit or snapshot.
    ASSERT_EQ(done, file->jobs.size());
    ASSERT_GE(done, last_done) << "a reader saw the done count go backwards";
    ASSERT_EQ(file->events.size(), 2 * done) << "events and records disagree";
    last_done = done;
  }
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  auto file = ReadResults(path);
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(file->jobs.size(), static_cast<size_t>(kJobs));
  EXPECT_GT(reads, 3);
  std::printf("reader made %d consistent reads during the run\n", reads);
}

}  // namespace
}  // namespace vlmscale::store
