// Bootstrap percentile intervals cover the truth at about the nominal 95% over repeated draws.
#include <cmath>

#include "fit/scaling_law.h"
#include "gtest/gtest.h"
#include "tests/fit/test_util.h"

namespace vlmscale::fit {
namespace {

TEST(Bootstrap, IntervalsCoverTheTruthAtAboutTheNominalRate) {
  const LawParams truth = {2.0, 0.3, 0.0, 0.2, 0.2};
  const int kDraws = 150;
  int cover_alpha = 0, cover_beta = 0, cover_a = 0;
  for (int d = 0; d < kDraws; ++d) {
    Observations obs = testing::Synthetic(Model::kMultiplicative, truth, 0.01, false, 1000 + d);
    FitOptions options;
    options.bootstrap = 200;
    options.seed = d;
    options.compute_stderr = false;
    FitSummary s;
    ASSERT_TRUE(FitScalingLaw(options, obs, &s).ok());
    ASSERT_TRUE(s.has_ci) << s.FullReport();
    cover_alpha += s.ci_lower.alpha <= truth.alpha && truth.alpha <= s.ci_upper.alpha;
    cover_beta += s.ci_lower.beta <= truth.beta && truth.beta <= s.ci_upper.beta;
    cover_a += s.ci_lower.A <= truth.A && truth.A <= s.ci_upper.A;
  }
  const double ca = static_cast<double>(cover_alpha) / kDraws;
  const double cb = static_cast<double>(cover_beta) / kDraws;
  const double cA = static_cast<double>(cover_a) / kDraws;
  std::printf("coverage over %d draws: alpha %.3f, beta %.3f, A %.3f (nominal 0.95)\n", kDraws, ca,
              cb, cA);
  // With 150 draws the binomial sd at p = 0.95 is 0.018; percentile intervals on 36 points are
  // known to undercover a little, so accept [0.85, 1].
  EXPECT_GE(ca, 0.85);
  EXPECT_GE(cb, 0.85);
  EXPECT_GE(cA, 0.85);
}

}  // namespace
}  // namespace vlmscale::fit
