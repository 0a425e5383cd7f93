#include "driver/rank_packer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>

namespace vlmscale::driver {
namespace {

std::vector<int> OneNode(int ranks) { return std::vector<int>(ranks, 0); }

TEST(RankPacker, JobsThatFitStartInPriorityOrderOnDisjointRanks) {
  RankPacker p(OneNode(4), false);
  auto starts = p.Schedule(0.0, {{1, 2, 10.0}, {2, 1, 10.0}, {3, 1, 10.0}, {4, 1, 10.0}});
  ASSERT_EQ(starts.size(), 3u);  // The fourth finds no idle rank.
  EXPECT_EQ(starts[0].job, 1);
  EXPECT_EQ(starts[0].ranks.size(), 2u);
  std::set<int> used;
  for (const auto& s : starts) used.insert(s.ranks.begin(), s.ranks.end());
  EXPECT_EQ(used.size(), 4u);
  EXPECT_EQ(p.idle(), 0);
  EXPECT_EQ(p.reservation().job, 4);  // The first job left waiting, for when a rank frees.
  EXPECT_DOUBLE_EQ(p.reservation().start, 10.0);
  EXPECT_TRUE(p.Schedule(1.0, {}).empty());
  EXPECT_EQ(p.reservation().job, -1);  // No job waiting.
}

TEST(RankPacker, TheHeadIsReservedAndOnlyJobsEndingBeforeItsStartTakeItsRanks) {
  RankPacker p(OneNode(4), false);
  ASSERT_EQ(p.Schedule(0.0, {{1, 3, 100.0}}).size(), 1u);
  // Job 2 needs all 4 ranks: reserved at t = 100. Job 3 (1 rank, ends at 50) backfills; job 4
  // (ends at 200) would delay job 2 and waits.
  auto starts = p.Schedule(0.0, {{2, 4, 10.0}, {4, 1, 200.0}, {3, 1, 50.0}});
  ASSERT_EQ(starts.size(), 1u);
  EXPECT_EQ(starts[0].job, 3);
  EXPECT_EQ(p.reservation().job, 2);
  EXPECT_DOUBLE_EQ(p.reservation().start, 100.0);
  EXPECT_EQ(p.reservation().ranks, (std::vector<int>{0, 1, 2, 3}));
}

TEST(RankPacker, IdleRanksTheReservationDoesNotNeedTakeLongJobs) {
  RankPacker p(OneNode(8), false);
  auto a = p.Schedule(0.0, {{1, 4, 100.0}});
  ASSERT_EQ(a.size(), 1u);
  // Job 2 needs 6: at t = 100 all 8 are free, so 2 of the 4 idle ranks are extra and job 3
  // (2 ranks, 500 s) may run past the reservation on them; job 4 (1 rank) then finds none.
  auto starts = p.Schedule(0.0, {{2, 6, 10.0}, {3, 2, 500.0}, {4, 1, 500.0}});
  ASSERT_EQ(starts.size(), 1u);
  EXPECT_EQ(starts[0].job, 3);
  const auto& r = p.reservation();
  EXPECT_EQ(r.job, 2);
  // The reservation holds A's four ranks and two idle ones, none of job 3's.
  for (int rank : starts[0].ranks) {
    EXPECT_EQ(std::count(r.ranks.begin(), r.ranks.end(), rank), 0) << rank;
  }
  for (int rank : a[0].ranks) {
    EXPECT_EQ(std::count(r.ranks.begin(), r.ranks.end(), rank), 1) << rank;
  }
}

TEST(RankPacker, AJobThatOverranItsPredictionCountsAsEndingNow) {
  RankPacker p(OneNode(2), false);
  ASSERT_EQ(p.Schedule(0.0, {{1, 1, 10.0}}).size(), 1u);
  // At t = 50 job 1 is still running (predicted to end at 10): job 2 (2 ranks) is reserved for
  // now, so job 3 (1 rank, 5 s) must not take the idle rank.
  auto starts = p.Schedule(50.0, {{2, 2, 10.0}, {3, 1, 5.0}});
  EXPECT_TRUE(starts.empty());
  EXPECT_DOUBLE_EQ(p.reservation().start, 50.0);
}

TEST(RankPacker, BestFitKeepsAWholeNodeFreeForALargeJob) {
  // Nodes 0 and 1, four ranks each; rank 0 busy.
  RankPacker p({0, 0, 0, 0, 1, 1, 1, 1}, false);
  ASSERT_EQ(p.Schedule(0.0, {{1, 1, 100.0}})[0].ranks, (std::vector<int>{0}));
  auto starts = p.Schedule(0.0, {{2, 2, 10.0}, {3, 4, 10.0}});
  ASSERT_EQ(starts.size(), 2u);
  EXPECT_EQ(starts[0].ranks, (std::vector<int>{1, 2}));        // Node 0: 3 idle, fits best.
  EXPECT_EQ(starts[1].ranks, (std::vector<int>{4, 5, 6, 7}));  // Node 1 whole.
}

TEST(RankPacker, NodeLocalGroupsNeverSpanNodes) {
  const std::vector<int> nodes = {0, 0, 1, 1};
  RankPacker local(nodes, true), spanning(nodes, false);
  EXPECT_EQ(local.MaxRanks(), 2);
  EXPECT_EQ(spanning.MaxRanks(), 4);
  std::vector<std::vector<int>> two_ranks;
  for (RankPacker* p : {&local, &spanning}) {
    // Jobs 1 and 2 fill node 0 (best fit), job 3 takes rank 2; job 2 ends: one idle rank on
    // each node.
    auto a = p->Schedule(0.0, {{1, 1, 100.0}, {2, 1, 5.0}, {3, 1, 100.0}});
    ASSERT_EQ(a.size(), 3u);
    EXPECT_EQ(a[2].ranks, (std::vector<int>{2}));
    p->Release(5.0, a[1].ranks);
    auto b = p->Schedule(5.0, {{4, 2, 10.0}});
    two_ranks.push_back(b.empty() ? std::vector<int>() : b[0].ranks);
  }
  EXPECT_TRUE(two_ranks[0].empty());  // Node-local: waits for a whole node...
  EXPECT_EQ(local.reservation().job, 4);
  EXPECT_DOUBLE_EQ(local.reservation().start, 100.0);
  EXPECT_EQ(two_ranks[1], (std::vector<int>{1, 3}));  // ...spanning: starts at once.
}

TEST(RankPacker, NodeLocalReservationTakesTheNodeThatFreesFirst) {
  RankPacker p({0, 0, 1, 1}, true);
  // Node 0 busy until 100 and 30, node 1 busy until 10 (a 2-rank job).
  auto a = p.Schedule(0.0, {{1, 2, 10.0}, {2, 1, 100.0}, {3, 1, 30.0}});
  ASSERT_EQ(a.size(), 3u);
  EXPECT_EQ(a[0].ranks, (std::vector<int>{0, 1}));
  auto d = p.Schedule(0.0, {{4, 2, 10.0}});
  EXPECT_TRUE(d.empty());
  EXPECT_EQ(p.reservation().ranks, (std::vector<int>{0, 1}));
  EXPECT_DOUBLE_EQ(p.reservation().start, 10.0);
}

TEST(RankPacker, IdleRankSecondsCountRanksWithNothingToDo) {
  RankPacker p(OneNode(2), false);
  auto s = p.Schedule(0.0, {{1, 1, 10.0}});
  p.Release(10.0, s[0].ranks);  // One rank idle for 10 s.
  EXPECT_DOUBLE_EQ(p.idle_rank_seconds(), 10.0);
  p.Schedule(15.0, {});  // Both idle for 5 s more.
  EXPECT_DOUBLE_EQ(p.idle_rank_seconds(), 20.0);
}

// With exact predictions, EASY backfill never starts the reserved job later than its first
// reservation said, whatever jobs arrive behind it; and every job runs.
TEST(RankPackerSimulation, NoReservedJobStartsLaterThanReservedAndEveryJobRuns) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 50; ++trial) {
    std::vector<PackRequest> jobs;
    const int n = 40;
    for (int i = 0; i < n; ++i) {
      const int ranks = std::uniform_int_distribution<int>(1, 4)(rng) == 4
                            ? 4
                            : std::uniform_int_distribution<int>(1, 2)(rng);
      jobs.push_back({i, ranks, std::uniform_real_distribution<double>(1.0, 100.0)(rng)});
    }
    std::vector<int> nodes = {0, 0, 0, 0, 1, 1};
    const bool local = trial % 2 == 1;
    PackSimulation sim = SimulatePacking(jobs, nodes, local);
    double rank_seconds = 0.0, longest = 0.0;
    for (int i = 0; i < n; ++i) {
      ASSERT_GE(sim.start[i], 0.0) << "job " << i << " never ran (trial " << trial << ")";
      if (sim.reserved_start[i] >= 0.0) {
        EXPECT_LE(sim.start[i], sim.reserved_start[i] + 1e-9)
            << "job " << i << " reserved for " << sim.reserved_start[i] << " started at "
            << sim.start[i] << " (trial " << trial << ")";
      }
      rank_seconds += jobs[i].ranks * jobs[i].seconds;
      longest = std::max(longest, sim.start[i] + jobs[i].seconds);
    }
    EXPECT_DOUBLE_EQ(sim.makespan, longest);
    // Idle time is exactly what the jobs left of ranks x makespan.
    EXPECT_NEAR(sim.idle_rank_seconds, nodes.size() * sim.makespan - rank_seconds, 1e-6);
  }
}

}  // namespace
}  // namespace vlmscale::driver
