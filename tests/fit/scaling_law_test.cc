#include "fit/scaling_law.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "gtest/gtest.h"
#include "tests/fit/test_util.h"

namespace vlmscale::fit {
namespace {

using testing::PaperReasoningData;
using testing::Synthetic;

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

bool AnyContains(const std::vector<std::string>& v, const std::string& s) {
  for (const auto& x : v) {
    if (x.find(s) != std::string::npos) return true;
  }
  return false;
}

TEST(FitOptions, DefaultsAreValid) {
  FitOptions options;
  std::string error;
  EXPECT_TRUE(options.IsValid(&error)) << error;
}

TEST(FitOptions, InvalidValuesNameTheConstraint) {
  std::string error;
  FitOptions o;
  o.huber_delta = 0;
  EXPECT_FALSE(o.IsValid(&error));
  EXPECT_NE(error.find("huber_delta"), std::string::npos);
  o = FitOptions();
  o.bootstrap = 5;
  EXPECT_FALSE(o.IsValid(&error));
  EXPECT_NE(error.find("bootstrap"), std::string::npos);
  o = FitOptions();
  o.bounds["B"] = {0, 1};  // The multiplicative law has no B.
  EXPECT_FALSE(o.IsValid(&error));
  EXPECT_NE(error.find("unknown parameter 'B'"), std::string::npos);
  o = FitOptions();
  o.bounds["alpha"] = {2, 1};
  EXPECT_FALSE(o.IsValid(&error));
  EXPECT_NE(error.find("lower <= upper"), std::string::npos);
  o = FitOptions();
  o.space = Space::kLog;
  o.bounds["E"] = {-1, 1};
  EXPECT_FALSE(o.IsValid(&error));
  EXPECT_NE(error.find("log space"), std::string::npos);
}

// The seed paper's 28 points: a bounded least-squares fit beats the paper's partial grid search
// (SSE about 3.96e-4), lands near its reported exponents and says that E sits at its bound 0.
TEST(FitScalingLaw, PaperDataMultiplicativeBeatsThePublishedGridSearch) {
  Observations obs = PaperReasoningData();
  ASSERT_EQ(obs.size(), 28u);
  FitOptions options;
  FitSummary s;
  ASSERT_TRUE(FitScalingLaw(options, obs, &s).ok());
  ASSERT_EQ(s.termination, FitSummary::Termination::kConvergence) << s.message;
  EXPECT_LT(s.sse, 3.96e-4);
  EXPECT_NEAR(s.params.alpha, 0.077, 0.01);
  EXPECT_NEAR(s.params.beta, 0.015, 0.003);
  EXPECT_TRUE(Contains(s.at_bound, "E")) << s.FullReport();
  EXPECT_EQ(s.params.E, 0.0);
  EXPECT_GT(s.r2, 0.98);
  // Stderr exists for the free parameters only.
  EXPECT_TRUE(s.has_stderr) << s.stderr_reason;
  EXPECT_TRUE(s.stderr_present[kParamAlpha]);
  EXPECT_FALSE(s.stderr_present[kParamE]);
  EXPECT_GT(s.stderr_values.alpha, 0.0);
  EXPECT_LT(s.stderr_values.alpha, 0.01);
  // The objective reported is the SSE for the squared loss in linear space.
  EXPECT_NEAR(s.objective, s.sse, 1e-15);
}

TEST(FitScalingLaw, ResultDoesNotDependOnTheNumberOfThreads) {
  Observations obs = PaperReasoningData();
  FitOptions options;
  options.model = Model::kAdditive;
  options.loss = Loss::kHuber;
  options.space = Space::kLog;
  options.start_grid = {{"A", {0, 5}}, {"B", {0, 5}}, {"E", {-1, 0}}};  // 200 starts.
  FitSummary one, two;
  options.num_threads = 1;
  ASSERT_TRUE(FitScalingLaw(options, obs, &one).ok());
  options.num_threads = 3;
  ASSERT_TRUE(FitScalingLaw(options, obs, &two).ok());
  EXPECT_EQ(one.num_starts, 200);
  EXPECT_EQ(one.best_start, two.best_start);
  EXPECT_EQ(one.objective, two.objective);
  EXPECT_EQ(one.params.alpha, two.params.alpha);
  EXPECT_EQ(one.params.B, two.params.B);
}

TEST(FitScalingLaw, DefaultAdditiveHuberGridIsThePublishedOne) {
  Observations obs = PaperReasoningData();
  FitOptions options;
  options.model = Model::kAdditive;
  options.loss = Loss::kHuber;
  options.space = Space::kLog;
  options.max_iterations = 30;  // Only the grid size matters here.
  options.compute_stderr = false;
  FitSummary s;
  ASSERT_TRUE(FitScalingLaw(options, obs, &s).ok());
  EXPECT_EQ(s.num_starts, 6 * 6 * 5 * 5 * 5);
}

// The Huber objective built inside one residual block equals Ceres' own per-block HuberLoss.
TEST(FitScalingLaw, SingleBlockHuberMatchesCeresPerPointHuberLoss) {
  Observations obs = PaperReasoningData();
  FitOptions options;
  options.loss = Loss::kHuber;
  options.space = Space::kLog;
  options.start_grid = {{"A", {0}}, {"alpha", {0, 0.5}}, {"beta", {0, 0.5}}, {"E", {-1}}};
  FitSummary single, per_point;
  ASSERT_TRUE(FitScalingLaw(options, obs, &single).ok());
  options.per_point_residual_blocks = true;
  ASSERT_TRUE(FitScalingLaw(options, obs, &per_point).ok());
  EXPECT_NEAR(single.objective, per_point.objective, 1e-9 * per_point.objective);
  EXPECT_NEAR(single.params.alpha, per_point.params.alpha, 1e-4);
  EXPECT_NEAR(single.params.beta, per_point.params.beta, 1e-4);
}

struct RecoveryCase {
  Model model;
  Loss loss;
  Space space;
};

class Recovery : public ::testing::TestWithParam<RecoveryCase> {};

LawParams Truth(Model m) {
  LawParams p;
  if (m == Model::kMultiplicative) {
    p = {2.0, 0.3, 0.0, 0.2, 0.2};
  } else if (m == Model::kAdditive) {
    p = {1.5, 0.35, 0.8, 0.25, 0.15};
  } else if (m == Model::kCompute) {
    p.A = 2.0;
    p.gamma = 0.3;
    p.E = 0.15;
    p.q = 64;
  } else {
    // Tokens help little below the break and much more above it.
    p.A = 2.0;
    p.alpha = 0.3;
    p.beta = 0.05;
    p.beta2 = 0.4;
    p.t_break = 30;
    p.E = 0.15;
  }
  return p;
}

FitOptions OptionsFor(const RecoveryCase& c) {
  FitOptions o;
  o.model = c.model;
  o.loss = c.loss;
  o.space = c.space;
  if (c.space == Space::kLog && c.model == Model::kAdditive) {
    // A reduced published grid keeps the test fast; the full grid is exercised elsewhere.
    o.start_grid = {{"A", {0, 5}}, {"B", {0, 5}}};
  }
  if (c.space == Space::kLog && c.model == Model::kBroken) o.start_grid = {{"A", {0, 5}}};
  if (c.model == Model::kCompute) o.text_tokens = Truth(c.model).q;
  return o;
}

// Noise-free data: every mode recovers the truth to solver precision.
TEST_P(Recovery, NoiseFreeDataGivesTheTrueParameters) {
  const RecoveryCase c = GetParam();
  const LawParams truth = Truth(c.model);
  Observations obs = Synthetic(c.model, truth, 0.0, false, 1);
  FitSummary s;
  ASSERT_TRUE(FitScalingLaw(OptionsFor(c), obs, &s).ok());
  ASSERT_TRUE(s.IsSolutionUsable()) << s.message;
  for (int id : ActiveParams(c.model)) {
    EXPECT_NEAR(fit::GetParam(s.params, id), fit::GetParam(truth, id),
                1e-4 * (1 + fit::GetParam(truth, id)))
        << ParamName(id) << "\n"
        << s.FullReport();
  }
  EXPECT_LT(s.sse, 1e-12);
}

// Noisy data: the estimates land within 4 standard errors (from the Ceres covariance) of the
// truth -- a tolerance set by the data, not by hand -- and the standard errors are small.
TEST_P(Recovery, NoisyDataGivesTheTruthWithinFourStandardErrors) {
  const RecoveryCase c = GetParam();
  const LawParams truth = Truth(c.model);
  int inside = 0, total = 0;
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    Observations obs = Synthetic(c.model, truth, 0.004, c.space == Space::kLog, seed);
    FitSummary s;
    ASSERT_TRUE(FitScalingLaw(OptionsFor(c), obs, &s).ok());
    ASSERT_TRUE(s.has_stderr) << s.stderr_reason << "\n" << s.FullReport();
    for (int id : ActiveParams(c.model)) {
      ASSERT_TRUE(s.stderr_present[id]) << ParamName(id) << "\n" << s.FullReport();
      const double se = fit::GetParam(s.stderr_values, id);
      EXPECT_LT(se, 0.5 * std::max(0.1, fit::GetParam(truth, id))) << ParamName(id);
      ++total;
      if (std::abs(fit::GetParam(s.params, id) - fit::GetParam(truth, id)) <= 4 * se) ++inside;
    }
  }
  // At 4 sigma a miss has probability ~6e-5 per parameter for a correct estimator; the Huber
  // and log-space standard errors are approximations, so allow one miss.
  EXPECT_GE(inside, total - 1);
}

INSTANTIATE_TEST_SUITE_P(
    AllModes, Recovery,
    ::testing::Values(RecoveryCase{Model::kMultiplicative, Loss::kSquared, Space::kLinear},
                      RecoveryCase{Model::kAdditive, Loss::kSquared, Space::kLinear},
                      RecoveryCase{Model::kMultiplicative, Loss::kHuber, Space::kLog},
                      RecoveryCase{Model::kAdditive, Loss::kHuber, Space::kLog},
                      RecoveryCase{Model::kCompute, Loss::kSquared, Space::kLinear},
                      RecoveryCase{Model::kBroken, Loss::kSquared, Space::kLinear},
                      RecoveryCase{Model::kCompute, Loss::kHuber, Space::kLog},
                      RecoveryCase{Model::kBroken, Loss::kHuber, Space::kLog}));

TEST(FitScalingLaw, OneDistinctTIsReportedAsNotIdentifiable) {
  Observations obs;
  for (double n : {0.5, 1.0, 2.0, 4.0, 8.0, 16.0}) obs.Add(n, 64, 0.3 + 0.5 * std::pow(n, -0.3));
  FitSummary s;
  ASSERT_TRUE(FitScalingLaw(FitOptions(), obs, &s).ok());
  EXPECT_TRUE(AnyContains(s.warnings, "non-identifiable")) << s.FullReport();
  EXPECT_TRUE(AnyContains(s.warnings, "share one T")) << s.FullReport();
  EXPECT_FALSE(s.has_stderr);
  EXPECT_NE(s.stderr_reason.find("singular"), std::string::npos) << s.stderr_reason;
}

TEST(FitScalingLaw, FewPointsAreWarnedAbout) {
  Observations obs =
      Synthetic(Model::kMultiplicative, Truth(Model::kMultiplicative), 0.0, false, 1);
  Observations few;
  for (size_t i : {0, 7, 14, 21, 28, 35}) few.Add(obs.n[i], obs.t[i], obs.y[i]);
  FitSummary s;
  ASSERT_TRUE(FitScalingLaw(FitOptions(), few, &s).ok());
  EXPECT_TRUE(AnyContains(s.warnings, "few points")) << s.FullReport();
}

TEST(FitScalingLaw, BadInputsAreRejectedWithTheirLocation) {
  FitOptions options;
  FitSummary s;
  Observations obs =
      Synthetic(Model::kMultiplicative, Truth(Model::kMultiplicative), 0.0, false, 1);

  Observations nan_obs = obs;
  nan_obs.y[3] = std::numeric_limits<double>::quiet_NaN();
  Status st = FitScalingLaw(options, nan_obs, &s);
  EXPECT_TRUE(st.IsInvalidInput());
  EXPECT_NE(st.message().find("point 4"), std::string::npos) << st.message();

  Observations bad_n = obs;
  bad_n.n[0] = 0;
  st = FitScalingLaw(options, bad_n, &s);
  EXPECT_NE(st.message().find("N must be > 0"), std::string::npos) << st.message();

  Observations bad_t = obs;
  bad_t.t[1] = -4;
  st = FitScalingLaw(options, bad_t, &s);
  EXPECT_NE(st.message().find("T must be > 0"), std::string::npos) << st.message();

  Observations neg_y = obs;
  neg_y.y[2] = -0.1;
  FitOptions log_options;
  log_options.space = Space::kLog;
  log_options.loss = Loss::kHuber;
  st = FitScalingLaw(log_options, neg_y, &s);
  EXPECT_NE(st.message().find("Y must be > 0 for a log-space fit"), std::string::npos)
      << st.message();

  Observations three;
  for (int i = 0; i < 3; ++i) three.Add(obs.n[i], obs.t[i], obs.y[i]);
  st = FitScalingLaw(options, three, &s);
  EXPECT_NE(st.message().find("fewer points than parameters"), std::string::npos) << st.message();

  Observations flat = obs;
  std::fill(flat.y.begin(), flat.y.end(), 0.4);
  st = FitScalingLaw(options, flat, &s);
  EXPECT_NE(st.message().find("Y is constant"), std::string::npos) << st.message();

  st = FitScalingLaw(options, Observations(), &s);
  EXPECT_NE(st.message().find("no points"), std::string::npos) << st.message();
}

// The paper predicted its largest model within 2%; on its own data the holdout of the largest N
// (7B) is predicted within 2% by the multiplicative fit on the three smaller models.
TEST(FitScalingLaw, HoldoutOfTheLargestNPredictsItWithinTwoPercent) {
  FitOptions options;
  options.holdout_largest = 1;
  FitSummary s;
  ASSERT_TRUE(FitScalingLaw(options, PaperReasoningData(), &s).ok());
  ASSERT_EQ(s.extrapolation.size(), 7u);
  for (const auto& h : s.extrapolation) {
    EXPECT_EQ(h.n, 7.0);
    EXPECT_NEAR(h.predicted, Predict(Model::kMultiplicative, s.params, h.n, h.t), 0.02)
        << "holdout prediction should be close to the full fit";
    EXPECT_LT(std::abs(h.relative_error), 0.02) << "T=" << h.t;
    EXPECT_NEAR(h.relative_error, (h.predicted - h.observed) / h.observed, 1e-15);
  }
  options.holdout_largest = 4;
  EXPECT_TRUE(FitScalingLaw(options, PaperReasoningData(), &s).IsInvalidInput());
}

TEST(FitScalingLaw, BootstrapIsDeterministicForASeedAndBracketsTheEstimate) {
  FitOptions options;
  options.bootstrap = 100;
  options.seed = 7;
  FitSummary a, b;
  ASSERT_TRUE(FitScalingLaw(options, PaperReasoningData(), &a).ok());
  options.num_threads = 1;
  ASSERT_TRUE(FitScalingLaw(options, PaperReasoningData(), &b).ok());
  ASSERT_TRUE(a.has_ci);
  EXPECT_EQ(a.bootstrap_resamples, 100);
  EXPECT_EQ(a.ci_lower.alpha, b.ci_lower.alpha);
  EXPECT_EQ(a.ci_upper.beta, b.ci_upper.beta);
  EXPECT_LT(a.ci_lower.alpha, a.params.alpha);
  EXPECT_GT(a.ci_upper.alpha, a.params.alpha);
  EXPECT_LT(a.ci_upper.alpha - a.ci_lower.alpha, 0.02);
}

// beta/alpha and its bootstrap interval: the seed paper's contrast between visual reasoning
// (beta/alpha ~ 0.2) and OCR (~1.4) is decided by intervals of this ratio.
TEST(FitScalingLaw, BetaOverAlphaHasABootstrapIntervalAroundTheEstimate) {
  FitOptions options;
  options.bootstrap = 100;
  FitSummary s;
  ASSERT_TRUE(FitScalingLaw(options, PaperReasoningData(), &s).ok());
  ASSERT_TRUE(s.has_ci);
  const double ratio = BetaOverAlpha(s.params);
  EXPECT_NEAR(ratio, s.params.beta / s.params.alpha, 1e-12);
  EXPECT_GT(ratio, 0.15);
  EXPECT_LT(ratio, 0.3);
  EXPECT_LT(s.beta_over_alpha_ci_lower, ratio);
  EXPECT_GT(s.beta_over_alpha_ci_upper, ratio);
  // The ratio's interval is not the ratio of the parameters' interval ends.
  EXPECT_GT(s.beta_over_alpha_ci_lower, s.ci_lower.beta / s.ci_upper.alpha);
  EXPECT_NE(s.FullReport().find("beta/alpha"), std::string::npos);
}

TEST(BetaOverAlpha, AlphaZeroIsInfiniteUnlessBetaIsZeroToo) {
  LawParams p;
  p.alpha = 0.0;
  p.beta = 0.1;
  EXPECT_TRUE(std::isinf(BetaOverAlpha(p)));
  p.beta = 0.0;
  EXPECT_TRUE(std::isnan(BetaOverAlpha(p)));
  p.alpha = 0.2;
  EXPECT_EQ(BetaOverAlpha(p), 0.0);
}

TEST(FitScalingLaw, UserBoundsAreRespectedAndReported) {
  FitOptions options;
  options.bounds["alpha"] = {0.0, 0.05};  // Below the unconstrained optimum (~0.071).
  FitSummary s;
  ASSERT_TRUE(FitScalingLaw(options, PaperReasoningData(), &s).ok());
  EXPECT_NEAR(s.params.alpha, 0.05, 1e-9);
  EXPECT_TRUE(Contains(s.at_bound, "alpha")) << s.FullReport();
  EXPECT_EQ(s.bounds_used[kParamAlpha].upper, 0.05);
}

TEST(FitScalingLaw, EqualBoundsHoldAParameterFixedAndTheOthersRefit) {
  FitSummary free_fit;
  ASSERT_TRUE(FitScalingLaw(FitOptions(), PaperReasoningData(), &free_fit).ok());
  FitOptions options;
  options.bounds["E"] = {0.1, 0.1};  // Well above the free optimum (E at 0).
  FitSummary s;
  ASSERT_TRUE(FitScalingLaw(options, PaperReasoningData(), &s).ok()) << s.FullReport();
  EXPECT_EQ(s.params.E, 0.1);
  // The other parameters move to absorb the floor, and the fit gets worse, not broken.
  EXPECT_GT(s.params.alpha, free_fit.params.alpha + 0.005) << s.FullReport();
  EXPECT_GT(s.sse, free_fit.sse);
  EXPECT_LT(s.sse, 10 * free_fit.sse);
  EXPECT_NE(s.FullReport().find("FIXED"), std::string::npos) << s.FullReport();
}

TEST(FitScalingLaw, APointWithATinyWeightBarelyMovesTheFit) {
  const LawParams truth = {2.0, 0.3, 0.0, 0.2, 0.1};
  Observations obs;
  for (double n : {1.0, 2.0, 4.0, 8.0}) {
    for (double t : {1.0, 4.0, 16.0, 64.0}) {
      obs.Add(n, t, Predict(Model::kMultiplicative, truth, n, t));
    }
  }
  obs.y[5] += 0.2;  // One point far off (its seeds disagreed).
  FitOptions options;
  options.num_threads = 1;
  FitSummary plain, weighted;
  ASSERT_TRUE(FitScalingLaw(options, obs, &plain).ok());
  obs.weights.assign(obs.size(), 1.0);
  obs.weights[5] = 1e-6;
  ASSERT_TRUE(FitScalingLaw(options, obs, &weighted).ok());
  EXPECT_GT(std::abs(plain.params.alpha - truth.alpha), 0.01);
  EXPECT_NEAR(weighted.params.alpha, truth.alpha, 1e-3);
  EXPECT_NEAR(weighted.params.beta, truth.beta, 1e-3);
  // sse stays unweighted: the off point counts in full.
  EXPECT_GT(weighted.sse, 0.2 * 0.2 * 0.9);
  obs.weights[5] = 0.0;
  EXPECT_FALSE(FitScalingLaw(options, obs, &weighted).ok());
}

TEST(FitSummary, ReportsNameTheModelAndParameters) {
  FitSummary s;
  ASSERT_TRUE(FitScalingLaw(FitOptions(), PaperReasoningData(), &s).ok());
  EXPECT_NE(s.BriefReport().find("alpha="), std::string::npos);
  EXPECT_NE(s.BriefReport().find("at bound: E"), std::string::npos);
  EXPECT_NE(s.FullReport().find("AT BOUND"), std::string::npos);
  EXPECT_NE(s.FullReport().find("multiplicative"), std::string::npos);
}

}  // namespace
}  // namespace vlmscale::fit
