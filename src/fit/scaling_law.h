// Scaling-law fits of error Y against LLM parameters N and visual tokens T (docs/FIT.md).
//
//   multiplicative:  Y = A * N^-alpha * T^-beta + E          (Li et al. 2025, arXiv 2411.03312)
//   additive:        Y = A * N^-alpha + B * T^-beta + E      (Hoffmann et al. 2022, "Chinchilla")
//   compute:         Y = A * C^-gamma + E, C = 2 N (Q + T)   (inference FLOPs per query only)
//   broken:          Y = A * N^-alpha * T^-beta * (1 + (T / t_break)^(1/s))^(-(beta2 - beta) s) + E
//                    with s = kBrokenSmoothness: the slope in log T bends from -beta below the
//                    break to -beta2 above it (a one-break power law, Caballero et al. 2023)
//
// FitScalingLaw follows the Ceres Solve/Summary pattern: options in, observations in, a summary
// out. Ceres Solver does the minimisation (bounds, robust loss) and the covariance; the fit runs a
// deterministic multi-start over a grid of initial points on several threads and keeps the start
// with the lowest objective (ties: lowest start index), so results do not depend on the number of
// threads.
#ifndef VLMSCALE_FIT_SCALING_LAW_H_
#define VLMSCALE_FIT_SCALING_LAW_H_

#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace vlmscale::fit {

enum class Model { kMultiplicative, kAdditive, kCompute, kBroken };
// Every model, in the order `--model auto` fits and lists them.
inline constexpr Model kAllModels[] = {Model::kMultiplicative, Model::kAdditive, Model::kCompute,
                                       Model::kBroken};
// The broken law's smoothness s, in natural-log units of T: the bend spans about a factor e^(2s)
// of T on each side of t_break. Fixed rather than fitted: with a handful of T values per N, s and
// t_break trade off and a fitted s is not identifiable.
inline constexpr double kBrokenSmoothness = 0.5;
enum class Loss { kSquared, kHuber };
enum class Space { kLinear, kLog };

const char* ModelName(Model m);  // "multiplicative", "additive", "compute", "broken".
// The law as a formula, e.g. "Y = A * N^-alpha * T^-beta + E".
const char* ModelFormula(Model m);
const char* LossName(Loss l);    // "squared", "huber".
const char* SpaceName(Space s);  // "linear", "log".
Result<Model> ParseModel(std::string_view s);
Result<Loss> ParseLoss(std::string_view s);
Result<Space> ParseSpace(std::string_view s);

// Parameters of every law in natural units; a law leaves the ones it does not use at 0.
struct LawParams {
  double A = 0.0;
  double alpha = 0.0;
  double B = 0.0;
  double beta = 0.0;  // broken: the slope in log T below the break.
  double E = 0.0;
  double gamma = 0.0;    // compute: the exponent of C.
  double beta2 = 0.0;    // broken: the slope in log T above the break.
  double t_break = 0.0;  // broken: where the slope bends, in tokens.
  // compute: Q, text tokens per query, a constant of the law (not fitted) that defines
  // C = 2 N (Q + T). FitScalingLaw copies it from FitOptions::text_tokens.
  double q = 0.0;
};

// Parameter ids, in the order the solver and the reports use.
enum ParamId {
  kParamA = 0,
  kParamAlpha = 1,
  kParamB = 2,
  kParamBeta = 3,
  kParamE = 4,
  kParamGamma = 5,
  kParamBeta2 = 6,
  kParamTBreak = 7
};
constexpr int kNumParamIds = 8;
// beta / alpha: how many times faster the error falls with visual tokens than with LLM
// parameters at a fixed inference budget (the seed paper's contrast: about 0.2 for visual
// reasoning, above 1 for OCR-like tasks). +inf when alpha is 0 and beta is not; NaN when both are.
double BetaOverAlpha(const LawParams& p);

// "A", "alpha", "B", "beta", "E", "gamma", "beta2", "t_break".
const char* ParamName(int id);
// The ids the model uses: multiplicative {A, alpha, beta, E}, additive {A, alpha, B, beta, E},
// compute {A, gamma, E}, broken {A, alpha, beta, beta2, t_break, E}.
std::vector<int> ActiveParams(Model m);
double GetParam(const LawParams& p, int id);
void SetParam(LawParams* p, int id, double v);

// The law's prediction. REQUIRES: n > 0, t > 0 (and p.t_break > 0 for the broken law).
double Predict(Model m, const LawParams& p, double n, double t);
// The broken law's bend, the log of (1 + (T/t_break)^(1/s))^(-(beta2-beta) s), from log T and
// log t_break; overflow-safe.
double BrokenLogBend(double log_t, double log_t_break, double beta, double beta2);

// The data to fit: parallel vectors of N (any fixed unit: the exponents do not depend on it, only
// A does), T and Y, plus an optional label per point ("file.csv:12") used in error messages.
struct Observations {
  std::vector<double> n;
  std::vector<double> t;
  std::vector<double> y;
  std::vector<std::string> labels;  // Empty, or one per point.
  // Empty (every point counts the same), or one weight > 0 per point: the fit minimises
  // sum_i w_i loss(r_i) with the weights scaled to mean 1 (residuals multiplied by sqrt(w_i)).
  // sse, r2 and rmse stay unweighted. Results files: 1 / (the variance of a point's seed mean).
  std::vector<double> weights;

  size_t size() const { return y.size(); }
  void Add(double n_value, double t_value, double y_value, std::string label = "");
  // "file.csv:12" when labels exist, else "point 12" (1-based).
  std::string Where(size_t i) const;
};

// A closed interval in natural units. Infinite ends mean unbounded.
struct Interval {
  double lower = -std::numeric_limits<double>::infinity();
  double upper = std::numeric_limits<double>::infinity();
};

// A one-parameter start grid: the values (in solver space: log A, log B, log E in log space;
// natural units in linear space) to try for one parameter.
using StartGrid = std::map<std::string, std::vector<double>>;

struct FitOptions {
  // Default: kMultiplicative.
  Model model = Model::kMultiplicative;
  // Q, text tokens per query, for the compute law's C = 2 N (Q + T); ignored by the other laws.
  // Default: NaN (unknown). REQUIRES: finite and >= 0 for the compute law.
  double text_tokens = std::numeric_limits<double>::quiet_NaN();
  // Default: kSquared (least squares).
  Loss loss = Loss::kSquared;
  // kLinear: residual = prediction - Y. kLog: residual = log(prediction) - log(Y) with A, B, E
  // solved as a = log A, b = log B, e = log E, the prediction written as a log-sum-exp.
  // Default: kLinear.
  Space space = Space::kLinear;
  // Huber threshold on the residual. Default: 1e-3. REQUIRES: > 0.
  double huber_delta = 1e-3;

  // Per-parameter bound overrides in natural units, keyed by parameter name (ParamName).
  // Defaults: A, B in [0, inf) (> 0 in log space); alpha, beta, gamma, beta2 in [0, 3];
  // E in [0, min(Y)]; t_break in [min T, max T] (solved for as log t_break).
  // REQUIRES: known names, lower <= upper, and in log space lower >= 0 for A, B, E.
  std::map<std::string, Interval> bounds;

  // Start-grid overrides, keyed by parameter name, values in solver space (see StartGrid).
  // A parameter not listed gets the default grid of its mode (docs/FIT.md). REQUIRES: non-empty
  // lists of finite values.
  StartGrid start_grid;

  // Threads for the multi-start and the bootstrap. Default: 0 = hardware concurrency.
  // REQUIRES: >= 0.
  int num_threads = 0;
  // Ceres limits per start. Default: 500 iterations. REQUIRES: > 0.
  int max_iterations = 500;
  // Two-phase multi-start, used when there are more than 4 * polish_starts starts (the large
  // log-space grids): every start first runs at most screen_iterations Ceres iterations;
  // starts that converged are final, and the polish_starts unconverged ones with the lowest
  // objective continue up to max_iterations. 0 = no screening (every start runs to
  // max_iterations). Default: 4 and 32. REQUIRES: screen_iterations >= 0, polish_starts > 0.
  int screen_iterations = 4;
  int polish_starts = 32;
  // Ceres convergence tolerances. Default: 1e-12 each. REQUIRES: > 0.
  double function_tolerance = 1e-12;
  double gradient_tolerance = 1e-12;
  double parameter_tolerance = 1e-12;

  // How the points enter Ceres. false: one residual block holding every point, the Huber loss
  // (a ceres::HuberLoss) applied per point inside it as sign(r) * sqrt(rho(r^2)) -- the same
  // objective, about 10x less Ceres overhead per iteration. true: one residual block per point
  // with the loss attached by Ceres itself (slower; kept to cross-check). Default: false.
  bool per_point_residual_blocks = false;

  // Standard errors from the Ceres covariance at the optimum. Default: true.
  bool compute_stderr = true;
  // Bootstrap resamples (points drawn with replacement) for percentile 95% intervals; 0 = none.
  // Each resample is refit from the full-data optimum (warm start) unless
  // bootstrap_full_grid. Default: 0. REQUIRES: >= 0 (and >= 20 when > 0).
  int bootstrap = 0;
  bool bootstrap_full_grid = false;
  // Seed of the bootstrap resampling; results are identical for identical seeds. Default: 1.
  uint64_t seed = 1;
  // Refit without the points of the K largest distinct N values and report how well the fit
  // predicts them. Default: 0 = none. REQUIRES: >= 0.
  int holdout_largest = 0;

  bool IsValid(std::string* error) const;
};

// The bootstrap's 95% bands of the law at one (N, T) (FitOptions::bootstrap > 0): the
// confidence band of the fitted curve (2.5/97.5 percentiles of the resamples' predictions) and the
// prediction band of a new point there (each resample's prediction plus a residual of the fit
// drawn at random, rescaled by sqrt(n / (n - p)): points and residuals bootstrapped together).
struct Band {
  bool present = false;
  double ci_lower = 0.0, ci_upper = 0.0;
  double pi_lower = 0.0, pi_upper = 0.0;
};

// The fitted curve at one (N, T) with its bands.
struct BandPoint {
  double n = 0.0;
  double t = 0.0;
  double predicted = 0.0;
  Band band;
};

// One point predicted by a fit that did not see it (FitOptions::holdout_largest).
struct HoldoutPoint {
  double n = 0.0;
  double t = 0.0;
  double observed = 0.0;
  double predicted = 0.0;
  double relative_error = 0.0;  // (predicted - observed) / observed.
  Band band;  // From the bootstrap of the fit without the held-out points (bootstrap > 0).
};

struct FitSummary {
  enum class Termination { kConvergence, kNoConvergence, kFailure };

  Model model = Model::kMultiplicative;
  Loss loss = Loss::kSquared;
  Space space = Space::kLinear;
  double huber_delta = 0.0;
  Termination termination = Termination::kFailure;
  std::string message;  // Why it failed, or a one-line note on how it ended.

  size_t n_points = 0;
  LawParams params;
  // The minimised objective: sum over points of r^2 (squared) or Huber_delta(r) (huber), with
  // r the residual in the fit's space.
  double objective = 0.0;
  double sse = 0.0;   // Sum of (prediction - Y)^2 in linear space, whatever the objective.
  double r2 = 0.0;    // 1 - sse / sum (Y - mean Y)^2.
  double rmse = 0.0;  // sqrt(sse / n).
  std::vector<std::string> at_bound;  // Names of parameters pinned at a bound, e.g. {"E"}.
  std::vector<Interval> bounds_used;  // Per ParamId, natural units (unused ids: default).

  // Standard errors from the Ceres covariance (scaled by the residual variance). Parameters at a
  // bound are held fixed and get none. When the covariance is singular, has_stderr is false and
  // stderr_reason says why.
  bool has_stderr = false;
  LawParams stderr_values;
  std::vector<bool> stderr_present = std::vector<bool>(kNumParamIds, false);
  std::string stderr_reason;

  // Bootstrap percentile 95% intervals (has_ci when FitOptions::bootstrap > 0).
  bool has_ci = false;
  LawParams ci_lower;
  LawParams ci_upper;
  int bootstrap_resamples = 0;
  int bootstrap_failures = 0;
  // The bootstrap percentile 95% interval of beta / alpha (BetaOverAlpha()), with the parameter
  // intervals. A resample whose alpha is 0 counts as +inf, so an upper end may be +inf; NaN when
  // no resample has a ratio.
  double beta_over_alpha_ci_lower = 0.0;
  double beta_over_alpha_ci_upper = 0.0;
  // The resamples' parameters (has_ci), and the fit's residuals Y - prediction rescaled by
  // sqrt(n / (n - p)): what the bands are computed from.
  std::vector<LawParams> bootstrap_params;
  std::vector<double> band_residuals;
  // The bands of the fitted curve (has_ci): for each distinct N of the points, kBandGridSize
  // log-spaced T from the smallest to the largest sampled T.
  static constexpr int kBandGridSize = 16;
  std::vector<BandPoint> curve_band;

  // Holdout of the largest N values (FitOptions::holdout_largest > 0).
  std::vector<HoldoutPoint> extrapolation;

  std::vector<std::string> warnings;

  // Multi-start bookkeeping.
  int num_starts = 0;
  int starts_failed = 0;   // Starts Ceres reported as failed.
  int starts_at_best = 0;  // Starts within 1e-6 (relative) of the best objective.
  int best_start = -1;
  int num_threads = 0;
  double solve_seconds = 0.0;      // Multi-start only.
  double bootstrap_seconds = 0.0;  // Bootstrap only.

  bool IsSolutionUsable() const { return termination != Termination::kFailure; }
  // One line: model, params, objective, r2.
  std::string BriefReport() const;
  // The full text report: params with uncertainty, fit quality, bounds, warnings, extrapolation.
  std::string FullReport() const;
};

// Checks that `obs` can be fit under `options`: finite values, N > 0, T > 0, Y > 0 in log space,
// at least as many points as parameters, non-constant Y. Returns kInvalidInput naming the point.
Status ValidateObservations(const FitOptions& options, const Observations& obs);

// The bands at (n, t) from summary's bootstrap (Band::present false without one). Deterministic
// for a given `seed` (the residual draws).
Band BandAt(const FitSummary& summary, double n, double t, uint64_t seed);

// Fits the law. Returns a non-OK status (kInvalidInput) for invalid options or observations; a
// numerical failure is reported in summary->termination and summary->message with an OK status.
Status FitScalingLaw(const FitOptions& options, const Observations& obs, FitSummary* summary);

}  // namespace vlmscale::fit

#endif  // VLMSCALE_FIT_SCALING_LAW_H_
