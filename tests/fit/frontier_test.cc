#include "fit/frontier.h"

#include <cmath>

#include "fit/report_json.h"
#include "gtest/gtest.h"
#include "tests/fit/test_util.h"

namespace vlmscale::fit {
namespace {

FittedLaw PaperLaw() {
  Observations obs = testing::PaperReasoningData();
  FitSummary s;
  EXPECT_TRUE(FitScalingLaw(FitOptions(), obs, &s).ok());
  // Round-trip through the JSON the CLI writes.
  auto law = FittedLawFromJson(FitSummaryToJson(s, obs));
  EXPECT_TRUE(law.ok()) << law.status().ToString();
  return *law;
}

TEST(FrontierOptions, DefaultsAreValid) {
  FrontierOptions options;
  std::string error;
  EXPECT_TRUE(options.IsValid(&error)) << error;
  options.text_tokens = -1;
  EXPECT_FALSE(options.IsValid(&error));
  EXPECT_NE(error.find("text_tokens"), std::string::npos);
}

TEST(Frontier, MultiplicativeClosedFormFormula) {
  EXPECT_DOUBLE_EQ(MultiplicativeOptimalT(0.08, 0.02, 50, 1, 576), 0.02 * 50 / 0.06);
  EXPECT_EQ(MultiplicativeOptimalT(0.02, 0.08, 50, 1, 576), 576);  // beta >= alpha: largest T.
  EXPECT_EQ(MultiplicativeOptimalT(0.08, 0.02, 0, 1, 576), 1);     // Q = 0: smallest T.
}

// The seed paper's setting: Q = 50 text tokens gives a small optimal T (its plot uses 14), the
// same at every budget, and the numeric optimum matches beta*Q/(alpha-beta).
TEST(Frontier, PaperFitAtFiftyTextTokensHasASmallConstantOptimalT) {
  FittedLaw law = PaperLaw();
  FrontierOptions options;
  options.text_tokens = 50;
  auto fr = ComputeFrontier(law, options);
  ASSERT_TRUE(fr.ok()) << fr.status().ToString();
  const double closed = law.params.beta * 50 / (law.params.alpha - law.params.beta);
  ASSERT_TRUE(fr->closed_form_t.has_value());
  EXPECT_NEAR(*fr->closed_form_t, closed, 1e-12);
  EXPECT_GT(closed, 5);
  EXPECT_LT(closed, 25);
  ASSERT_EQ(fr->points.size(), 12u);
  for (const auto& p : fr->points) {
    ASSERT_TRUE(p.feasible);
    EXPECT_NEAR(p.t, closed, 1e-5 * closed) << "budget " << p.budget;
    EXPECT_NEAR(2 * p.n * (50 + p.t), p.budget, 1e-9 * p.budget);
  }
}

TEST(Frontier, NoTextTokensGivesTheSmallestT) {
  FittedLaw law = PaperLaw();
  FrontierOptions options;
  options.text_tokens = 0;
  auto fr = ComputeFrontier(law, options);
  ASSERT_TRUE(fr.ok());
  for (const auto& p : fr->points) EXPECT_DOUBLE_EQ(p.t, 1.0);
}

TEST(Frontier, BetaAboveAlphaGivesTheLargestT) {
  FittedLaw law;
  law.model = Model::kMultiplicative;
  law.params = {1.0, 0.05, 0.0, 0.2, 0.1};
  for (double n : {1.0, 2.0}) {
    for (double t : {4.0, 64.0}) law.points.Add(n, t, Predict(law.model, law.params, n, t));
  }
  FrontierOptions options;
  options.text_tokens = 30;
  options.t_max = 1000;
  auto fr = ComputeFrontier(law, options);
  ASSERT_TRUE(fr.ok());
  for (const auto& p : fr->points) {
    EXPECT_NEAR(p.t, 1000, 1e-9);
    EXPECT_TRUE(p.extrapolation);  // T = 1000 is beyond the evaluated 64.
  }
}

// A numeric check that does not rely on the closed form: no point on the budget curve within
// the limits has a lower predicted Y than the reported optimum (additive law).
TEST(Frontier, AdditiveOptimumIsTheMinimumAlongTheBudgetCurve) {
  FittedLaw law;
  law.model = Model::kAdditive;
  law.params = {1.5, 0.35, 0.8, 0.25, 0.15};
  for (double n : {0.5, 2.0, 8.0}) {
    for (double t : {1.0, 16.0, 576.0}) law.points.Add(n, t, Predict(law.model, law.params, n, t));
  }
  FrontierOptions options;
  options.text_tokens = 20;
  auto fr = ComputeFrontier(law, options);
  ASSERT_TRUE(fr.ok());
  for (const auto& p : fr->points) {
    ASSERT_TRUE(p.feasible);
    for (int i = 0; i <= 2000; ++i) {
      double t =
          std::exp(std::log(fr->t_min) + (std::log(fr->t_max) - std::log(fr->t_min)) * i / 2000);
      double n = p.budget / (2 * (20 + t));
      EXPECT_GE(Predict(law.model, law.params, n, t), p.predicted - 1e-12);
    }
    if (p.grid_found) {
      EXPECT_LE(p.grid_cost, p.budget * (1 + 1e-9));
      EXPECT_GE(p.grid_predicted, p.predicted - 1e-12);  // The grid cannot beat the continuum.
    }
  }
}

// The paper's OCR points: visual tokens matter more than LLM size (beta > alpha), so the optimum
// is the largest T evaluated.
TEST(Frontier, PaperOcrFitPrefersTheLargestT) {
  auto table = ReadCsvFile(testing::DataPath("vlm_2411.03312_ocr.csv"));
  ASSERT_TRUE(table.ok());
  auto obs = ObservationsFromCsv(*table, "N_llm_params_billion", "T_visual_tokens", "Y_error");
  ASSERT_TRUE(obs.ok());
  FitSummary s;
  ASSERT_TRUE(FitScalingLaw(FitOptions(), *obs, &s).ok());
  EXPECT_GT(s.params.beta, s.params.alpha);
  auto law = FittedLawFromJson(FitSummaryToJson(s, *obs));
  ASSERT_TRUE(law.ok());
  FrontierOptions options;
  options.text_tokens = 50;
  auto fr = ComputeFrontier(*law, options);
  ASSERT_TRUE(fr.ok());
  for (const auto& p : fr->points) EXPECT_DOUBLE_EQ(p.t, 576.0);
}

TEST(Frontier, NLimitsCanMakeABudgetInfeasible) {
  FittedLaw law = PaperLaw();
  FrontierOptions options;
  options.text_tokens = 50;
  options.n_min = 100;  // Far beyond what the budgets buy.
  auto fr = ComputeFrontier(law, options);
  ASSERT_TRUE(fr.ok());
  EXPECT_FALSE(fr->points.front().feasible);
}

}  // namespace
}  // namespace vlmscale::fit
