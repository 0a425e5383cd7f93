// Helpers shared by the fit tests: the seed paper's data and synthetic data sets.
#ifndef VLMSCALE_TESTS_FIT_TEST_UTIL_H_
#define VLMSCALE_TESTS_FIT_TEST_UTIL_H_

#include <cmath>
#include <random>
#include <string>

#include "core/csv.h"
#include "fit/observations.h"
#include "fit/scaling_law.h"
#include "gtest/gtest.h"

namespace vlmscale::fit::testing {

inline std::string DataPath(const std::string& name) {
  return std::string(VLMSCALE_TEST_SOURCE_DIR) + "/tests/data/" + name;
}

// The 28 points of arXiv 2411.03312 (visual reasoning), N in billions.
inline Observations PaperReasoningData() {
  auto table = ReadCsvFile(DataPath("vlm_2411.03312_reasoning.csv"));
  EXPECT_TRUE(table.ok()) << table.status().ToString();
  auto obs = ObservationsFromCsv(*table, "N_llm_params_billion", "T_visual_tokens", "Y_error");
  EXPECT_TRUE(obs.ok()) << obs.status().ToString();
  return *obs;
}

// Points of `model` with `truth` on a 6 x 6 grid of N (billions) and T, with noise: additive
// Gaussian of sd `noise` (linear), or multiplicative exp(N(0, noise)) when log_noise.
inline Observations Synthetic(Model model, const LawParams& truth, double noise, bool log_noise,
                              uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> gauss(0.0, 1.0);
  Observations obs;
  for (double n : {0.5, 1.0, 2.0, 4.0, 8.0, 16.0}) {
    for (double t : {1.0, 4.0, 16.0, 64.0, 256.0, 576.0}) {
      double y = Predict(model, truth, n, t);
      y = log_noise ? y * std::exp(noise * gauss(rng)) : y + noise * gauss(rng);
      obs.Add(n, t, y);
    }
  }
  return obs;
}

// The fit options of the coverage tests: 200 bootstrap resamples seeded by the draw, no standard
// errors (only the intervals are checked).
inline FitOptions CoverageOptions(int draw) {
  FitOptions options;
  options.bootstrap = 200;
  options.seed = draw;
  options.compute_stderr = false;
  return options;
}

// The compute law's truth of the law-form tests: Y = 2 C^-0.3 + 0.15 with Q = 64.
inline LawParams ComputeTruth() {
  LawParams p;
  p.A = 2.0;
  p.gamma = 0.3;
  p.E = 0.15;
  p.q = 64;
  return p;
}

// A broken power law in T whose tokens help little below T = 30 and much more above ("tokens
// start helping late").
inline LawParams LateBreakTruth() {
  LawParams p;
  p.A = 2.0;
  p.alpha = 0.3;
  p.beta = 0.05;
  p.beta2 = 0.4;
  p.t_break = 30;
  p.E = 0.15;
  return p;
}

}  // namespace vlmscale::fit::testing

#endif  // VLMSCALE_TESTS_FIT_TEST_UTIL_H_
