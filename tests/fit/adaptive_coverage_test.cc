// The acceptance test of the adaptive design on simulated sweeps (slow: 24 sweeps with a
// 200-resample bootstrap fit per round).
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "fit/adaptive_design.h"
#include "gtest/gtest.h"
#include "tests/fit/adaptive_sim.h"

namespace vlmscale::fit {
namespace {

using testing::kQ;
using testing::PaperGrid;
using testing::PaperTruth;
using testing::SimOptions;
using testing::Simulate;
using testing::Simulation;

// The acceptance: over >= 20 seeded simulated sweeps of a known law plus noise, the
// final T* interval covers the true T* in >= 90% and every sweep stops for the reason it states;
// the budget is never exceeded.
TEST(AdaptiveDesign, FinalFrontierIntervalCoversTheTruthInSimulatedSweeps) {
  const auto grid = PaperGrid(2);
  const LawParams truth = PaperTruth();
  const double t_star = MultiplicativeOptimalT(truth.alpha, truth.beta, kQ, 1, 576);
  const int kRuns = 24;
  int covered = 0, by_tolerance = 0, by_budget = 0;
  double total_cost = 0.0;
  for (const auto& c : grid) total_cost += c.cost;
  for (int r = 0; r < kRuns; ++r) {
    AdaptiveOptions o = SimOptions(100 + r);
    o.fit.bootstrap = 200;  // The default.
    o.tolerance = 0.2;      // T*'s interval within a factor e^0.2 = 1.22.
    // Every third sweep has a cost budget tight enough to end it before the tolerance.
    if (r % 3 == 2) o.budget_cost = 0.22 * total_cost;
    const Simulation sim = Simulate(grid, truth, 0.004, 500 + r, o);
    ASSERT_FALSE(sim.rounds.empty());
    const AdaptiveDecision& last = sim.rounds.back();
    double spent = 0.0;
    for (size_t i : sim.order) spent += grid[i].cost;
    EXPECT_DOUBLE_EQ(last.spent_cost, spent);
    if (o.budget_cost > 0) EXPECT_LE(spent, o.budget_cost);
    ASSERT_TRUE(last.fitted) << last.message;
    ASSERT_EQ(last.target.size(), 1u);
    const TargetEstimate& e = last.target[0];
    covered += e.lower <= t_star && t_star <= e.upper;
    switch (last.stop) {
      case StopReason::kTolerance:
        ++by_tolerance;
        EXPECT_LE(last.width, o.tolerance);
        break;
      case StopReason::kBudget: {
        ++by_budget;
        EXPECT_GT(last.width, o.tolerance);
        ASSERT_GT(o.budget_cost, 0.0);
        for (size_t i = 0; i < grid.size(); ++i) {
          if (std::find(sim.order.begin(), sim.order.end(), i) == sim.order.end()) {
            EXPECT_GT(spent + grid[i].cost, o.budget_cost) << "candidate " << i << " still fit";
          }
        }
        break;
      }
      default:
        ADD_FAILURE() << "run " << r << " stopped: " << last.message;
    }
    std::printf("run %2d: %-9s %2zu jobs, %5.1f%% of the grid's cost, T* %.2f [%.2f, %.2f]\n", r,
                StopReasonName(last.stop), sim.order.size(), 100.0 * spent / total_cost, e.value,
                e.lower, e.upper);
  }
  std::printf("true T* %.3f: covered %d of %d; stopped by tolerance %d, by budget %d\n", t_star,
              covered, kRuns, by_tolerance, by_budget);
  EXPECT_GE(covered, static_cast<int>(std::ceil(0.9 * kRuns)));
  EXPECT_GT(by_tolerance, 0);
  EXPECT_GT(by_budget, 0);
}

}  // namespace
}  // namespace vlmscale::fit
