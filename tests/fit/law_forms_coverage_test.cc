// Bootstrap percentile intervals of every law form cover the truth at about the nominal 95% over
// 200 synthetic data sets (the multiplicative law's own test, bootstrap_coverage_test.cc, uses
// 150), and the prediction band covers held-out points. `slow`: 26 s for the forms alone on the
// 2-core machine under moderate load, 110 s for the whole test under load 12.
#include <cmath>
#include <cstdio>

#include "fit/scaling_law.h"
#include "gtest/gtest.h"
#include "tests/fit/test_util.h"

namespace vlmscale::fit {
namespace {

struct CoverageCase {
  Model model;
  LawParams truth;
};

class Coverage : public ::testing::TestWithParam<CoverageCase> {};

TEST_P(Coverage, IntervalsCoverTheTruthAtAboutTheNominalRate) {
  const CoverageCase c = GetParam();
  const int kDraws = 200;
  const std::vector<int> ids = ActiveParams(c.model);
  std::vector<int> covered(kNumParamIds, 0);
  for (int d = 0; d < kDraws; ++d) {
    Observations obs = testing::Synthetic(c.model, c.truth, 0.01, false, 5000 + d);
    FitOptions options = testing::CoverageOptions(d);
    options.model = c.model;
    options.text_tokens = c.truth.q;
    FitSummary s;
    ASSERT_TRUE(FitScalingLaw(options, obs, &s).ok());
    ASSERT_TRUE(s.has_ci) << s.FullReport();
    for (int id : ids) {
      const double v = fit::GetParam(c.truth, id);
      covered[id] += fit::GetParam(s.ci_lower, id) <= v && v <= fit::GetParam(s.ci_upper, id);
    }
  }
  std::printf("%s coverage over %d draws (nominal 0.95):", ModelName(c.model), kDraws);
  for (int id : ids) std::printf(" %s %.3f", ParamName(id), double(covered[id]) / kDraws);
  std::printf("\n");
  // The exponents and the break are what the law is for; A and E trade off with them and sit at
  // a bound (E) often enough to undercover, so they are printed but held to a looser floor.
  for (int id : ids) {
    const double rate = static_cast<double>(covered[id]) / kDraws;
    const bool core = id != kParamA && id != kParamE;
    // Binomial sd at p = 0.95 over 200 draws is 0.015: [0.90, 0.98] is about -3 to +2 sd.
    if (core) {
      EXPECT_GE(rate, 0.90) << ModelName(c.model) << " " << ParamName(id);
      EXPECT_LE(rate, 0.98) << ModelName(c.model) << " " << ParamName(id);
    } else {
      EXPECT_GE(rate, 0.85) << ModelName(c.model) << " " << ParamName(id);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    EveryForm, Coverage,
    ::testing::Values(CoverageCase{Model::kMultiplicative, {2.0, 0.3, 0.0, 0.2, 0.2}},
                      CoverageCase{Model::kAdditive, {1.5, 0.35, 0.8, 0.25, 0.15}},
                      CoverageCase{Model::kCompute, testing::ComputeTruth()},
                      CoverageCase{Model::kBroken, testing::LateBreakTruth()}));

}  // namespace
}  // namespace vlmscale::fit

namespace vlmscale::fit {
namespace {

// The 95% prediction band of the fit without the largest N covers the held-out points (fresh
// noise at a larger N) at about the nominal rate; the curve's confidence band is narrower.
TEST(PredictionBand, CoversHeldOutPointsAtAboutTheNominalRate) {
  const LawParams truth = {2.0, 0.3, 0.0, 0.2, 0.2};
  const int kDraws = 200;
  int inside = 0, total = 0, ci_inside_pi = 0, ci_total = 0;
  for (int d = 0; d < kDraws; ++d) {
    Observations obs = testing::Synthetic(Model::kMultiplicative, truth, 0.01, false, 9000 + d);
    FitOptions options = testing::CoverageOptions(d);
    options.holdout_largest = 1;
    FitSummary s;
    ASSERT_TRUE(FitScalingLaw(options, obs, &s).ok());
    ASSERT_EQ(s.extrapolation.size(), 6u) << s.FullReport();
    for (const auto& h : s.extrapolation) {
      ASSERT_TRUE(h.band.present);
      inside += h.band.pi_lower <= h.observed && h.observed <= h.band.pi_upper;
      ++total;
    }
    for (const auto& bp : s.curve_band) {
      ci_inside_pi += bp.band.pi_upper - bp.band.pi_lower > bp.band.ci_upper - bp.band.ci_lower;
      ++ci_total;
    }
  }
  const double rate = static_cast<double>(inside) / total;
  std::printf("prediction band: %d of %d held-out points inside (%.3f, nominal 0.95)\n", inside,
              total, rate);
  EXPECT_GE(rate, 0.90);
  EXPECT_LE(rate, 0.98);
  EXPECT_GE(static_cast<double>(ci_inside_pi) / ci_total, 0.95);
}

}  // namespace
}  // namespace vlmscale::fit
