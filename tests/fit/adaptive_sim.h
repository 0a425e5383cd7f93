// The simulated sweeps of the adaptive design tests: the seed paper's grid, a known law plus
// noise, and the loop a coordinator will run (initial design, then each chosen batch).
#ifndef VLMSCALE_TESTS_FIT_ADAPTIVE_SIM_H_
#define VLMSCALE_TESTS_FIT_ADAPTIVE_SIM_H_

#include <random>
#include <vector>

#include "fit/adaptive_design.h"
#include "gtest/gtest.h"
#include "tests/fit/test_util.h"

namespace vlmscale::fit::testing {

constexpr double kQ = 50.0;

// The seed paper's grid (N in billions, V visual tokens), `replicates` seeds per point, priced
// by the cost model's 2 N (Q + V).
inline std::vector<DesignCandidate> PaperGrid(int replicates) {
  std::vector<DesignCandidate> c;
  for (int r = 0; r < replicates; ++r) {
    for (double n : {0.5, 1.8, 4.0, 7.0, 14.0}) {
      for (double t : {1.0, 4.0, 16.0, 36.0, 64.0, 144.0, 576.0}) {
        c.push_back({n, t, 2.0 * n * (kQ + t)});
      }
    }
  }
  return c;
}

// The truth of the simulations: the multiplicative law fitted to the paper's 28 points.
inline LawParams PaperTruth() {
  FitSummary s;
  EXPECT_TRUE(FitScalingLaw(FitOptions(), PaperReasoningData(), &s).ok());
  return s.params;
}

inline AdaptiveOptions SimOptions(uint64_t seed) {
  AdaptiveOptions o;
  o.target.frontier.text_tokens = kQ;
  o.target.frontier.budgets = {1e3};  // T* does not depend on the budget for this law.
  o.fit.bootstrap = 100;
  o.fit.seed = seed;
  o.fit.num_threads = 2;
  o.tolerance = 1.0;
  o.batch = 4;
  return o;
}

// One simulated sweep: runs the initial design, then every chosen batch, with Y from `truth`
// plus Gaussian noise of sd `noise` (the same draw for a candidate whatever the order), until
// the engine stops. Returns every decision.
struct Simulation {
  std::vector<size_t> order;  // Candidates in the order run.
  std::vector<AdaptiveDecision> rounds;
};
inline Simulation Simulate(const std::vector<DesignCandidate>& grid, const LawParams& truth,
                           double noise, uint64_t seed, const AdaptiveOptions& options,
                           int stop_after_rounds = -1, Simulation resume_from = {}) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> gauss(0.0, noise);
  std::vector<double> y(grid.size());
  for (size_t i = 0; i < grid.size(); ++i) {
    y[i] = Predict(Model::kMultiplicative, truth, grid[i].n, grid[i].t) + gauss(rng);
  }
  Simulation sim = resume_from;
  if (sim.order.empty()) {
    auto initial = InitialDesign(grid, options);
    EXPECT_TRUE(initial.ok()) << initial.status().ToString();
    sim.order = *initial;
  }
  while (stop_after_rounds < 0 || static_cast<int>(sim.rounds.size()) < stop_after_rounds) {
    std::vector<DesignResult> results;
    for (size_t i : sim.order) results.push_back({i, y[i]});
    auto d = NextRound(grid, results, {}, options);
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    if (!d.ok()) break;
    sim.rounds.push_back(*d);
    if (d->stop != StopReason::kContinue) break;
    EXPECT_FALSE(d->chosen.empty()) << d->message;
    if (d->chosen.empty()) break;
    sim.order.insert(sim.order.end(), d->chosen.begin(), d->chosen.end());
  }
  return sim;
}

}  // namespace vlmscale::fit::testing

#endif  // VLMSCALE_TESTS_FIT_ADAPTIVE_SIM_H_
