// The coordinator's logic in one process: InProcessControlChannel plays the leaders, a fake clock
// drives the commit window, stall detection and grace period, and a real ResultsStore on a
// temporary file records everything. No MPI, no sleeps: each test takes milliseconds.
#include "driver/coordinator.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/check.h"
#include "driver/in_process_control_channel.h"
#include "driver/prepare_store.h"
#include "driver/worker.h"
#include "store/results_store.h"

namespace vlmscale::driver {
namespace {

std::string TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string templ = std::string(base ? base : "/tmp") + "/vlmscale_coordinator_XXXXXX";
  CHECK(mkdtemp(templ.data()) != nullptr) << "mkdtemp failed";
  return templ;
}

// `n` jobs of one (llm, method, task) class with estimated cost 1.
config::Sweep MakeSweep(int n, const std::string& output) {
  config::Sweep s;
  s.name = "coordinator";
  s.output = output;
  config::StageSpec stage;
  stage.job_type = "sleep";
  stage.over = config::GridAxes();
  stage.job_count = n;
  s.stages.push_back(stage);
  for (int i = 0; i < n; ++i) {
    config::JobSpec j;
    j.index = i;
    char id[17];
    std::snprintf(id, sizeof(id), "%016x", 0xc0de00 + i);
    j.id = id;
    j.point = {"nano", 1e6, i + 1, "avgpool", "shapes", 0};
    j.est_cost = 1.0;
    j.inference_flops = 2e6;
    s.jobs.push_back(j);
  }
  s.max_est_cost = 1.0;
  return s;
}

// A sweep, its prepared store, the in-process channel with `groups` ranks (on one node), a fake
// clock and a coordinator printing into `out`.
class Harness {
 public:
  Harness(int jobs, int groups, DriverOptions options = DriverOptions())
      : dir_(TempDir()),
        sweep_(MakeSweep(jobs, dir_ + "/results.h5")),
        options_(options),
        channel_(groups) {
    topology_.world_size = groups;
    topology_.ranks_per_job = 1;
    for (int r = 0; r < groups; ++r) topology_.hosts.push_back("host" + std::to_string(r));
  }
  ~Harness() {
    coordinator_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Prepares the store (resuming whatever the file holds) and creates the coordinator.
  void Start() {
    ASSERT_EQ(PrepareStore("[sweep]\n", sweep_, options_, &store_, &runnable_), kExitOk);
    coordinator_ = std::make_unique<Coordinator>(
        &sweep_, &topology_, store_.get(), runnable_, options_, &channel_, &stop_,
        [this] { return now_; }, &out_);
  }

  // REQUIRES: before Start().
  config::Sweep& mutable_sweep() { return sweep_; }
  Coordinator& c() { return *coordinator_; }
  InProcessControlChannel& channel() { return channel_; }
  store::ResultsStore& store() { return *store_; }
  const config::Sweep& sweep() const { return sweep_; }
  std::string output() const { return out_.str(); }
  void Advance(double seconds) { now_ += seconds; }
  void RequestStop() { stop_.store(true); }

  // The next assignment of `group` (fails the test if there is none).
  AssignMessage Assigned(int group) {
    AssignMessage m;
    EXPECT_TRUE(channel_.TryReceiveAssign(group, &m)) << "no assignment for group " << group;
    return m;
  }
  bool HasAssignment(int group) {
    AssignMessage m;
    return channel_.TryReceiveAssign(group, &m);
  }

  store::JobRecord Record(int index) const {
    return store_->FindJob(sweep_.jobs[index].id).value();
  }
  // The job as a reader of the file sees it (what is durable).
  store::JobRecord OnDisk(int index) const {
    Result<store::ResultsFile> file = store::ReadResults(sweep_.output);
    CHECK(file.ok()) << file.status().ToString();
    for (const auto& j : file->jobs) {
      if (j.job_id == sweep_.jobs[index].id) return j;
    }
    CHECK(false) << "job " << index << " not in the file";
    return {};
  }

 private:
  std::string dir_;
  config::Sweep sweep_;
  DriverOptions options_;
  Topology topology_;
  InProcessControlChannel channel_;
  std::atomic<bool> stop_{false};
  double now_ = 1000.0;
  std::ostringstream out_;
  std::unique_ptr<store::ResultsStore> store_;
  std::vector<bool> runnable_;
  std::unique_ptr<Coordinator> coordinator_;
};

JobResultMessage MakeResult(const Assignment& a, Outcome outcome, double seconds) {
  JobResultMessage r;
  r.index = a.index;
  r.attempt = a.attempt;
  r.outcome = outcome;
  r.start_time = 5000.0;
  r.end_time = 5000.0 + seconds;
  if (outcome == Outcome::kDone) r.metrics = {{"error", 0.25}};
  if (outcome == Outcome::kFailed) {
    r.failure_class = "error";
    r.message = "boom at attempt " + std::to_string(a.attempt);
  }
  return r;
}

std::vector<JobResultMessage> AllDone(const AssignMessage& m, double seconds) {
  std::vector<JobResultMessage> out;
  for (const auto& a : m.batch) out.push_back(MakeResult(a, Outcome::kDone, seconds));
  return out;
}

// Both groups ask, each gets one job (nothing measured yet); group 0 returns its job after
// `seconds`; returns the batch group 0 gets next.
AssignMessage BatchAfterFirstJobTook(double seconds) {
  Harness h(20, 2);
  h.Start();
  h.channel().SendRequest(0, {});
  h.channel().SendRequest(1, {});
  h.c().Step();
  AssignMessage first = h.Assigned(0);
  EXPECT_EQ(first.batch.size(), 1u) << "nothing measured yet: one job per batch";
  EXPECT_EQ(h.Assigned(1).batch.size(), 1u);
  h.channel().SendRequest(0, AllDone(first, seconds));
  h.c().Step();
  AssignMessage next = h.Assigned(0);
  for (const auto& a : next.batch) {
    store::JobRecord r = h.Record(static_cast<int>(a.index));
    EXPECT_EQ(r.state, store::JobState::kRunning);
    EXPECT_EQ(r.attempts, 1);
    EXPECT_EQ(r.rank, 0);
    EXPECT_EQ(r.host, "host0");
  }
  return next;
}

TEST(Coordinator, BatchesJobsMeasuredShortAndSendsLongOnesOneAtATime) {
  // 1 ms per job: a batch fills ~10 ms.
  EXPECT_EQ(BatchAfterFirstJobTook(0.001).batch.size(), 10u);
  // 100 s per job: one job per batch keeps the queue dynamic.
  EXPECT_EQ(BatchAfterFirstJobTook(100.0).batch.size(), 1u);
}

TEST(Coordinator, StartsEachJobOnItsRanksBackfillsAndFreesRanksAsTheyReport) {
  Harness h(3, 4);
  h.mutable_sweep().jobs[0].ranks = 3;
  h.mutable_sweep().jobs[1].ranks = 2;
  h.Start();
  for (int r = 0; r < 4; ++r) h.channel().SendRequest(r, {});
  h.c().Step();
  // Job 0 (first in priority) takes 3 of the 4 idle ranks; job 1 (2 ranks) waits for ranks;
  // job 2 (1 rank) ends by job 1's reservation, so it backfills the fourth rank.
  for (int r = 0; r < 3; ++r) {
    AssignMessage m = h.Assigned(r);
    ASSERT_EQ(m.batch.size(), 1u);
    EXPECT_EQ(m.batch[0].index, 0);
    EXPECT_EQ(m.ranks, (std::vector<int>{0, 1, 2}));
  }
  AssignMessage small = h.Assigned(3);
  ASSERT_EQ(small.batch.size(), 1u);
  EXPECT_EQ(small.batch[0].index, 2);
  EXPECT_EQ(small.ranks, (std::vector<int>{3}));
  EXPECT_EQ(h.Record(0).rank, 0);  // The job's lowest rank leads it.
  EXPECT_EQ(h.Record(2).rank, 3);
  EXPECT_EQ(h.Record(1).state, store::JobState::kPending);
  h.Advance(1.5);
  h.c().Step();
  nlohmann::json info = nlohmann::json::parse(h.store().run_info_json());
  ASSERT_EQ(info["running_jobs"].size(), 2u) << info.dump();
  EXPECT_EQ(info["running_jobs"][0]["ranks"], nlohmann::json::parse("[0, 1, 2]"));
  EXPECT_EQ(info["running_jobs"][1]["ranks"], nlohmann::json::parse("[3]"));
  EXPECT_EQ(info["idle_rank_seconds"].get<double>(), 0.0) << "every rank was busy";
  // Job 0's leader reports: one rank is free, but job 1 needs two.
  AssignMessage job0;
  job0.batch = {{0, 1}};
  h.channel().SendRequest(0, AllDone(job0, 1.5));
  h.c().Step();
  EXPECT_FALSE(h.HasAssignment(0));
  // The job's other ranks report free (no results): job 1 starts on ranks 0 and 1.
  h.Advance(0.5);
  h.channel().SendRequest(1, {});
  h.c().Step();
  for (int r = 0; r < 2; ++r) {
    AssignMessage m = h.Assigned(r);
    ASSERT_EQ(m.batch.size(), 1u);
    EXPECT_EQ(m.batch[0].index, 1);
    EXPECT_EQ(m.ranks, (std::vector<int>{0, 1}));
  }
  EXPECT_DOUBLE_EQ(h.c().idle_rank_seconds(), 0.5) << "rank 0 waited 0.5 s for rank 1";
  // Results from a rank that does not lead the job are ignored (logged).
  h.channel().SendRequest(1, AllDone(job0, 1.0));
  h.channel().SendRequest(2, {});
  AssignMessage job1, job2;
  job1.batch = {{1, 1}};
  job2.batch = {{2, 1}};
  h.channel().SendRequest(0, AllDone(job1, 1.0));
  h.channel().SendRequest(3, AllDone(job2, 1.0));
  h.c().Step();
  EXPECT_NE(h.output().find("rank 1: a result for job index 0, which is not in its batch"),
            std::string::npos)
      << h.output();
  ASSERT_TRUE(h.c().finished());
  EXPECT_EQ(h.c().exit_code(), 0);
  EXPECT_EQ(h.c().acknowledged(), 3);
  for (int r = 0; r < 4; ++r) EXPECT_TRUE(h.Assigned(r).shutdown) << "rank " << r;
}

TEST(Coordinator, RetriesAFailedJobUpToMaxAttemptsThenFailsItWithExitCode1) {
  DriverOptions o;
  o.max_attempts = 3;
  Harness h(1, 1, o);
  h.Start();
  h.channel().SendRequest(0, {});
  for (int attempt = 1; attempt <= 3; ++attempt) {
    h.c().Step();
    AssignMessage m = h.Assigned(0);
    ASSERT_FALSE(m.shutdown);
    ASSERT_EQ(m.batch.size(), 1u);
    EXPECT_EQ(m.batch[0].attempt, attempt);
    h.channel().SendRequest(0, {MakeResult(m.batch[0], Outcome::kFailed, 1.0)});
  }
  h.c().Step();
  ASSERT_TRUE(h.c().finished());
  EXPECT_EQ(h.c().exit_code(), kExitFailure);
  AssignMessage bye = h.Assigned(0);
  EXPECT_TRUE(bye.shutdown);
  EXPECT_EQ(bye.exit_code, kExitFailure);
  store::JobRecord r = h.OnDisk(0);
  EXPECT_EQ(r.state, store::JobState::kFailed);
  EXPECT_EQ(r.attempts, 3);
  EXPECT_EQ(r.failure_class, "error");
  EXPECT_EQ(r.message, "boom at attempt 3");
  std::string out = h.output();
  EXPECT_NE(out.find("[error] attempt 2/3 (will retry): boom at attempt 2"), std::string::npos)
      << out;
  EXPECT_NE(out.find("FAILED  " + h.sweep().jobs[0].id), std::string::npos) << out;
  EXPECT_NE(out.find("[error] attempt 3/3: boom at attempt 3"), std::string::npos) << out;
  EXPECT_NE(out.find("status          finished with failures (exit 1)"), std::string::npos);
}

TEST(Coordinator, RecordsANonFiniteErrorAsAFailureOfClassDiverged) {
  // The worker classifies a job that returned OK with a NaN error metric.
  JobResultMessage r;
  r.metrics = {{"error", NAN}, {"accuracy", 0.5}};
  ClassifyResult(Status::OK(), "", &r);
  EXPECT_EQ(r.outcome, Outcome::kFailed);
  EXPECT_EQ(r.failure_class, "diverged");

  DriverOptions o;
  o.max_attempts = 1;
  Harness h(1, 1, o);
  h.Start();
  h.channel().SendRequest(0, {});
  h.c().Step();
  AssignMessage m = h.Assigned(0);
  ASSERT_EQ(m.batch.size(), 1u);
  r.index = m.batch[0].index;
  r.attempt = m.batch[0].attempt;
  h.channel().SendRequest(0, {r});  // The NaN travels through the wire format.
  h.c().Step();
  ASSERT_TRUE(h.c().finished());
  EXPECT_EQ(h.c().exit_code(), kExitFailure);
  store::JobRecord rec = h.OnDisk(0);
  EXPECT_EQ(rec.state, store::JobState::kFailed);
  EXPECT_EQ(rec.failure_class, "diverged");
  EXPECT_NE(rec.message.find("not finite"), std::string::npos) << rec.message;
  EXPECT_TRUE(std::isnan(rec.error)) << "a failed job has no error value";
  EXPECT_NE(h.output().find("failed [diverged]  1"), std::string::npos) << h.output();
}

TEST(Coordinator, ClassifiesCancelledAndFailedJobs) {
  JobResultMessage cancelled;
  ClassifyResult(Status::Cancelled("checkpointed at step 7"), "", &cancelled);
  EXPECT_EQ(cancelled.outcome, Outcome::kCancelled);
  EXPECT_EQ(cancelled.message, "checkpointed at step 7");
  JobResultMessage oom;
  ClassifyResult(Status::Runtime("CUDA out of memory"), "oom", &oom);
  EXPECT_EQ(oom.outcome, Outcome::kFailed);
  EXPECT_EQ(oom.failure_class, "oom");
  JobResultMessage plain;
  ClassifyResult(Status::Runtime("exit 3"), "", &plain);
  EXPECT_EQ(plain.failure_class, "error");
  JobResultMessage done;
  done.metrics = {{"error", 0.3}};
  ClassifyResult(Status::OK(), "", &done);
  EXPECT_EQ(done.outcome, Outcome::kDone);
  EXPECT_TRUE(done.failure_class.empty());
}

TEST(Coordinator, StopSendsStopToEveryLeaderRequeuesCancelledJobsAndExits75) {
  Harness h(20, 2);
  h.Start();
  h.channel().SendRequest(0, {});
  h.channel().SendRequest(1, {});
  h.c().Step();
  AssignMessage first = h.Assigned(0);
  AssignMessage other = h.Assigned(1);
  h.channel().SendRequest(0, AllDone(first, 0.001));
  h.c().Step();
  AssignMessage batch = h.Assigned(0);  // Short jobs: a batch of several.
  ASSERT_GE(batch.batch.size(), 2u);

  h.RequestStop();
  h.c().Step();
  EXPECT_TRUE(h.c().stopping());
  EXPECT_TRUE(h.channel().TakeStop(0));
  EXPECT_TRUE(h.channel().TakeStop(1));
  EXPECT_NE(h.output().find("vlmscale run: stopping (stop requested by a signal)"),
            std::string::npos)
      << h.output();
  // Group 0 was running the batch's first job, which checkpointed; the rest never started.
  std::vector<JobResultMessage> back;
  for (size_t i = 0; i < batch.batch.size(); ++i) {
    JobResultMessage r = MakeResult(batch.batch[i], Outcome::kCancelled, 0.5);
    r.started = i == 0;
    back.push_back(r);
  }
  h.channel().SendRequest(0, back);
  h.c().Step();
  EXPECT_FALSE(h.c().finished()) << "group 1 is still running";
  EXPECT_FALSE(h.HasAssignment(0)) << "no new work after a stop";
  h.channel().SendRequest(1, {MakeResult(other.batch[0], Outcome::kCancelled, 2.0)});
  h.c().Step();
  ASSERT_TRUE(h.c().finished());
  EXPECT_FALSE(h.c().abandoned());
  EXPECT_EQ(h.c().exit_code(), kExitStopped);
  for (int g = 0; g < 2; ++g) {
    AssignMessage bye = h.Assigned(g);
    EXPECT_TRUE(bye.shutdown);
    EXPECT_EQ(bye.exit_code, kExitStopped);
  }
  EXPECT_EQ(h.OnDisk(static_cast<int>(first.batch[0].index)).state, store::JobState::kDone);
  store::JobRecord started = h.OnDisk(static_cast<int>(batch.batch[0].index));
  EXPECT_EQ(started.state, store::JobState::kPending);
  EXPECT_EQ(started.attempts, 0)
      << "a stopped attempt is not counted: the next run resumes it with the same attempt number";
  for (size_t i = 1; i < batch.batch.size(); ++i) {
    store::JobRecord r = h.OnDisk(static_cast<int>(batch.batch[i].index));
    EXPECT_EQ(r.state, store::JobState::kPending);
    EXPECT_EQ(r.attempts, 0) << "an attempt that never started is not counted";
  }
  EXPECT_EQ(h.OnDisk(static_cast<int>(other.batch[0].index)).state, store::JobState::kPending);
  EXPECT_EQ(h.c().scheduler().pending(), 19);
  EXPECT_NE(h.output().find("stopped; run the same command to resume"), std::string::npos);
  // The run info says why and when it stopped, and gives no ETA.
  Result<store::ResultsFile> file = store::ReadResults(h.sweep().output);
  ASSERT_TRUE(file.ok());
  nlohmann::json info = nlohmann::json::parse(file->run_info_json);
  EXPECT_EQ(info["state"], "stopped");
  EXPECT_EQ(info["stop_reason"], "stop requested by a signal");
  EXPECT_GT(info["stop_requested_at"].get<double>(), 1e9);
  EXPECT_FALSE(info.contains("eta_seconds")) << info.dump();
}

// Before a job finished, predictions are raw cost units, not seconds (issue 22 saw
// "eta: 2452307d 13h"): the run info has no ETA until a job class is measured.
TEST(Coordinator, RunInfoHasNoEtaUntilJobDurationsAreMeasured) {
  Harness h(4, 1);
  h.Start();
  h.channel().SendRequest(0, {});
  h.Advance(1.0);
  h.c().Step();
  h.c().Step();  // Idle: commits the run info.
  nlohmann::json info = nlohmann::json::parse(h.store().run_info_json());
  EXPECT_EQ(info["state"], "running");
  EXPECT_EQ(info["eta_calibrated"], false);
  EXPECT_TRUE(info["eta_seconds"].is_null()) << info.dump();
  AssignMessage a = h.Assigned(0);
  h.channel().SendRequest(0, AllDone(a, 2.0));
  h.Advance(1.0);
  h.c().Step();
  h.c().Step();
  info = nlohmann::json::parse(h.store().run_info_json());
  EXPECT_EQ(info["eta_calibrated"], true);
  ASSERT_TRUE(info["eta_seconds"].is_number()) << info.dump();
  EXPECT_GT(info["eta_seconds"].get<double>(), 0.0);
  EXPECT_LT(info["eta_seconds"].get<double>(), 60.0) << "3 jobs of ~2 s left on one group";
}

TEST(Coordinator, AStopFlagInALeadersHeartbeatStopsEveryGroup) {
  Harness h(4, 3);
  h.Start();
  h.c().Step();
  HeartbeatMessage hb;
  hb.stop_requested = true;
  h.channel().SendHeartbeat(2, hb);
  h.c().Step();
  EXPECT_TRUE(h.c().stopping());
  for (int g = 0; g < 3; ++g) EXPECT_TRUE(h.channel().TakeStop(g)) << g;
  EXPECT_NE(h.output().find("stop requested by a signal on rank 2"), std::string::npos);
  // Nothing was running: every group is idle, so the run ends at once with 75.
  EXPECT_TRUE(h.c().finished());
  EXPECT_EQ(h.c().exit_code(), kExitStopped);
}

TEST(Coordinator, AbandonsAGroupStillSilentAfterTheGracePeriod) {
  DriverOptions o;
  o.grace_seconds = 30;
  Harness h(4, 2, o);
  h.Start();
  h.channel().SendRequest(0, {});
  h.channel().SendRequest(1, {});
  h.c().Step();
  AssignMessage a0 = h.Assigned(0);
  AssignMessage a1 = h.Assigned(1);
  h.RequestStop();
  h.c().Step();
  h.channel().SendRequest(0, {MakeResult(a0.batch[0], Outcome::kCancelled, 1.0)});
  h.Advance(30 + kAbandonMarginSeconds - 0.5);
  h.c().Step();
  EXPECT_FALSE(h.c().finished()) << "still within the grace period";
  h.Advance(1.0);
  h.c().Step();
  ASSERT_TRUE(h.c().finished());
  EXPECT_TRUE(h.c().abandoned());
  EXPECT_EQ(h.channel().abandoned_with(), kExitStopped);
  EXPECT_EQ(h.c().exit_code(), kExitStopped);
  EXPECT_NE(h.output().find("error: ranks 1 did not stop within run.grace_seconds + 5 s"),
            std::string::npos)
      << h.output();
  // The store was saved before giving up: group 0's job is pending again, durably, and so is
  // group 1's, which the abort ends (no job is left "running"); neither attempt counts.
  EXPECT_EQ(h.OnDisk(static_cast<int>(a0.batch[0].index)).state, store::JobState::kPending);
  store::JobRecord silent = h.OnDisk(static_cast<int>(a1.batch[0].index));
  EXPECT_EQ(silent.state, store::JobState::kPending);
  EXPECT_EQ(silent.attempts, 0);
  Result<store::ResultsFile> file = store::ReadResults(h.sweep().output);
  ASSERT_TRUE(file.ok());
  EXPECT_NE(file->run_info_json.find("\"stopped\""), std::string::npos) << file->run_info_json;
}

TEST(Coordinator, RunInfoShowsTheRunningJobsProgressAndItsCurvesGrowInItsRecord) {
  Harness h(2, 1);
  h.Start();
  h.channel().SendRequest(0, {});
  h.c().Step();
  AssignMessage m = h.Assigned(0);
  ASSERT_EQ(m.batch.size(), 1u);
  const int64_t index = m.batch[0].index;
  const std::string id = h.sweep().jobs[index].id;
  auto running_job = [&] {
    nlohmann::json info = nlohmann::json::parse(h.store().run_info_json());
    for (const auto& j : info.at("running_jobs")) {
      if (j.at("job_id") == id) return j;
    }
    ADD_FAILURE() << "job " << id << " not in running_jobs: " << info.dump();
    return nlohmann::json();
  };
  h.Advance(1.5);
  h.c().Step();
  EXPECT_FALSE(running_job().contains("phase")) << "no progress reported yet";
  EXPECT_EQ(running_job().at("ranks"), nlohmann::json::array({0}));

  // Steps 10 and 20 of 100, 10 s apart: the rest of the phase at 1 step/s.
  HeartbeatMessage hb;
  hb.progress_age = 0;
  hb.job_index = index;
  hb.phase = "train";
  hb.step = 10;
  hb.total = 100;
  hb.loss = 2.5;
  hb.new_points = {{"train_loss", 0, 3.0}};
  h.channel().SendHeartbeat(0, hb);
  h.c().Step();
  h.Advance(10);
  hb.step = 20;
  hb.loss = 2.25;
  hb.new_points = {{"train_loss", 10, 2.5}};
  h.channel().SendHeartbeat(0, hb);
  h.c().Step();
  h.Advance(1.5);
  h.c().Step();
  nlohmann::json j = running_job();
  EXPECT_EQ(j.at("phase"), "train");
  EXPECT_EQ(j.at("step"), 20);
  EXPECT_EQ(j.at("total"), 100);
  EXPECT_DOUBLE_EQ(j.at("loss").get<double>(), 2.25);
  EXPECT_NEAR(j.at("phase_eta_seconds").get<double>(), 80.0 * 11.5 / 10.0, 1e-9);
  // The running record holds the curve so far, for readers of the file too.
  store::JobRecord rec = h.Record(static_cast<int>(index));
  EXPECT_EQ(rec.state, store::JobState::kRunning);
  ASSERT_EQ(rec.curves.size(), 2u);
  EXPECT_EQ(rec.curves[1].step, 10);
  h.c().Step();  // Idle: commits.
  EXPECT_EQ(h.OnDisk(static_cast<int>(index)).curves.size(), 2u);

  // Progress for a job the group was not given is logged and ignored.
  hb.job_index = 1 - index;
  h.channel().SendHeartbeat(0, hb);
  h.c().Step();
  EXPECT_NE(h.output().find("progress for job index " + std::to_string(1 - index) +
                            ", which is not in its batch; ignored"),
            std::string::npos)
      << h.output();
  // The job's result replaces the live curve with its own.
  JobResultMessage r;
  r.index = index;
  r.attempt = m.batch[0].attempt;
  r.metrics["error"] = 0.5;
  r.curves = {{"train_loss", 0, 3.0}, {"train_loss", 10, 2.5}, {"train_loss", 99, 1.0}};
  h.channel().SendRequest(0, {r});
  h.c().Step();
  h.c().Step();
  EXPECT_EQ(h.Record(static_cast<int>(index)).curves.size(), 3u);
  h.Advance(1.5);
  h.c().Step();
  nlohmann::json info = nlohmann::json::parse(h.store().run_info_json());
  for (const auto& rj : info.at("running_jobs")) EXPECT_NE(rj.at("job_id"), id);
}

TEST(Coordinator, ReportsAGroupWithoutJobProgressForStallSecondsAndItsReturn) {
  DriverOptions o;
  o.stall_seconds = 300;
  Harness h(2, 1, o);
  h.Start();
  h.channel().SendRequest(0, {});
  h.c().Step();
  AssignMessage m = h.Assigned(0);
  const std::string warning = "warning: rank 0 on host0 has not reported progress for";
  // The leader is alive (heartbeats) but its job last progressed 200 s ago at t+200.
  h.Advance(200);
  HeartbeatMessage hb;
  hb.progress_age = 200;
  h.channel().SendHeartbeat(0, hb);
  h.c().Step();
  h.Advance(99);
  h.c().Step();
  EXPECT_EQ(h.output().find(warning), std::string::npos) << "299 s < stall_seconds";
  h.Advance(2);
  h.c().Step();
  std::string out = h.output();
  EXPECT_NE(out.find(warning + " 5m01s (job " + h.sweep().jobs[m.batch[0].index].id +
                     "); run.stall_seconds = 300"),
            std::string::npos)
      << out;
  EXPECT_NE(h.store().run_info_json().find("\"silent_seconds\""), std::string::npos)
      << h.store().run_info_json();
  h.Advance(5);
  h.c().Step();
  size_t first = h.output().find(warning);
  EXPECT_EQ(h.output().find(warning, first + 1), std::string::npos) << "reported once";
  h.channel().SendRequest(0, AllDone(m, 306));
  h.c().Step();
  EXPECT_NE(h.output().find("rank 0 reports again"), std::string::npos) << h.output();
}

TEST(Coordinator, ResumeDispatchesOnlyJobsNotDoneInTheStore) {
  Harness h(3, 1);
  {
    // A previous run: job 0 done, job 1 interrupted while running (attempt 1).
    std::unique_ptr<store::ResultsStore> s;
    std::vector<bool> runnable;
    ASSERT_EQ(PrepareStore("[sweep]\n", h.sweep(), DriverOptions(), &s, &runnable), kExitOk);
    store::JobRecord done = s->FindJob(h.sweep().jobs[0].id).value();
    done.state = store::JobState::kDone;
    done.attempts = 1;
    done.error = 0.125;
    ASSERT_TRUE(s->Append(done).ok());
    store::JobRecord running = s->FindJob(h.sweep().jobs[1].id).value();
    running.state = store::JobState::kRunning;
    running.attempts = 1;
    ASSERT_TRUE(s->Append(running).ok());
    ASSERT_TRUE(s->Close().ok());
  }
  h.Start();
  EXPECT_EQ(h.Record(1).state, store::JobState::kPending) << "a crashed job runs again";
  std::set<int64_t> dispatched;
  h.channel().SendRequest(0, {});
  for (int i = 0; i < 2; ++i) {
    h.c().Step();
    AssignMessage m = h.Assigned(0);
    ASSERT_EQ(m.batch.size(), 1u);
    dispatched.insert(m.batch[0].index);
    if (m.batch[0].index == 1) {
      EXPECT_EQ(m.batch[0].attempt, 2);
    }
    h.channel().SendRequest(0, AllDone(m, 1.0));
  }
  h.c().Step();
  ASSERT_TRUE(h.c().finished());
  EXPECT_EQ(h.c().exit_code(), kExitOk);
  EXPECT_EQ(dispatched, (std::set<int64_t>{1, 2}));
  EXPECT_EQ(h.OnDisk(0).error, 0.125) << "the done job was not run again";
  EXPECT_EQ(h.OnDisk(0).attempts, 1);
  EXPECT_EQ(h.OnDisk(1).state, store::JobState::kDone);
  EXPECT_EQ(h.OnDisk(2).state, store::JobState::kDone);
  EXPECT_NE(h.output().find("3 jobs (1 already done, 2 to run)"), std::string::npos) << h.output();
  EXPECT_EQ(h.c().scheduler().skipped(), 1);
}

TEST(Coordinator, AcknowledgesResultsOnlyAfterTheirCommit) {
  DriverOptions o;
  o.commit_ms = 2;
  Harness h(3, 1, o);
  h.Start();
  h.channel().SendRequest(0, {});
  h.c().Step();
  AssignMessage m = h.Assigned(0);
  h.c().Step();  // Idle: commits the running state.
  int64_t commits = h.store().commits();
  const int job = static_cast<int>(m.batch[0].index);
  const std::string line = "[1/3] done    " + h.sweep().jobs[job].id;

  h.channel().SendRequest(0, AllDone(m, 1.0));
  h.c().Step();  // Busy pass: journaled, not yet committed.
  EXPECT_EQ(h.store().commits(), commits);
  EXPECT_EQ(h.c().acknowledged(), 0);
  EXPECT_EQ(h.Record(job).state, store::JobState::kDone) << "appended to the journal buffer";
  EXPECT_EQ(h.OnDisk(job).state, store::JobState::kRunning) << "not durable yet";
  EXPECT_EQ(h.output().find(line), std::string::npos) << "printed before durable";

  h.Advance(0.001);
  h.channel().SendHeartbeat(0, HeartbeatMessage());
  h.c().Step();  // Busy, 1 ms < commit_ms.
  EXPECT_EQ(h.c().acknowledged(), 0);
  EXPECT_EQ(h.store().commits(), commits);

  h.Advance(0.0015);
  h.channel().SendHeartbeat(0, HeartbeatMessage());
  h.c().Step();  // Busy, but the window elapsed: group commit.
  EXPECT_EQ(h.store().commits(), commits + 1);
  EXPECT_EQ(h.c().acknowledged(), 1);
  EXPECT_EQ(h.OnDisk(job).state, store::JobState::kDone);
  EXPECT_NE(h.output().find(line), std::string::npos) << h.output();
}

TEST(Coordinator, RunsWithLeadersOnThreadsOfTheirOwn) {
  const int kGroups = 3;
  Harness h(30, kGroups);
  h.Start();
  std::vector<std::thread> leaders;
  std::vector<int> exit_codes(kGroups, -1), jobs_run(kGroups, 0);
  for (int g = 0; g < kGroups; ++g) {
    leaders.emplace_back([&, g] {
      std::vector<JobResultMessage> results;
      while (true) {
        h.channel().SendRequest(g, results);
        AssignMessage m = h.channel().ReceiveAssign(g);
        if (m.shutdown) {
          exit_codes[g] = m.exit_code;
          return;
        }
        results = AllDone(m, 0.0005);
        jobs_run[g] += static_cast<int>(m.batch.size());
      }
    });
  }
  // The coordinator's own loop (polling with backoff) on this thread, as on rank 0. The harness
  // clock stands still, so results are committed on idle passes.
  int code = h.c().Run();
  for (auto& t : leaders) t.join();
  EXPECT_EQ(code, kExitOk);
  int total = 0;
  for (int g = 0; g < kGroups; ++g) {
    EXPECT_EQ(exit_codes[g], kExitOk) << g;
    total += jobs_run[g];
  }
  EXPECT_EQ(total, 30);
  EXPECT_EQ(h.c().acknowledged(), 30);
  for (int i = 0; i < 30; ++i) EXPECT_EQ(h.OnDisk(i).state, store::JobState::kDone) << i;
}

TEST(Coordinator, LogsAMalformedRequestAndKeepsServingTheGroup) {
  Harness h(2, 1);
  h.Start();
  h.channel().SendRaw(0, LeaderMessage::Kind::kRequest, "not json");
  h.channel().SendRaw(0, LeaderMessage::Kind::kHeartbeat, "xx");
  h.c().Step();
  EXPECT_NE(h.output().find("error: rank 0: malformed results message"), std::string::npos)
      << h.output();
  EXPECT_NE(h.output().find("error: rank 0: malformed heartbeat message of 2 bytes"),
            std::string::npos);
  AssignMessage m = h.Assigned(0);
  ASSERT_EQ(m.batch.size(), 1u) << "the group still gets work";
  // A result for a job the group was not given is ignored, not recorded.
  Assignment bogus{1 - m.batch[0].index, 1};
  h.channel().SendRequest(
      0, {MakeResult(m.batch[0], Outcome::kDone, 1.0), MakeResult(bogus, Outcome::kDone, 1.0)});
  h.c().Step();
  EXPECT_NE(h.output().find("not in its batch; ignored"), std::string::npos) << h.output();
  EXPECT_EQ(h.Record(static_cast<int>(bogus.index)).state, store::JobState::kRunning)
      << "dispatched next, not done by the bogus result";
}

}  // namespace
}  // namespace vlmscale::driver
