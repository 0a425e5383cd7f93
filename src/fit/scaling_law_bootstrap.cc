// The percentile bootstrap of FitScalingLaw's parameters: resamples the points with
// replacement and refits each resample with the solver of scaling_law.cc.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "fit/scaling_law.h"
#include "fit/scaling_law_solver.h"

namespace vlmscale::fit::internal {

uint64_t SplitMix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

// The q-quantile of v with linear interpolation; an infinite neighbour (a ratio over alpha = 0)
// is returned as is instead of interpolated into NaN.
double Percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const double pos = q * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, v.size() - 1);
  if (std::isinf(v[lo]) || std::isinf(v[hi])) return pos - lo < 0.5 ? v[lo] : v[hi];
  return v[lo] + (pos - lo) * (v[hi] - v[lo]);
}

}  // namespace vlmscale::fit::internal

namespace vlmscale::fit {

Band BandAt(const FitSummary& s, double n, double t, uint64_t seed) {
  Band b;
  if (s.bootstrap_params.empty() || s.band_residuals.empty()) return b;
  std::vector<double> curve, point;
  curve.reserve(s.bootstrap_params.size());
  point.reserve(s.bootstrap_params.size());
  std::mt19937_64 rng(internal::SplitMix64(seed));
  std::uniform_int_distribution<size_t> pick(0, s.band_residuals.size() - 1);
  for (const LawParams& p : s.bootstrap_params) {
    const double y = Predict(s.model, p, n, t);
    curve.push_back(y);
    point.push_back(y + s.band_residuals[pick(rng)]);
  }
  b.present = true;
  b.ci_lower = internal::Percentile(curve, 0.025);
  b.ci_upper = internal::Percentile(curve, 0.975);
  b.pi_lower = internal::Percentile(point, 0.025);
  b.pi_upper = internal::Percentile(point, 0.975);
  return b;
}

}  // namespace vlmscale::fit

namespace vlmscale::fit::internal {

void RunBootstrap(const FitOptions& options, const Observations& obs, FitSummary* summary) {
  const int k_total = options.bootstrap;
  const size_t n = obs.size();
  std::vector<std::vector<double>> draws(k_total);  // Natural params per resample (ids).
  std::vector<char> ok(k_total, 0);
  std::atomic<int> next{0};
  const LawParams best = summary->params;
  auto worker = [&]() {
    for (int k = next++; k < k_total; k = next++) {
      std::mt19937_64 rng(SplitMix64(options.seed * 0x100000001B3ULL + static_cast<uint64_t>(k)));
      std::uniform_int_distribution<size_t> pick(0, n - 1);
      Observations sample;
      for (size_t i = 0; i < n; ++i) {
        size_t j = pick(rng);
        sample.Add(obs.n[j], obs.t[j], obs.y[j]);
        if (!obs.weights.empty()) sample.weights.push_back(obs.weights[j]);
      }
      if (!ValidateObservations(options, sample).ok()) continue;
      FitContext ctx = MakeContext(options, sample);
      std::vector<std::vector<double>> starts;
      if (options.bootstrap_full_grid) {
        starts = MakeStarts(ctx, options);
      } else {
        std::vector<double> x;
        for (int id : ctx.active) x.push_back(ToSolver(ctx, id, GetParam(best, id)));
        // log(0) for a parameter at 0 in log space: start just inside instead.
        for (size_t q = 0; q < x.size(); ++q) {
          if (!std::isfinite(x[q])) x[q] = std::log(1e-8 * (sample.y[0] > 0 ? sample.y[0] : 1.0));
        }
        starts.push_back(std::move(x));
      }
      std::vector<StartResult> results = MultiStart(ctx, options, starts, 1);
      int b = BestStart(results);
      if (b < 0) continue;
      LawParams p = ToLawParams(ctx, results[b].x);
      draws[k].resize(kNumParamIds);
      for (int id = 0; id < kNumParamIds; ++id) draws[k][id] = GetParam(p, id);
      ok[k] = 1;
    }
  };
  const int threads = std::max(1, std::min(ResolveThreads(options.num_threads), k_total));
  std::vector<std::thread> pool;
  for (int i = 0; i < threads; ++i) pool.emplace_back(worker);
  for (auto& th : pool) th.join();

  int good = 0;
  for (char c : ok) good += c;
  summary->bootstrap_resamples = good;
  summary->bootstrap_failures = k_total - good;
  if (good < 20) {
    summary->warnings.push_back("bootstrap: only " + std::to_string(good) + " of " +
                                std::to_string(k_total) +
                                " resamples could be fit; no confidence intervals");
    return;
  }
  if (summary->bootstrap_failures > 0) {
    summary->warnings.push_back("bootstrap: " + std::to_string(summary->bootstrap_failures) +
                                " of " + std::to_string(k_total) +
                                " resamples could not be fit (degenerate resample or solver "
                                "failure) and were left out of the intervals");
  }
  for (int id : ActiveParams(options.model)) {
    std::vector<double> vals;
    for (int k = 0; k < k_total; ++k) {
      if (ok[k]) vals.push_back(draws[k][id]);
    }
    SetParam(&summary->ci_lower, id, Percentile(vals, 0.025));
    SetParam(&summary->ci_upper, id, Percentile(vals, 0.975));
  }
  std::vector<double> ratios;  // Resamples where beta = alpha = 0 have no ratio.
  for (int k = 0; k < k_total; ++k) {
    if (!ok[k]) continue;
    LawParams p;
    p.alpha = draws[k][kParamAlpha];
    p.beta = draws[k][kParamBeta];
    const double r = BetaOverAlpha(p);
    if (!std::isnan(r)) ratios.push_back(r);
  }
  if (!ratios.empty()) {
    summary->beta_over_alpha_ci_lower = Percentile(ratios, 0.025);
    summary->beta_over_alpha_ci_upper = Percentile(ratios, 0.975);
  } else {
    summary->beta_over_alpha_ci_lower = summary->beta_over_alpha_ci_upper =
        std::numeric_limits<double>::quiet_NaN();
  }
  summary->has_ci = true;

  // What the bands need: every resample's parameters and the fit's rescaled residuals.
  for (int k = 0; k < k_total; ++k) {
    if (!ok[k]) continue;
    LawParams p;
    for (int id = 0; id < kNumParamIds; ++id) SetParam(&p, id, draws[k][id]);
    p.q = best.q;
    summary->bootstrap_params.push_back(p);
  }
  const double dof =
      static_cast<double>(n) - static_cast<double>(ActiveParams(options.model).size());
  const double scale = dof > 0 ? std::sqrt(static_cast<double>(n) / dof) : 1.0;
  double mean_r = 0.0;
  for (size_t i = 0; i < n; ++i)
    mean_r += obs.y[i] - Predict(options.model, best, obs.n[i], obs.t[i]);
  mean_r /= static_cast<double>(n);
  for (size_t i = 0; i < n; ++i) {
    const double r = obs.y[i] - Predict(options.model, best, obs.n[i], obs.t[i]);
    summary->band_residuals.push_back(scale * (r - mean_r));
  }
  std::vector<double> ns = obs.n;
  std::sort(ns.begin(), ns.end());
  ns.erase(std::unique(ns.begin(), ns.end()), ns.end());
  const auto [t_lo, t_hi] = std::minmax_element(obs.t.begin(), obs.t.end());
  const int g = FitSummary::kBandGridSize;
  uint64_t point_seed = options.seed * 0x9E3779B97F4A7C15ULL;
  for (double nv : ns) {
    for (int i = 0; i < g; ++i) {
      BandPoint bp;
      bp.n = nv;
      bp.t = *t_hi > *t_lo
                 ? std::exp(std::log(*t_lo) + (std::log(*t_hi) - std::log(*t_lo)) * i / (g - 1))
                 : *t_lo;
      bp.predicted = Predict(options.model, best, bp.n, bp.t);
      bp.band = BandAt(*summary, bp.n, bp.t, ++point_seed);
      summary->curve_band.push_back(bp);
    }
  }
}

}  // namespace vlmscale::fit::internal
