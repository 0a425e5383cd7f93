// Internal to src/fit: what the solver (scaling_law.cc), the bootstrap
// (scaling_law_bootstrap.cc) and the frontier's bands (frontier.cc) share. Not part of the fit
// component's interface.
#ifndef VLMSCALE_FIT_SCALING_LAW_SOLVER_H_
#define VLMSCALE_FIT_SCALING_LAW_SOLVER_H_

#include <cstdint>
#include <limits>
#include <vector>

#include "fit/scaling_law.h"

namespace vlmscale::fit::internal {

inline constexpr double kInf = std::numeric_limits<double>::infinity();

// Everything one fit needs, precomputed from the observations: the data in the form the
// residuals use, and the bounds in solver space.
struct FitContext {
  Model model = Model::kMultiplicative;
  Space space = Space::kLinear;
  Loss loss = Loss::kSquared;
  double huber_delta = 1e-3;
  std::vector<int> active;  // Param ids in solver order.
  std::vector<double> log_n, log_t, y, log_y;
  std::vector<double> log_c;             // Compute law: log C = log(2 N (Q + T)).
  double q = 0.0;                        // Compute law: Q (copied into every LawParams).
  std::vector<double> sqrt_w;            // Empty, or sqrt of the point weights scaled to mean 1.
  std::vector<double> lower, upper;      // Solver space, per active index.
  std::vector<Interval> natural_bounds;  // Per ParamId.
};

// One start of the multi-start search, in solver space.
struct StartResult {
  std::vector<double> x;
  double objective = kInf;
  bool usable = false;
  bool converged = false;
};

// The context of one fit of `obs`. REQUIRES: ValidateObservations(options, obs).ok().
FitContext MakeContext(const FitOptions& options, const Observations& obs);
// The start points of the multi-start search, in solver space.
std::vector<std::vector<double>> MakeStarts(const FitContext& ctx, const FitOptions& options);
// Runs the starts (screening, then polishing the best; deterministic) over `threads` threads.
std::vector<StartResult> MultiStart(const FitContext& ctx, const FitOptions& options,
                                    const std::vector<std::vector<double>>& starts, int threads);
// Index of the best usable start (lowest objective, ties to the lowest index), or -1.
int BestStart(const std::vector<StartResult>& results);
// A natural parameter value in solver space (log for A, B, E in log space).
double ToSolver(const FitContext& ctx, int id, double natural);
// Solver-space parameters (active order) as LawParams.
LawParams ToLawParams(const FitContext& ctx, const std::vector<double>& x);
// `requested` threads, or the hardware's when 0.
int ResolveThreads(int requested);

// Starts whose objective is within this relative distance of the best count as reaching it.
inline constexpr double kSameObjectiveRtol = 1e-6;
// A, B and E are solved for in log space when FitOptions::space is log.
inline bool IsLogParam(int id) { return id == kParamA || id == kParamB || id == kParamE; }
// Solved for as its log in either space: the break point of the broken law, so that it moves in
// log T like the data's grid.
inline bool IsAlwaysLogParam(int id) { return id == kParamTBreak; }
// True when parameter id is solved for as its log in ctx's space.
inline bool SolvedAsLog(Space space, int id) {
  return IsAlwaysLogParam(id) || (space == Space::kLog && IsLogParam(id));
}

// True when parameter k of x sits at one of its bounds (in log space, A, B or E effectively 0
// also counts).
bool AtBound(const FitContext& ctx, const std::vector<double>& x, size_t k, double min_y,
             double mean_y);
// Standard errors of the free parameters (`pinned` are held fixed) from the Ceres covariance at
// x, into summary (has_stderr, stderr_values, stderr_present or stderr_reason).
void ComputeStderr(const FitContext& ctx, const FitOptions& options, const std::vector<double>& x,
                   const std::vector<bool>& pinned, FitSummary* summary);

// The bootstrap's seed mixer, shared with the adaptive design (adaptive_design.cc).
uint64_t SplitMix64(uint64_t x);

// Percentile bootstrap of the parameters over options.bootstrap resamples of the points
// (scaling_law_bootstrap.cc): fills summary's ci_lower/ci_upper, resample counts and warnings.
void RunBootstrap(const FitOptions& options, const Observations& obs, FitSummary* summary);
// The q-quantile of v (linear interpolation; an infinite neighbour is returned as is), used by
// the bootstrap, the frontier bands and the adaptive design. REQUIRES: v non-empty, 0 <= q <= 1.
double Percentile(std::vector<double> v, double q);

}  // namespace vlmscale::fit::internal

#endif  // VLMSCALE_FIT_SCALING_LAW_SOLVER_H_
