#include "fit/frontier.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

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

// A law with T* = beta Q / (alpha - beta) = 0.2 * 50 / 0.1 = 100 at every budget, sampled on the
// given grid.
FittedLaw GridLaw(const std::vector<double>& ns, const std::vector<double>& ts) {
  FittedLaw law;
  law.params = {2.0, 0.3, 0.0, 0.2, 0.1};
  for (double n : ns) {
    for (double t : ts) law.points.Add(n, t, Predict(Model::kMultiplicative, law.params, n, t));
  }
  return law;
}

FrontierOptions AtBudgets(std::vector<double> budgets) {
  FrontierOptions o;
  o.text_tokens = 50;
  o.t_max = 4096;  // Let the optimum leave the sampled T range.
  o.budgets = std::move(budgets);
  return o;
}

TEST(FrontierGridCheck, FiresWhenTheOptimalTIsBeyondTheSampledTsAndNamesTheValuesToAdd) {
  // T* = 100 lies beyond T in {1, 4, 16, 64}; at C = 2 * 8 * 150, N* = 8 is bracketed by
  // {1, 4, 16, 64}.
  auto fr = ComputeFrontier(GridLaw({1, 4, 16, 64}, {1, 4, 16, 64}), AtBudgets({2400}));
  ASSERT_TRUE(fr.ok()) << fr.status().ToString();
  ASSERT_NEAR(fr->points[0].t, 100, 1e-3);
  ASSERT_EQ(fr->grid_warnings.size(), 1u);
  const GridWarning& w = fr->grid_warnings[0];
  EXPECT_EQ(w.axis, "T");
  EXPECT_EQ(w.side, "above");
  EXPECT_TRUE(w.beyond);
  EXPECT_EQ(w.grid_edge, 64);
  // The grid continued by its ratio 4 until 100 is half a step inside: 256 > 100 * 2.
  EXPECT_EQ(w.add, std::vector<double>({256}));
  EXPECT_NE(w.message.find("add T = 256"), std::string::npos) << w.message;
  EXPECT_NE(FrontierReport(GridLaw({1}, {1, 2}), *fr).find("add T = 256"), std::string::npos);
  EXPECT_EQ(FrontierToJson(GridLaw({1}, {1, 2}), *fr)["grid_warnings"][0]["add"][0], 256);
}

TEST(FrontierGridCheck, IsSilentWhenTheGridBracketsTheOptimum) {
  // T* = 100 between 64 and 256 (below their geometric mean 128); N* = 8 between 4 and 16.
  auto fr = ComputeFrontier(GridLaw({1, 4, 16, 64}, {16, 64, 256, 1024}), AtBudgets({2400}));
  ASSERT_TRUE(fr.ok()) << fr.status().ToString();
  EXPECT_TRUE(fr->grid_warnings.empty()) << fr->grid_warnings[0].message;
  EXPECT_EQ(FrontierReport(GridLaw({1}, {1, 2}), *fr).find("warnings"), std::string::npos);
}

TEST(FrontierGridCheck, FiresAtTheEdgeOfTheNGridAndBeyondIt) {
  // N* = 40 is inside [1, 64] but closer to 64 than to 16 (above sqrt(16 * 64) = 32): at the edge.
  // N* = 500 at the larger budget is beyond it; 64 * 4^2 = 1024 > 500 * 2 brackets both.
  auto fr = ComputeFrontier(GridLaw({1, 4, 16, 64}, {16, 64, 256, 1024}),
                            AtBudgets({2 * 40 * 150.0, 2 * 500 * 150.0}));
  ASSERT_TRUE(fr.ok()) << fr.status().ToString();
  ASSERT_EQ(fr->grid_warnings.size(), 1u);
  const GridWarning& w = fr->grid_warnings[0];
  EXPECT_EQ(w.axis, "N");
  EXPECT_TRUE(w.beyond);
  EXPECT_EQ(w.budgets.size(), 2u);
  EXPECT_NEAR(w.worst_optimum, 500, 1e-3);
  EXPECT_EQ(w.add, std::vector<double>({256, 1024}));
  // Only the edge budget: "at", not "beyond".
  fr = ComputeFrontier(GridLaw({1, 4, 16, 64}, {16, 64, 256, 1024}), AtBudgets({2 * 40 * 150.0}));
  ASSERT_EQ(fr->grid_warnings.size(), 1u);
  EXPECT_FALSE(fr->grid_warnings[0].beyond);
  EXPECT_NE(fr->grid_warnings[0].message.find("is at the largest sampled N"), std::string::npos)
      << fr->grid_warnings[0].message;
  // Below the grid: N* = 0.5 < 1; values continue downwards by the ratio 4.
  fr = ComputeFrontier(GridLaw({1, 4, 16, 64}, {16, 64, 256, 1024}), AtBudgets({2 * 0.5 * 150.0}));
  ASSERT_EQ(fr->grid_warnings.size(), 1u);
  EXPECT_EQ(fr->grid_warnings[0].side, "below");
  EXPECT_EQ(fr->grid_warnings[0].add, std::vector<double>({0.25, 0.0625}));
}

TEST(FrontierGridCheck, AnOptimumAtTheSmallestPossibleTNeedsNoValueBelowIt) {
  FrontierOptions o = AtBudgets({2400});
  o.text_tokens = 0;  // alpha > beta with Q = 0: the smallest T.
  auto fr = ComputeFrontier(GridLaw({1, 4, 16, 64}, {1, 4, 16, 64}), o);
  ASSERT_TRUE(fr.ok());
  ASSERT_EQ(fr->grid_warnings.size(), 2u);  // T at 1; N* = 1200 beyond 64.
  const GridWarning& t = fr->grid_warnings[1];
  EXPECT_EQ(t.axis, "T");
  EXPECT_TRUE(t.add.empty());
  EXPECT_NE(t.message.find("no smaller T exists"), std::string::npos) << t.message;
}

// A bootstrapped fit stores its resamples' parameters in the JSON; the frontier read back from it
// has a 95% band of N*, T* and Y at every budget, from each resample's own optimum.
TEST(FrontierBands, ComeFromTheResamplesOfABootstrappedFit) {
  Observations obs = testing::PaperReasoningData();
  FitOptions fo;
  fo.bootstrap = 200;
  FitSummary s;
  ASSERT_TRUE(FitScalingLaw(fo, obs, &s).ok());
  ASSERT_TRUE(s.has_ci);
  const nlohmann::json j = FitSummaryToJson(s, obs);
  ASSERT_EQ(j["bootstrap_params"]["names"], nlohmann::json({"A", "alpha", "beta", "E"}));
  ASSERT_EQ(j["bootstrap_params"]["values"].size(), static_cast<size_t>(s.bootstrap_resamples));
  auto law = FittedLawFromJson(j);
  ASSERT_TRUE(law.ok()) << law.status().ToString();
  ASSERT_EQ(law->bootstrap_params.size(), s.bootstrap_params.size());
  EXPECT_EQ(law->bootstrap_params[7].alpha, s.bootstrap_params[7].alpha);  // Exact round trip.

  FrontierOptions options;
  options.text_tokens = 50;
  auto fr = ComputeFrontier(*law, options);
  ASSERT_TRUE(fr.ok()) << fr.status().ToString();
  EXPECT_EQ(fr->band_resamples, s.bootstrap_resamples);
  // T* = beta Q / (alpha - beta) per resample: its band is the percentiles of that.
  std::vector<double> closed;
  for (const auto& p : s.bootstrap_params) closed.push_back(p.beta * 50 / (p.alpha - p.beta));
  std::sort(closed.begin(), closed.end());
  ASSERT_TRUE(fr->closed_form_t_band.has_value());
  EXPECT_LT(fr->closed_form_t_band->lower, *fr->closed_form_t);
  EXPECT_GT(fr->closed_form_t_band->upper, *fr->closed_form_t);
  EXPECT_GE(fr->closed_form_t_band->lower, closed[3]);
  EXPECT_LE(fr->closed_form_t_band->upper, closed[closed.size() - 4]);
  for (const auto& p : fr->points) {
    ASSERT_TRUE(p.band.present) << "budget " << p.budget;
    // The numeric optimum of each resample is its closed form: the T* band matches it.
    EXPECT_NEAR(p.band.t.lower, fr->closed_form_t_band->lower, 1e-4 * p.band.t.lower);
    EXPECT_NEAR(p.band.t.upper, fr->closed_form_t_band->upper, 1e-4 * p.band.t.upper);
    EXPECT_LT(p.band.predicted.lower, p.predicted);
    EXPECT_GT(p.band.predicted.upper, p.predicted);
    EXPECT_LT(p.band.n.lower, p.n);
    EXPECT_GT(p.band.n.upper, p.n);
  }
  const std::string report = FrontierReport(*law, *fr);
  EXPECT_NE(
      report.find("bootstrap 95% bands (" + std::to_string(s.bootstrap_resamples) + " resamples"),
      std::string::npos)
      << report;
  const nlohmann::json fj = FrontierToJson(*law, *fr);
  EXPECT_EQ(fj["bands"]["resamples"], s.bootstrap_resamples);
  EXPECT_EQ(fj["frontier"][0]["continuous"]["ci95"]["t"][0], fr->points[0].band.t.lower);
}

TEST(FrontierBands, AreAbsentWithoutABootstrapAndTheReportSaysSo) {
  FittedLaw law = PaperLaw();
  EXPECT_TRUE(law.bootstrap_params.empty());
  FrontierOptions options;
  options.text_tokens = 50;
  auto fr = ComputeFrontier(law, options);
  ASSERT_TRUE(fr.ok());
  EXPECT_EQ(fr->band_resamples, 0);
  EXPECT_FALSE(fr->closed_form_t_band.has_value());
  for (const auto& p : fr->points) EXPECT_FALSE(p.band.present);
  EXPECT_NE(FrontierReport(law, *fr).find("bands: none"), std::string::npos);
  const nlohmann::json fj = FrontierToJson(law, *fr);
  EXPECT_TRUE(fj["bands"].is_null());
  EXPECT_FALSE(fj["frontier"][0]["continuous"].contains("ci95"));
}

TEST(FrontierBands, MalformedBootstrapParamsNameTheKey) {
  Observations obs = testing::PaperReasoningData();
  FitOptions fo;
  fo.bootstrap = 20;
  FitSummary s;
  ASSERT_TRUE(FitScalingLaw(fo, obs, &s).ok());
  nlohmann::json j = FitSummaryToJson(s, obs);
  nlohmann::json wrong_names = j;
  wrong_names["bootstrap_params"]["names"] = {"A", "alpha", "B", "beta", "E"};
  auto law = FittedLawFromJson(wrong_names);
  ASSERT_FALSE(law.ok());
  EXPECT_NE(law.status().ToString().find("bootstrap_params.names"), std::string::npos)
      << law.status().ToString();
  nlohmann::json short_row = j;
  short_row["bootstrap_params"]["values"][3] = {1.0, 0.1};
  law = FittedLawFromJson(short_row);
  ASSERT_FALSE(law.ok());
  EXPECT_NE(law.status().ToString().find("bootstrap_params.values[3]: expected 4 numbers"),
            std::string::npos)
      << law.status().ToString();
  nlohmann::json null_value = j;
  null_value["bootstrap_params"]["values"][2][1] = nullptr;
  law = FittedLawFromJson(null_value);
  ASSERT_FALSE(law.ok());
  EXPECT_NE(law.status().ToString().find("values[2][1] (alpha)"), std::string::npos)
      << law.status().ToString();
}

}  // namespace
}  // namespace vlmscale::fit
