#include "driver/scheduler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace vlmscale::driver {
namespace {

config::Sweep MakeSweep(const std::vector<double>& costs, const std::string& llm = "a") {
  config::Sweep s;
  for (size_t i = 0; i < costs.size(); ++i) {
    config::JobSpec j;
    j.index = static_cast<int64_t>(i);
    j.id = "job" + std::to_string(i);
    j.point.llm = llm;
    j.point.method = "avgpool";
    j.point.task = "shapes";
    j.est_cost = costs[i];
    s.jobs.push_back(j);
  }
  return s;
}

TEST(Scheduler, DispatchesLargestEstimatedCostFirst) {
  config::Sweep s = MakeSweep({3, 10, 1, 7});
  Scheduler sched(s, std::vector<bool>(4, true), 1);
  EXPECT_EQ(sched.Next(), 1);
  EXPECT_EQ(sched.Next(), 3);
  EXPECT_EQ(sched.Next(), 0);
  EXPECT_EQ(sched.Next(), 2);
  EXPECT_EQ(sched.Next(), -1);
  EXPECT_EQ(sched.running(), 4);
}

TEST(Scheduler, WithheldJobsWaitForReleaseAndDoNotCountAsPending) {
  config::Sweep s = MakeSweep({3, 10, 1, 7});
  Scheduler sched(s, std::vector<bool>(4, true), 1);
  sched.Withhold(1);
  sched.Withhold(3);
  EXPECT_TRUE(sched.withheld(1));
  EXPECT_EQ(sched.withheld_count(), 2);
  EXPECT_EQ(sched.pending(), 2);
  EXPECT_EQ(sched.Next(), 0);
  EXPECT_EQ(sched.Next(), 2);
  EXPECT_EQ(sched.Next(), -1);
  sched.Finish(0, Outcome::kDone, 1.0);
  sched.Finish(2, Outcome::kDone, 1.0);
  // Every released job settled: the sweep is settled although two are withheld.
  EXPECT_TRUE(sched.Settled());
  sched.Release(3);
  EXPECT_FALSE(sched.Settled());
  EXPECT_EQ(sched.withheld_count(), 1);
  EXPECT_EQ(sched.Next(), 3);
  EXPECT_EQ(sched.Next(), -1);
  sched.Finish(3, Outcome::kDone, 1.0);
  EXPECT_TRUE(sched.Settled());
  EXPECT_EQ(sched.done(), 3);
  EXPECT_TRUE(sched.withheld(1));
}

// An adaptive sweep's candidates wait behind their parents (the earlier stages' jobs): a withheld
// child is not made ready when its parent finishes, nor blocked when it fails; released, it
// runs once its parents are done.
TEST(Scheduler, WithheldChildrenStayWithheldThroughTheirParentsOutcomes) {
  config::Sweep s = MakeSweep({1, 5, 5, 1, 5});
  s.jobs[1].parents = {0};
  s.jobs[2].parents = {0};
  s.jobs[4].parents = {3};
  Scheduler sched(s, std::vector<bool>(5, true), 1);
  for (int64_t i : {1, 2, 4}) {
    ASSERT_TRUE(sched.can_withhold(i));
    sched.Withhold(i);
  }
  sched.Withhold(3);
  EXPECT_EQ(sched.withheld_count(), 4);
  EXPECT_EQ(sched.Next(), 0);
  sched.Finish(0, Outcome::kDone, 1.0);
  EXPECT_EQ(sched.Next(), -1);  // Its children are withheld, not ready.
  EXPECT_TRUE(sched.Settled());
  sched.Release(2);
  EXPECT_EQ(sched.Next(), 2);
  sched.Finish(2, Outcome::kDone, 1.0);
  // A released child whose released parent has yet to run waits for it (ancestors first).
  sched.Release(3);
  sched.Release(4);
  EXPECT_FALSE(sched.withheld(4));
  EXPECT_EQ(sched.Next(), 3);
  EXPECT_EQ(sched.Next(), -1);
  EXPECT_FALSE(sched.Settled());
  sched.Finish(3, Outcome::kDone, 1.0);
  EXPECT_EQ(sched.Next(), 4);
  sched.Finish(4, Outcome::kDone, 1.0);
  EXPECT_TRUE(sched.Settled());
  EXPECT_EQ(sched.done(), 4);
  EXPECT_TRUE(sched.withheld(1));
  EXPECT_EQ(sched.blocked(), 0);
}

TEST(Scheduler, AFailedParentDoesNotBlockAWithheldChild) {
  config::Sweep s = MakeSweep({1, 5, 5});
  s.jobs[1].parents = {0};
  s.jobs[2].parents = {0};
  Scheduler sched(s, std::vector<bool>(3, true), 1);
  sched.Withhold(2);
  EXPECT_EQ(sched.Next(), 0);
  std::vector<int64_t> blocked;
  EXPECT_TRUE(sched.Finish(0, Outcome::kFailed, 1.0, &blocked));
  EXPECT_EQ(blocked, std::vector<int64_t>{1});
  EXPECT_TRUE(sched.withheld(2));
  EXPECT_TRUE(sched.Settled());
}

TEST(Scheduler, SkipsJobsAlreadyDone) {
  config::Sweep s = MakeSweep({3, 10, 1});
  Scheduler sched(s, {true, false, true}, 1);
  EXPECT_EQ(sched.skipped(), 1);
  EXPECT_EQ(sched.pending(), 2);
  EXPECT_EQ(sched.Next(), 0);
}

TEST(Scheduler, RetriesUntilMaxAttemptsThenFails) {
  config::Sweep s = MakeSweep({1});
  Scheduler sched(s, {true}, 3);
  for (int attempt = 1; attempt <= 3; ++attempt) {
    ASSERT_EQ(sched.Next(), 0);
    bool final_failure = sched.Finish(0, Outcome::kFailed, 1.0);
    EXPECT_EQ(final_failure, attempt == 3);
  }
  EXPECT_EQ(sched.Next(), -1);
  EXPECT_EQ(sched.failed(), 1);
  EXPECT_TRUE(sched.Settled());
}

TEST(Scheduler, CancelledJobsReturnWithoutSpendingAnAttempt) {
  config::Sweep s = MakeSweep({1});
  Scheduler sched(s, {true}, 1);
  ASSERT_EQ(sched.Next(), 0);
  EXPECT_FALSE(sched.Finish(0, Outcome::kCancelled, 0.5));
  EXPECT_EQ(sched.pending(), 1);
  ASSERT_EQ(sched.Next(), 0);
  EXPECT_FALSE(sched.Finish(0, Outcome::kDone, 0.5));
  EXPECT_EQ(sched.done(), 1);
}

TEST(Scheduler, MeasuredDurationsRefineTheOrderAcrossClasses) {
  // Class b's jobs turn out 100x slower per unit of estimated cost than class a's.
  config::Sweep s = MakeSweep({10, 9, 8});
  config::Sweep sb = MakeSweep({9.5, 4, 3}, "b");
  for (auto& j : sb.jobs) {
    j.index += 3;
    j.id = "b" + j.id;
    s.jobs.push_back(j);
  }
  Scheduler sched(s, std::vector<bool>(6, true), 1);
  ASSERT_EQ(sched.Next(), 0);  // a: 10.
  ASSERT_EQ(sched.Next(), 3);  // b: 9.5.
  EXPECT_FALSE(sched.calibrated());
  sched.Finish(0, Outcome::kDone, 10.0);   // a: 1 s per unit.
  sched.Finish(3, Outcome::kDone, 950.0);  // b: 100 s per unit.
  EXPECT_TRUE(sched.calibrated());
  EXPECT_DOUBLE_EQ(sched.Predict(4), 400.0);
  EXPECT_DOUBLE_EQ(sched.Predict(1), 9.0);
  EXPECT_EQ(sched.Next(), 4);  // b's remaining jobs are now the longest...
  EXPECT_EQ(sched.Next(), 5);
  EXPECT_EQ(sched.Next(), 1);  // ...although their estimates are smaller.
  EXPECT_EQ(sched.Next(), 2);
}

TEST(Scheduler, EtaDividesRemainingPredictedWorkOverWorkers) {
  config::Sweep s = MakeSweep({2, 2, 2, 2});
  Scheduler sched(s, std::vector<bool>(4, true), 1);
  ASSERT_EQ(sched.Next(), 0);
  sched.Finish(0, Outcome::kDone, 4.0);  // 2 s per unit of cost.
  EXPECT_DOUBLE_EQ(sched.EtaSeconds(3), 3 * 4.0 / 3);
}

// Longest-processing-time-first against the paper grid's cost spread: simulated makespan on 4
// workers stays within 5% of the lower bound max(total/workers, longest job).
TEST(Scheduler, LptMakespanIsNearTheLowerBoundOnThePaperGrid) {
  std::vector<double> costs;
  for (double n : {0.5, 1.8, 4.0, 7.0}) {
    for (double v : {1, 4, 16, 36, 64, 144, 576}) {
      for (int seed = 0; seed < 3; ++seed) costs.push_back(n * (50 + v));
    }
  }
  config::Sweep s = MakeSweep(costs);
  Scheduler sched(s, std::vector<bool>(costs.size(), true), 1);
  const int workers = 4;
  std::vector<double> free_at(workers, 0.0);
  for (int64_t j; (j = sched.Next()) >= 0;) {
    auto w = std::min_element(free_at.begin(), free_at.end());
    *w += costs[j];
    sched.Finish(j, Outcome::kDone, costs[j]);
  }
  double makespan = *std::max_element(free_at.begin(), free_at.end());
  double total = std::accumulate(costs.begin(), costs.end(), 0.0);
  double bound = std::max(total / workers, *std::max_element(costs.begin(), costs.end()));
  EXPECT_LE(makespan, 1.05 * bound);
}

// A DAG: job i of `stages[i]` with `parents[i]`, costs `costs[i]`.
config::Sweep MakeDag(const std::vector<double>& costs, const std::vector<int>& stages,
                      const std::vector<std::vector<int64_t>>& parents) {
  config::Sweep s = MakeSweep(costs);
  for (size_t i = 0; i < costs.size(); ++i) {
    s.jobs[i].stage = stages[i];
    s.jobs[i].parents = parents[i];
  }
  return s;
}

TEST(SchedulerDag, AJobIsReadyOnlyWhenEveryParentIsDone) {
  // 0 -> 2, 1 -> 2, 2 -> 3.
  config::Sweep s = MakeDag({1, 1, 1, 1}, {0, 0, 1, 2}, {{}, {}, {0, 1}, {2}});
  Scheduler sched(s, std::vector<bool>(4, true), 1);
  EXPECT_EQ(sched.ready(), 2);
  EXPECT_EQ(sched.waiting(), 2);
  int64_t a = sched.Next(), b = sched.Next();
  EXPECT_EQ(std::min(a, b), 0);
  EXPECT_EQ(std::max(a, b), 1);
  EXPECT_EQ(sched.Next(), -1);  // 2 waits for both.
  sched.Finish(0, Outcome::kDone, 1.0);
  EXPECT_EQ(sched.Next(), -1);
  sched.Finish(1, Outcome::kDone, 1.0);
  EXPECT_EQ(sched.Next(), 2);
  EXPECT_EQ(sched.Next(), -1);
  sched.Finish(2, Outcome::kDone, 1.0);
  EXPECT_EQ(sched.Next(), 3);
  sched.Finish(3, Outcome::kDone, 1.0);
  EXPECT_TRUE(sched.Settled());
  EXPECT_EQ(sched.done(), 4);
}

TEST(SchedulerDag, TheLongestRemainingPathGoesFirstNotTheLargestJob) {
  // Job 0 (cost 5) heads a chain of 5 + 10; job 1 (cost 8) has no children.
  config::Sweep s = MakeDag({5, 8, 10}, {0, 0, 1}, {{}, {}, {0}});
  Scheduler sched(s, std::vector<bool>(3, true), 1);
  EXPECT_DOUBLE_EQ(sched.RemainingPath(0), 15.0);
  EXPECT_DOUBLE_EQ(sched.RemainingPath(1), 8.0);
  EXPECT_EQ(sched.Next(), 0);
  EXPECT_EQ(sched.Next(), 1);
}

TEST(SchedulerDag, AFinalFailureBlocksEveryDescendantAndNothingElse) {
  // 0 -> 1 -> 2; 3 independent; 4 needs 3 and 0.
  config::Sweep s = MakeDag({1, 1, 1, 1, 1}, {0, 1, 2, 0, 1}, {{}, {0}, {1}, {}, {3, 0}});
  Scheduler sched(s, std::vector<bool>(5, true), 2);
  int64_t first = sched.Next(), second = sched.Next();
  ASSERT_EQ(std::min(first, second), 0);
  ASSERT_EQ(std::max(first, second), 3);
  sched.Finish(3, Outcome::kDone, 1.0);
  std::vector<int64_t> blocked;
  EXPECT_FALSE(sched.Finish(0, Outcome::kFailed, 1.0, &blocked));  // Attempt 1 of 2.
  EXPECT_TRUE(blocked.empty());
  ASSERT_EQ(sched.Next(), 0);
  EXPECT_TRUE(sched.Finish(0, Outcome::kFailed, 1.0, &blocked));
  std::sort(blocked.begin(), blocked.end());
  EXPECT_EQ(blocked, (std::vector<int64_t>{1, 2, 4}));
  EXPECT_EQ(sched.blocked(), 3);
  EXPECT_EQ(sched.failed(), 1);
  EXPECT_EQ(sched.Next(), -1);
  EXPECT_TRUE(sched.Settled());
  EXPECT_EQ(sched.stage_counts()[1].blocked, 2);
}

TEST(SchedulerDag, DoneParentsFromAnEarlierRunDoNotHoldTheirChildren) {
  config::Sweep s = MakeDag({1, 1, 1}, {0, 1, 1}, {{}, {0}, {0}});
  Scheduler sched(s, {false, true, true}, 1);
  EXPECT_EQ(sched.skipped(), 1);
  EXPECT_EQ(sched.ready(), 2);
}

TEST(SchedulerDag, MissingArtifactsRunTheParentAgainBeforeItsChildren) {
  // 0 -> 1, 0 -> 2; 0 was done in an earlier run.
  config::Sweep s = MakeDag({1, 1, 1}, {0, 1, 1}, {{}, {0}, {0}});
  Scheduler sched(s, {false, true, true}, 1);
  int64_t child = sched.Next();
  ASSERT_TRUE(child == 1 || child == 2);
  sched.RequeueParents(child, {0});
  EXPECT_EQ(sched.skipped(), 0);
  EXPECT_EQ(sched.ready(), 1);    // The parent only: both children wait for it again.
  EXPECT_EQ(sched.waiting(), 2);
  EXPECT_EQ(sched.Next(), 0);
  EXPECT_EQ(sched.Next(), -1);
  sched.Finish(0, Outcome::kDone, 1.0);
  EXPECT_EQ(sched.ready(), 2);
  EXPECT_EQ(sched.failures(child), 0);  // Not an attempt of its own.
}

TEST(SchedulerDag, TheStagesBaselineHoldsAStageUntilTheEarlierOnesSettle) {
  // Stage 0: 0 (long), 1 (short). Stage 1: 2 needs 1, 3 needs nothing.
  config::Sweep s = MakeDag({10, 1, 1, 1}, {0, 0, 1, 1}, {{}, {}, {1}, {}});
  Scheduler sched(s, std::vector<bool>(4, true), 1, DispatchOrder::kStages);
  EXPECT_EQ(sched.Next(), 0);
  EXPECT_EQ(sched.Next(), 1);
  EXPECT_EQ(sched.Next(), -1);  // 3 is ready but behind the barrier.
  sched.Finish(1, Outcome::kDone, 1.0);
  EXPECT_EQ(sched.Next(), -1);  // 2's parent is done, but 0 is still running.
  sched.Finish(0, Outcome::kDone, 10.0);
  int64_t a = sched.Next(), b = sched.Next();
  EXPECT_EQ(std::min(a, b), 2);
  EXPECT_EQ(std::max(a, b), 3);
  // The critical-path order would have started 3 right away.
  Scheduler cp(s, std::vector<bool>(4, true), 1);
  cp.Next();
  cp.Next();
  EXPECT_EQ(cp.Next(), 3);
}

// Simulated makespans on 4 workers of a three-stage DAG with the paper grid's cost spread:
// pretraining per N, a finetune per (N, V), an evaluation per (N, V, benchmark). Critical-path
// order stays within 10% of max(critical path, work / workers) and beats a barrier per stage
// (by 1.10x here; bench/driver measures it on real runs).
double Simulate(const config::Sweep& s, DispatchOrder order, int workers) {
  Scheduler sched(s, std::vector<bool>(s.jobs.size(), true), 1, order);
  std::vector<std::pair<double, int64_t>> running;  // (end time, job)
  double now = 0;
  while (!sched.Settled()) {
    while (static_cast<int>(running.size()) < workers) {
      int64_t j = sched.Next();
      if (j < 0) break;
      running.push_back({now + s.jobs[j].est_cost, j});
    }
    auto first = std::min_element(running.begin(), running.end());
    now = first->first;
    int64_t j = first->second;
    running.erase(first);
    sched.Finish(j, Outcome::kDone, s.jobs[j].est_cost);
  }
  return now;
}

TEST(SchedulerDag, CriticalPathMakespanIsNearTheBoundAndBeatsStageBarriers) {
  config::Sweep s;
  std::vector<double> ns = {0.5, 1.8, 4.0, 7.0};
  std::vector<double> vs = {1, 4, 16, 36, 64, 144, 576};
  std::vector<int64_t> pre, fine;
  auto add = [&](double cost, int stage, std::vector<int64_t> parents) {
    config::JobSpec j;
    j.index = static_cast<int64_t>(s.jobs.size());
    j.id = "j" + std::to_string(j.index);
    j.est_cost = cost;
    j.stage = stage;
    j.parents = std::move(parents);
    s.jobs.push_back(j);
    return j.index;
  };
  for (double n : ns) pre.push_back(add(n * 400, 0, {}));
  for (size_t ni = 0; ni < ns.size(); ++ni) {
    for (double v : vs) fine.push_back(add(ns[ni] * (50 + v), 1, {pre[ni]}));
  }
  for (int64_t f : fine) {
    for (int b = 0; b < 3; ++b) add(s.jobs[f].est_cost * 0.1, 2, {f});
  }
  const int workers = 4;
  double work = 0, path = 0;
  for (const auto& j : s.jobs) work += j.est_cost;
  {
    Scheduler probe(s, std::vector<bool>(s.jobs.size(), true), 1);
    for (size_t i = 0; i < s.jobs.size(); ++i) path = std::max(path, probe.RemainingPath(i));
  }
  double bound = std::max(path, work / workers);
  double cp = Simulate(s, DispatchOrder::kCost, workers);
  double barrier = Simulate(s, DispatchOrder::kStages, workers);
  EXPECT_LE(cp, 1.10 * bound) << "critical path " << cp << ", bound " << bound;
  EXPECT_GE(barrier / cp, 1.05) << "barrier " << barrier << ", critical path " << cp;
}

}  // namespace
}  // namespace vlmscale::driver
