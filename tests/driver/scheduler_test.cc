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

}  // namespace
}  // namespace vlmscale::driver
