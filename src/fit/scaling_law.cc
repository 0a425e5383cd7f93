// FitScalingLaw: validation, the multi-start fit, parameters at a bound, standard errors and the
// hold-out extrapolation, put together from the solver (scaling_law_solver.cc). The bootstrap is in
// scaling_law_bootstrap.cc, names, parameters, validation and reports in scaling_law_model.cc;
// scaling_law_solver.h is what they share.
#include "fit/scaling_law.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <memory>
#include <random>
#include <sstream>
#include <thread>

#include "ceres/ceres.h"
#include "core/strings.h"
#include "fit/scaling_law_solver.h"

namespace vlmscale::fit {

using namespace internal;  // NOLINT: the solver (scaling_law_solver.h).

Status FitScalingLaw(const FitOptions& options, const Observations& obs, FitSummary* summary) {
  CHECK(summary != nullptr);
  *summary = FitSummary();
  summary->model = options.model;
  summary->loss = options.loss;
  summary->space = options.space;
  summary->huber_delta = options.huber_delta;
  std::string error;
  if (!options.IsValid(&error)) return Status::InvalidInput("fit options: " + error);
  if (options.model == Model::kCompute && std::isnan(options.text_tokens)) {
    return Status::InvalidInput(
        "the compute law needs Q, the text tokens per query (C = 2*N*(Q+T)): results files "
        "record it per group when the jobs record inference FLOPs; CSV fits need --text-tokens Q");
  }
  VLM_RETURN_IF_ERROR(ValidateObservations(options, obs));

  const auto t0 = std::chrono::steady_clock::now();
  FitContext ctx = MakeContext(options, obs);
  for (size_t k = 0; k < ctx.active.size(); ++k) {
    if (ctx.lower[k] > ctx.upper[k]) {
      return Status::InvalidInput(std::string("bounds of ") + ParamName(ctx.active[k]) +
                                  " are empty for these data (the default upper bound of E is "
                                  "min(Y)); adjust the bound");
    }
  }
  summary->bounds_used = ctx.natural_bounds;
  summary->n_points = obs.size();
  std::vector<std::vector<double>> starts = MakeStarts(ctx, options);
  const int threads = ResolveThreads(options.num_threads);
  summary->num_threads = std::min<int>(threads, static_cast<int>(starts.size()));
  std::vector<StartResult> results = MultiStart(ctx, options, starts, threads);
  summary->num_starts = static_cast<int>(starts.size());
  summary->solve_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  const int best = BestStart(results);
  for (const auto& r : results) summary->starts_failed += r.usable ? 0 : 1;
  if (best < 0) {
    summary->termination = FitSummary::Termination::kFailure;
    summary->message = "all " + std::to_string(starts.size()) + " starts failed in Ceres";
    return Status::OK();
  }
  const StartResult& b = results[best];
  summary->best_start = best;
  summary->termination =
      b.converged ? FitSummary::Termination::kConvergence : FitSummary::Termination::kNoConvergence;
  summary->message = b.converged ? "converged" : "best start hit the iteration limit";
  summary->params = ToLawParams(ctx, b.x);
  summary->objective = b.objective;

  // Fit quality in linear space.
  double mean_y = 0.0;
  for (double y : obs.y) mean_y += y;
  mean_y /= obs.size();
  double sst = 0.0;
  for (size_t i = 0; i < obs.size(); ++i) {
    const double r = Predict(options.model, summary->params, obs.n[i], obs.t[i]) - obs.y[i];
    summary->sse += r * r;
    sst += (obs.y[i] - mean_y) * (obs.y[i] - mean_y);
  }
  summary->r2 = 1.0 - summary->sse / sst;
  summary->rmse = std::sqrt(summary->sse / obs.size());

  // Parameters pinned at a bound.
  const double min_y = *std::min_element(obs.y.begin(), obs.y.end());
  std::vector<bool> pinned(ctx.active.size(), false);
  for (size_t k = 0; k < ctx.active.size(); ++k) {
    pinned[k] = AtBound(ctx, b.x, k, min_y, mean_y);
    if (pinned[k]) summary->at_bound.push_back(ParamName(ctx.active[k]));
  }

  // Multi-start agreement.
  const double tol = kSameObjectiveRtol * std::abs(b.objective) + 1e-300;
  double worst_disagreement = 0.0;
  std::string worst_param;
  for (const auto& r : results) {
    if (!r.usable || r.objective > b.objective + tol) continue;
    ++summary->starts_at_best;
    LawParams p = ToLawParams(ctx, r.x);
    for (size_t k = 0; k < ctx.active.size(); ++k) {
      const int id = ctx.active[k];
      const double ref = GetParam(summary->params, id);
      double scale = std::abs(ref);
      if (id == kParamAlpha || id == kParamBeta || id == kParamGamma || id == kParamBeta2) {
        scale = std::max(scale, 0.01);
      }
      if (id == kParamE) scale = std::max(scale, 0.01 * min_y);
      if (scale == 0.0) continue;
      const double d = std::abs(GetParam(p, id) - ref) / scale;
      if (d > worst_disagreement) {
        worst_disagreement = d;
        worst_param = ParamName(id);
      }
    }
  }
  if (worst_disagreement > 0.05) {
    summary->warnings.push_back(
        "non-identifiable: starts that reach the best objective (within " +
        FormatNumber(kSameObjectiveRtol) + " relative) disagree on " + worst_param + " by " +
        FormatNumber(100.0 * worst_disagreement, 3) +
        "%; the objective is flat along some direction, so the parameters are not determined by "
        "these points");
  }
  if (summary->starts_at_best == 1 && summary->num_starts > 1) {
    summary->warnings.push_back("only 1 of " + std::to_string(summary->num_starts) +
                                " starts reached the best objective; other starts ended in "
                                "different local minima, so a denser start grid may find a "
                                "better fit");
  }
  const size_t p = ctx.active.size();
  if (obs.size() < 3 * p) {
    summary->warnings.push_back("few points: " + std::to_string(obs.size()) + " points for " +
                                std::to_string(p) +
                                " parameters; expect wide uncertainty and treat the fit with care");
  }
  auto distinct = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return static_cast<size_t>(std::unique(v.begin(), v.end()) - v.begin());
  };
  if (distinct(obs.n) < 2) {
    summary->warnings.push_back(
        "non-identifiable: all points share one N, so alpha is not "
        "determined by the data");
  }
  if (distinct(obs.t) < 2) {
    summary->warnings.push_back(
        "non-identifiable: all points share one T, so beta is not "
        "determined by the data");
  }
  if (summary->termination == FitSummary::Termination::kNoConvergence) {
    summary->warnings.push_back("the best start did not converge within " +
                                std::to_string(options.max_iterations) + " iterations");
  }

  if (options.compute_stderr) {
    ComputeStderr(ctx, options, b.x, pinned, summary);
    if (!summary->has_stderr && summary->stderr_reason.find("singular") != std::string::npos) {
      summary->warnings.push_back("non-identifiable: " + summary->stderr_reason);
    }
  } else {
    summary->stderr_reason = "not requested";
  }

  if (options.bootstrap > 0) {
    const auto tb = std::chrono::steady_clock::now();
    RunBootstrap(options, obs, summary);
    summary->bootstrap_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - tb).count();
  }

  if (options.holdout_largest > 0) {
    std::vector<double> ns = obs.n;
    std::sort(ns.begin(), ns.end());
    ns.erase(std::unique(ns.begin(), ns.end()), ns.end());
    if (static_cast<size_t>(options.holdout_largest) >= ns.size()) {
      return Status::InvalidInput("--holdout-largest " + std::to_string(options.holdout_largest) +
                                  " leaves no N to fit: the data have only " +
                                  std::to_string(ns.size()) + " distinct N values");
    }
    const double cutoff = ns[ns.size() - options.holdout_largest];
    Observations train;
    std::vector<size_t> held;
    for (size_t i = 0; i < obs.size(); ++i) {
      if (obs.n[i] >= cutoff) {
        held.push_back(i);
      } else {
        train.Add(obs.n[i], obs.t[i], obs.y[i], obs.Where(i));
        if (!obs.weights.empty()) train.weights.push_back(obs.weights[i]);
      }
    }
    FitOptions sub = options;
    // With a bootstrap, the fit without the largest N is bootstrapped too: its resamples give
    // the bands of the extrapolated points.
    sub.holdout_largest = 0;
    sub.compute_stderr = false;
    FitSummary sub_summary;
    Status s = FitScalingLaw(sub, train, &sub_summary);
    if (!s.ok()) {
      summary->warnings.push_back("holdout: the fit without the " +
                                  std::to_string(options.holdout_largest) +
                                  " largest N failed: " + s.message());
    } else if (!sub_summary.IsSolutionUsable()) {
      summary->warnings.push_back("holdout: the fit without the largest N failed: " +
                                  sub_summary.message);
    } else {
      for (size_t i : held) {
        HoldoutPoint h;
        h.n = obs.n[i];
        h.t = obs.t[i];
        h.observed = obs.y[i];
        h.predicted = Predict(options.model, sub_summary.params, h.n, h.t);
        h.relative_error = (h.predicted - h.observed) / h.observed;
        h.band = BandAt(sub_summary, h.n, h.t, options.seed * 0x100000001B3ULL + i);
        summary->extrapolation.push_back(h);
      }
    }
  }
  return Status::OK();
}

}  // namespace vlmscale::fit
