// The compute and broken laws, and --model auto's choice between the forms (docs/FIT.md,
// "Models" and "Choosing the law").
#include <cmath>
#include <string>

#include "fit/frontier.h"
#include "fit/model_selection.h"
#include "fit/report_json.h"
#include "fit/scaling_law.h"
#include "gtest/gtest.h"
#include "tests/fit/test_util.h"

namespace vlmscale::fit {
namespace {

using testing::ComputeTruth;
using testing::LateBreakTruth;
using testing::Synthetic;

// Tokens stop helping above T = 40.
LawParams EarlyBreakTruth() {
  LawParams p;
  p.A = 2.0;
  p.alpha = 0.3;
  p.beta = 0.35;
  p.beta2 = 0.0;
  p.t_break = 40;
  p.E = 0.15;
  return p;
}

double LogSlopeInT(Model m, const LawParams& p, double t) {
  // d log(Y - E) / d log T by central differences.
  const double h = 1e-4;
  auto f = [&](double tt) { return std::log(Predict(m, p, 2.0, tt) - p.E); };
  return (f(t * std::exp(h)) - f(t * std::exp(-h))) / (2 * h);
}

TEST(BrokenLaw, SlopeIsBetaFarBelowTheBreakAndBeta2FarAboveIt) {
  const LawParams p = LateBreakTruth();
  EXPECT_NEAR(LogSlopeInT(Model::kBroken, p, 1e-3), -p.beta, 1e-3);
  EXPECT_NEAR(LogSlopeInT(Model::kBroken, p, 1e6), -p.beta2, 1e-3);
  // At the break the slope is halfway (softplus'(0) = 1/2).
  EXPECT_NEAR(LogSlopeInT(Model::kBroken, p, p.t_break), -0.5 * (p.beta + p.beta2), 1e-6);
  // Far below the break the law is the multiplicative one with the same A.
  LawParams m = p;
  EXPECT_NEAR(Predict(Model::kBroken, p, 2.0, 1e-4), Predict(Model::kMultiplicative, m, 2.0, 1e-4),
              1e-9);
}

TEST(ComputeLaw, DependsOnTheFlopsOnly) {
  const LawParams p = ComputeTruth();
  // Same C = 2 N (Q + T): N = 1, T = 64 and N = 0.5, T = 192.
  EXPECT_NEAR(Predict(Model::kCompute, p, 1.0, 64.0), Predict(Model::kCompute, p, 0.5, 192.0),
              1e-12);
  EXPECT_NEAR(Predict(Model::kCompute, p, 1.0, 64.0), p.A * std::pow(256.0, -p.gamma) + p.E, 1e-12);
}

TEST(ComputeLaw, WithoutQTheFitSaysWhereToGiveIt) {
  FitOptions o;
  o.model = Model::kCompute;
  FitSummary s;
  Status st = FitScalingLaw(o, Synthetic(Model::kCompute, ComputeTruth(), 0.0, false, 1), &s);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("--text-tokens"), std::string::npos) << st.message();
}

// --model auto on data drawn from each form picks that form, over several noise draws.
struct AutoCase {
  Model model;
  LawParams truth;
  const char* name;
};

class AutoPicks : public ::testing::TestWithParam<AutoCase> {};

TEST_P(AutoPicks, TheGeneratingForm) {
  const AutoCase c = GetParam();
  int right = 0;
  const int kDraws = 5;
  for (int d = 0; d < kDraws; ++d) {
    Observations obs = Synthetic(c.model, c.truth, 0.004, false, 100 + d);
    FitOptions o;
    o.text_tokens = 64;
    ModelSelection sel;
    ASSERT_TRUE(SelectModel(o, obs, &sel).ok());
    ASSERT_GE(sel.winner, 0) << sel.Report();
    ASSERT_EQ(sel.forms.size(), 4u);
    if (sel.forms[sel.winner].model == c.model) {
      ++right;
    } else {
      std::printf("draw %d of %s picked %s:\n%s", d, c.name, ModelName(sel.forms[sel.winner].model),
                  sel.Report().c_str());
    }
    // Every form was fit and the ranks are a permutation of 1..4.
    int rank_sum = 0;
    for (const auto& f : sel.forms) {
      EXPECT_TRUE(f.skipped.empty()) << ModelName(f.model) << ": " << f.skipped;
      rank_sum += f.aic_rank;
    }
    EXPECT_EQ(rank_sum, 1 + 2 + 3 + 4);
    EXPECT_DOUBLE_EQ(sel.forms[sel.winner].delta_aic, 0.0);
    EXPECT_NE(sel.verdict.find(std::string("winner: ") + ModelName(sel.forms[sel.winner].model)),
              std::string::npos)
        << sel.verdict;
  }
  // The broken law nests the multiplicative one (beta2 = beta), so AIC can prefer it by chance
  // (its 2 extra parameters cost 4, a chi-square(2) exceeds that 13.5% of the time); allow one
  // miss.
  EXPECT_GE(right, kDraws - 1) << c.name;
}

INSTANTIATE_TEST_SUITE_P(
    EveryForm, AutoPicks,
    ::testing::Values(AutoCase{Model::kMultiplicative, {2.0, 0.3, 0.0, 0.2, 0.2}, "multiplicative"},
                      AutoCase{Model::kAdditive, {1.5, 0.35, 0.8, 0.25, 0.15}, "additive"},
                      AutoCase{Model::kCompute, ComputeTruth(), "compute"},
                      AutoCase{Model::kBroken, LateBreakTruth(), "broken (late)"},
                      AutoCase{Model::kBroken, EarlyBreakTruth(), "broken (early)"}));

TEST(SelectModel, SkipsTheComputeLawWithoutQAndStillRanksTheOthers) {
  Observations obs = Synthetic(Model::kMultiplicative, {2.0, 0.3, 0.0, 0.2, 0.2}, 0.004, false, 7);
  ModelSelection sel;
  ASSERT_TRUE(SelectModel(FitOptions(), obs, &sel).ok());
  int ranked = 0;
  for (const auto& f : sel.forms) {
    if (f.model == Model::kCompute) {
      EXPECT_NE(f.skipped.find("no Q"), std::string::npos) << f.skipped;
      EXPECT_EQ(f.aic_rank, 0);
    } else {
      EXPECT_TRUE(f.skipped.empty());
      ranked += f.aic_rank > 0;
    }
  }
  EXPECT_EQ(ranked, 3);
  const nlohmann::json j = sel.ToJson();
  EXPECT_EQ(j["forms"].size(), 4u);
  EXPECT_EQ(j["winner"], ModelName(sel.forms[sel.winner].model));
  EXPECT_NE(sel.Report().find("skipped: no Q"), std::string::npos) << sel.Report();
}

// On the seed paper's OCR points the report names a winner and its margin.
TEST(SelectModel, PaperOcrPointsNameAWinner) {
  auto table = ReadCsvFile(testing::DataPath("vlm_2411.03312_ocr.csv"));
  ASSERT_TRUE(table.ok());
  auto obs = ObservationsFromCsv(*table, "N_llm_params_billion", "T_visual_tokens", "Y_error");
  ASSERT_TRUE(obs.ok()) << obs.status().ToString();
  FitOptions o;
  o.text_tokens = 50;
  ModelSelection sel;
  ASSERT_TRUE(SelectModel(o, *obs, &sel).ok());
  ASSERT_GE(sel.winner, 0);
  ASSERT_GE(sel.runner_up, 0);
  std::printf("%s", sel.Report().c_str());
  EXPECT_NE(sel.verdict.find("below the runner-up"), std::string::npos) << sel.verdict;
  EXPECT_GT(sel.forms[sel.runner_up].delta_aic, 0.0);
}

TEST(Frontier, ComputeLawIsFlatAlongEachBudgetAndSaysSo) {
  FittedLaw law;
  law.model = Model::kCompute;
  law.params = ComputeTruth();
  for (double n : {0.5, 2.0, 8.0}) {
    for (double t : {4.0, 64.0, 576.0}) law.points.Add(n, t, Predict(law.model, law.params, n, t));
  }
  FrontierOptions fo;
  fo.text_tokens = law.params.q;
  auto fr = ComputeFrontier(law, fo);
  ASSERT_TRUE(fr.ok()) << fr.status().ToString();
  ASSERT_FALSE(fr->points.empty());
  for (const auto& p : fr->points) {
    ASSERT_TRUE(p.feasible);
    EXPECT_DOUBLE_EQ(p.t, fr->t_min);
    EXPECT_NEAR(p.predicted, law.params.A * std::pow(p.budget, -law.params.gamma) + law.params.E,
                1e-9);
  }
  EXPECT_NE(FrontierReport(law, *fr).find("depends on C"), std::string::npos);
}

TEST(Frontier, BrokenLawOptimumIsTheMinimumAlongTheBudgetCurve) {
  FittedLaw law;
  law.model = Model::kBroken;
  law.params = LateBreakTruth();
  for (double n : {0.5, 2.0, 8.0}) {
    for (double t : {1.0, 16.0, 64.0, 576.0})
      law.points.Add(n, t, Predict(law.model, law.params, n, t));
  }
  FrontierOptions fo;
  fo.text_tokens = 50;
  auto fr = ComputeFrontier(law, fo);
  ASSERT_TRUE(fr.ok());
  for (const auto& p : fr->points) {
    ASSERT_TRUE(p.feasible);
    for (int i = 0; i <= 400; ++i) {
      const double t =
          std::exp(std::log(fr->t_min) + (std::log(fr->t_max) - std::log(fr->t_min)) * i / 400);
      const double n = p.budget / (2 * (fo.text_tokens + t));
      EXPECT_GE(Predict(law.model, law.params, n, t), p.predicted - 1e-12);
    }
  }
}

// A compute or broken fit goes through the fit JSON to the frontier with its parameters and Q.
TEST(ReportJson, NewFormsRoundTripWithTheirParameterNames) {
  for (Model m : {Model::kCompute, Model::kBroken}) {
    const LawParams truth = m == Model::kCompute ? ComputeTruth() : LateBreakTruth();
    Observations obs = Synthetic(m, truth, 0.0, false, 1);
    FitOptions o;
    o.model = m;
    o.text_tokens = 64;
    FitSummary s;
    ASSERT_TRUE(FitScalingLaw(o, obs, &s).ok());
    const nlohmann::json j = FitSummaryToJson(s, obs);
    EXPECT_EQ(j["model"], ModelName(m));
    if (m == Model::kCompute) {
      EXPECT_TRUE(j["params"].contains("gamma"));
      EXPECT_FALSE(j["params"].contains("alpha"));
      EXPECT_EQ(j["text_tokens"], 64);
    } else {
      for (const char* k : {"A", "alpha", "beta", "beta2", "t_break", "E"}) {
        EXPECT_TRUE(j["params"].contains(k)) << k;
      }
    }
    auto law = FittedLawFromJson(j);
    ASSERT_TRUE(law.ok()) << law.status().ToString();
    for (double t : {1.0, 30.0, 500.0}) {
      EXPECT_NEAR(Predict(m, law->params, 3.0, t), Predict(m, truth, 3.0, t), 1e-6);
    }
  }
}

// With a bootstrap the fit JSON carries the curve's bands per N over a grid of T, and the
// extrapolated points' bands; both are deterministic for a seed and bracket the fitted curve.
TEST(Bands, CurveAndExtrapolationBandsAreInTheJsonAndBracketTheFit) {
  for (Model m : {Model::kMultiplicative, Model::kBroken}) {
    const LawParams truth =
        m == Model::kBroken ? LateBreakTruth() : LawParams{2.0, 0.3, 0.0, 0.2, 0.2};
    Observations obs = Synthetic(m, truth, 0.01, false, 3);
    FitOptions o;
    o.model = m;
    o.bootstrap = 100;
    o.holdout_largest = 1;
    FitSummary s, again;
    ASSERT_TRUE(FitScalingLaw(o, obs, &s).ok());
    ASSERT_TRUE(FitScalingLaw(o, obs, &again).ok());
    ASSERT_EQ(s.curve_band.size(), 6u * FitSummary::kBandGridSize);
    size_t wider = 0;
    for (size_t i = 0; i < s.curve_band.size(); ++i) {
      const BandPoint& bp = s.curve_band[i];
      ASSERT_TRUE(bp.band.present);
      EXPECT_LT(bp.band.ci_lower, bp.band.ci_upper);
      // Percentiles of a finite sample: the band of a new point (curve + noise) is wider than
      // the curve's almost everywhere, not necessarily on both sides at every T.
      wider += bp.band.pi_upper - bp.band.pi_lower > bp.band.ci_upper - bp.band.ci_lower;
      EXPECT_NEAR(bp.predicted, Predict(m, s.params, bp.n, bp.t), 1e-12);
      EXPECT_EQ(bp.band.pi_upper, again.curve_band[i].band.pi_upper);
    }
    EXPECT_GE(wider, s.curve_band.size() * 95 / 100) << ModelName(m);
    const nlohmann::json j = FitSummaryToJson(s, obs);
    ASSERT_TRUE(j["bands"].is_object());
    EXPECT_EQ(j["bands"]["curve"].size(), s.curve_band.size());
    ASSERT_EQ(j["extrapolation"].size(), 6u);
    for (const auto& e : j["extrapolation"]) {
      EXPECT_LE(e["ci95"][0].get<double>(), e["ci95"][1].get<double>());
      EXPECT_LE(e["pi95"][0].get<double>(), e["pi95"][1].get<double>());
    }
  }
  // Without a bootstrap there are none.
  FitSummary s;
  Observations obs = Synthetic(Model::kMultiplicative, {2.0, 0.3, 0.0, 0.2, 0.2}, 0.01, false, 3);
  ASSERT_TRUE(FitScalingLaw(FitOptions(), obs, &s).ok());
  EXPECT_TRUE(s.curve_band.empty());
  EXPECT_TRUE(FitSummaryToJson(s, obs)["bands"].is_null());
}

}  // namespace
}  // namespace vlmscale::fit
