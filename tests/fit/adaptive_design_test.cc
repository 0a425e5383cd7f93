// The adaptive design engine: its initial design, determinism and replay, budget and stop
// reasons, and, on simulated sweeps of a known law, the coverage of its final T* interval.
#include "fit/adaptive_design.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>

#include "gtest/gtest.h"
#include "tests/fit/adaptive_sim.h"
#include "tests/fit/test_util.h"

namespace vlmscale::fit {
namespace {

using testing::kQ;
using testing::PaperGrid;
using testing::PaperTruth;
using testing::SimOptions;
using testing::Simulate;
using testing::Simulation;

TEST(AdaptiveOptions, DefaultsAreValid) {
  AdaptiveOptions o;
  std::string error;
  EXPECT_TRUE(o.IsValid(&error)) << error;
  o.fit.bootstrap = 0;
  EXPECT_FALSE(o.IsValid(&error));
  EXPECT_NE(error.find("bootstrap"), std::string::npos) << error;
  o = AdaptiveOptions();
  o.batch = 0;
  EXPECT_FALSE(o.IsValid(&error));
  EXPECT_NE(error.find("batch"), std::string::npos) << error;
  o = AdaptiveOptions();
  o.target.kind = AdaptiveTargetKind::kError;
  EXPECT_FALSE(o.IsValid(&error));
  EXPECT_NE(error.find("target.n"), std::string::npos) << error;
}

TEST(AdaptiveDesign, InitialDesignIsTheCornersPlusMaximinSpreadPoints) {
  const auto grid = PaperGrid(2);
  AdaptiveOptions o = SimOptions(1);
  o.initial_spread = 3;
  auto design = InitialDesign(grid, o);
  ASSERT_TRUE(design.ok()) << design.status().ToString();
  ASSERT_EQ(design->size(), 7u);
  // The four corners, each the cheaper (first) replicate.
  std::vector<std::pair<double, double>> corners;
  for (size_t k = 0; k < 4; ++k) {
    const size_t i = (*design)[k];
    EXPECT_LT(i, 35u) << "a corner's first replicate is as cheap and comes first";
    EXPECT_TRUE(grid[i].n == 0.5 || grid[i].n == 14.0);
    EXPECT_TRUE(grid[i].t == 1.0 || grid[i].t == 576.0);
    corners.emplace_back(grid[i].n, grid[i].t);
  }
  std::sort(corners.begin(), corners.end());
  EXPECT_EQ(std::unique(corners.begin(), corners.end()) - corners.begin(), 4);
  // Each spread point is at least as far (scaled log N, log T) from the earlier points as any
  // other candidate, and never repeats a coordinate.
  auto unit = [&](size_t i) {
    return std::make_pair(std::log(grid[i].n / 0.5) / std::log(28.0),
                          std::log(grid[i].t) / std::log(576.0));
  };
  auto min_dist = [&](size_t i, size_t upto) {
    double d = 1e9;
    for (size_t k = 0; k < upto; ++k) {
      const auto a = unit(i), b = unit((*design)[k]);
      d = std::min(d, std::hypot(a.first - b.first, a.second - b.second));
    }
    return d;
  };
  for (size_t k = 4; k < design->size(); ++k) {
    const double chosen = min_dist((*design)[k], k);
    EXPECT_GT(chosen, 0.0);
    for (size_t i = 0; i < grid.size(); ++i) EXPECT_LE(min_dist(i, k), chosen + 1e-12);
  }
}

TEST(AdaptiveDesign, RejectsBadCandidatesResultsAndABudgetBelowTheInitialDesign) {
  auto grid = PaperGrid(1);
  AdaptiveOptions o = SimOptions(1);
  o.budget_cost = 100.0;  // The corners alone cost more.
  auto design = InitialDesign(grid, o);
  ASSERT_FALSE(design.ok());
  EXPECT_TRUE(design.status().IsInvalidInput());
  EXPECT_NE(design.status().message().find("initial design"), std::string::npos);

  o = SimOptions(1);
  auto bad = grid;
  bad[3].cost = 0.0;
  design = InitialDesign(bad, o);
  ASSERT_FALSE(design.ok());
  EXPECT_NE(design.status().message().find("candidate 3"), std::string::npos)
      << design.status().message();

  auto d = NextRound(grid, {{2, 0.5}, {2, 0.5}}, {}, o);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("twice"), std::string::npos) << d.status().message();
  d = NextRound(grid, {{99, 0.5}}, {}, o);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("out of range"), std::string::npos);
  d = NextRound(grid, {{1, std::nan("")}}, {}, o);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("not finite"), std::string::npos);
}

TEST(AdaptiveDesign, TooFewResultsToFitChooseSpreadPoints) {
  const auto grid = PaperGrid(1);
  AdaptiveOptions o = SimOptions(1);
  auto d = NextRound(grid, {{0, 0.6}, {6, 0.55}}, {34}, o);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_FALSE(d->fitted);
  EXPECT_EQ(d->stop, StopReason::kContinue);
  EXPECT_EQ(d->chosen.size(), 4u);
  for (size_t i : d->chosen) EXPECT_TRUE(i != 0 && i != 6 && i != 34);
  EXPECT_EQ(d->spent_jobs, 3);
}

TEST(AdaptiveDesign, ChoicesAreAPureFunctionOfTheResultsAndTheSeed) {
  const auto grid = PaperGrid(2);
  const LawParams truth = PaperTruth();
  AdaptiveOptions o = SimOptions(7);
  o.tolerance = 1e-6;  // Never reached: run until the job budget.
  o.budget_jobs = 24;
  const Simulation a = Simulate(grid, truth, 0.004, 11, o);
  o.fit.num_threads = 1;  // Threads do not change the fit.
  const Simulation b = Simulate(grid, truth, 0.004, 11, o);
  EXPECT_EQ(a.order, b.order);
  ASSERT_FALSE(a.rounds.empty());
  EXPECT_EQ(a.rounds.back().stop, StopReason::kBudget) << a.rounds.back().message;
  EXPECT_EQ(a.order.size(), 24u);
  // The adaptive rounds chose points (not only the initial 8).
  EXPECT_GT(a.rounds.size(), 2u);

  // The same results in another order give the same decision.
  std::vector<DesignResult> results;
  std::mt19937_64 rng(3);
  for (size_t i : a.order) results.push_back({i, 0.5 + 0.01 * std::sin(double(i))});
  results.resize(12);
  auto d1 = NextRound(grid, results, {}, o);
  std::shuffle(results.begin(), results.end(), rng);
  auto d2 = NextRound(grid, results, {}, o);
  ASSERT_TRUE(d1.ok() && d2.ok());
  EXPECT_EQ(d1->chosen, d2->chosen);
  EXPECT_EQ(d1->width, d2->width);
}

TEST(AdaptiveDesign, AnInterruptedSweepResumedChoosesTheSamePoints) {
  const auto grid = PaperGrid(2);
  const LawParams truth = PaperTruth();
  AdaptiveOptions o = SimOptions(5);
  o.tolerance = 0.3;
  const Simulation whole = Simulate(grid, truth, 0.004, 21, o);
  ASSERT_GE(whole.rounds.size(), 3u);
  // Interrupt after two rounds; resume from what the journal would hold: the points run and
  // their results (the engine keeps nothing else).
  Simulation part = Simulate(grid, truth, 0.004, 21, o, 2);
  part.rounds.clear();
  const Simulation resumed = Simulate(grid, truth, 0.004, 21, o, -1, part);
  EXPECT_EQ(whole.order, resumed.order);
  EXPECT_EQ(whole.rounds.back().stop, resumed.rounds.back().stop);
}

TEST(AdaptiveDesign, InFlightPointsCountAgainstTheBudgetAndAreNotChosenAgain) {
  const auto grid = PaperGrid(1);
  AdaptiveOptions o = SimOptions(1);
  o.tolerance = 1e-9;
  const LawParams truth = PaperTruth();
  std::vector<DesignResult> results;
  for (size_t i = 0; i < grid.size(); i += 3) {
    results.push_back({i, Predict(Model::kMultiplicative, truth, grid[i].n, grid[i].t) +
                              0.004 * std::sin(1.7 * static_cast<double>(i))});
  }
  double spent = 0.0;
  for (const auto& r : results) spent += grid[r.candidate].cost;
  const std::vector<size_t> in_flight = {1, 2};
  spent += grid[1].cost + grid[2].cost;
  o.budget_cost = spent + 1500.0;
  auto d = NextRound(grid, results, in_flight, o);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_DOUBLE_EQ(d->spent_cost, spent);
  double chosen_cost = 0.0;
  for (size_t i : d->chosen) {
    EXPECT_TRUE(i != 1 && i != 2 && i % 3 != 0) << i;
    chosen_cost += grid[i].cost;
  }
  EXPECT_LE(spent + chosen_cost, o.budget_cost);
  EXPECT_FALSE(d->chosen.empty()) << d->message;
}

TEST(AdaptiveDesign, AnUnreachableToleranceWithoutBudgetRunsEveryCandidateAndSaysSo) {
  const auto grid = PaperGrid(1);
  AdaptiveOptions o = SimOptions(2);
  o.tolerance = 1e-9;
  o.batch = 9;
  const Simulation sim = Simulate(grid, PaperTruth(), 0.004, 4, o);
  ASSERT_FALSE(sim.rounds.empty());
  EXPECT_EQ(sim.rounds.back().stop, StopReason::kExhausted) << sim.rounds.back().message;
  EXPECT_NE(sim.rounds.back().message.find("every candidate"), std::string::npos);
  std::vector<size_t> order = sim.order;
  std::sort(order.begin(), order.end());
  EXPECT_EQ(order.size(), grid.size());
  EXPECT_EQ(std::unique(order.begin(), order.end()), order.end());  // None run twice.
  for (size_t k = 0; k + 1 < sim.rounds.size(); ++k) {
    EXPECT_LE(sim.rounds[k].chosen.size(), 9u);
  }
}

TEST(AdaptiveDesign, ErrorTargetNarrowsAtAPointBeyondTheGrid) {
  const auto grid = PaperGrid(1);
  const LawParams truth = PaperTruth();
  AdaptiveOptions o = SimOptions(3);
  o.target.kind = AdaptiveTargetKind::kError;
  o.target.n = 30.0;  // Beyond the largest N of the grid.
  o.target.t = 64.0;
  o.tolerance = 1e-9;
  o.budget_jobs = 16;
  const Simulation sim = Simulate(grid, truth, 0.004, 9, o);
  ASSERT_GE(sim.rounds.size(), 2u);
  const AdaptiveDecision& first = sim.rounds.front();
  const AdaptiveDecision& last = sim.rounds.back();
  ASSERT_TRUE(first.fitted && last.fitted);
  EXPECT_EQ(last.stop, StopReason::kBudget);
  EXPECT_LT(last.width, first.width);
  // The points chosen for an extrapolation in N favour the largest N.
  int largest = 0, chosen = 0;
  for (size_t k = 8; k < sim.order.size(); ++k, ++chosen) largest += grid[sim.order[k]].n == 14.0;
  EXPECT_GT(largest, 0);
  std::printf("error at N 30, T 64: width %.4f -> %.4f; %d of %d chosen points at N = 14\n",
              first.width, last.width, largest, chosen);
}

}  // namespace
}  // namespace vlmscale::fit
