// The inference-optimal frontier of a fitted law (docs/FIT.md, "Frontier").
//
// With Q text tokens and T visual tokens per query, inference costs C = 2 * N * (Q + T) FLOPs
// (N in the unit of the fit, so C is in that unit too). For each budget C the frontier gives the
// (N, T) that minimises the fitted Y on the curve 2 N (Q + T) = C, over continuous N and T within
// limits, and over the evaluated grid points that fit the budget.
//
// For the multiplicative law Y = A N^-alpha T^-beta + E the continuous optimum has a closed form:
// with N = C / (2 (Q + T)), log(Y - E) = const + alpha log(Q + T) - beta log T, whose derivative
// alpha / (Q + T) - beta / T vanishes at T* = beta Q / (alpha - beta) when alpha > beta
// (independent of C); when beta >= alpha (or Q = 0 with alpha > beta the bound T_min instead) the
// optimum sits at a limit of T.
//
// Bands: when the fit was bootstrapped (vlmscale fit --bootstrap K stores each resample's
// parameters), every resample's law gets its own continuous optimum at the same budgets and
// limits, and the 2.5/97.5 percentiles over the resamples are the 95% band of N*, T* and the
// predicted Y at each budget (and of the closed-form T*).
#ifndef VLMSCALE_FIT_FRONTIER_H_
#define VLMSCALE_FIT_FRONTIER_H_

#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "fit/report_json.h"
#include "fit/scaling_law.h"

namespace vlmscale::fit {

struct FrontierOptions {
  // Q, text tokens per query. Default: 0. REQUIRES: >= 0, finite.
  double text_tokens = 0.0;
  // Budget range in FLOPs (fit units), log-spaced. 0 = from the cheapest to the most expensive
  // evaluated point. Default: 0, 0. REQUIRES: >= 0, and budget_min < budget_max when both set.
  double budget_min = 0.0;
  double budget_max = 0.0;
  // Budgets in the range. Default: 12. REQUIRES: >= 1 (1 uses budget_min).
  int num_budgets = 12;
  // Budgets asked for by value; when non-empty they replace the log-spaced range (budget_min,
  // budget_max and num_budgets are ignored). Default: none. REQUIRES: each > 0 and finite.
  std::vector<double> budgets;
  // Limits on T for the continuous optimum. 0 = the evaluated range. Default: 0, 0.
  // REQUIRES: >= 0, t_min <= t_max when both set.
  double t_min = 0.0;
  double t_max = 0.0;
  // Limits on N. Default: [0, inf) (no limit). REQUIRES: 0 <= n_min <= n_max.
  double n_min = 0.0;
  double n_max = std::numeric_limits<double>::infinity();

  bool IsValid(std::string* error) const;
};

// The bootstrap's 95% band of one frontier point: the 2.5/97.5 percentiles, over the fit's
// resamples, of each resample's own continuous optimum at the same budget and limits.
struct FrontierBand {
  bool present = false;
  Interval n, t, predicted;
};

struct FrontierPoint {
  double budget = 0.0;
  // Continuous optimum; feasible is false when no (N, T) within the limits meets the budget.
  bool feasible = false;
  double n = 0.0;
  double t = 0.0;
  double predicted = 0.0;
  bool extrapolation = false;  // N or T outside the range of the fitted points.
  FrontierBand band;           // Feasible points of a bootstrapped fit.
  // Best evaluated grid point with cost <= budget (by fitted Y); grid_found false when none.
  bool grid_found = false;
  double grid_n = 0.0;
  double grid_t = 0.0;
  double grid_predicted = 0.0;
  double grid_observed = 0.0;
  double grid_cost = 0.0;
};

// A frontier optimum at or beyond the edge of the sampled grid of one axis (GridChecks).
struct GridWarning {
  std::string axis;             // "N" or "T".
  std::string side;             // "above" (largest values) or "below" (smallest).
  bool beyond = false;          // Outside the sampled range (else in its outer half-step).
  double grid_edge = 0.0;       // The sampled value at that edge.
  double worst_optimum = 0.0;   // The optimum furthest out, over the budgets concerned.
  std::vector<double> budgets;  // The budgets whose optimum is there.
  std::vector<double> add;      // Grid values to add, continuing the grid's outer ratio.
  std::string message;          // One line naming all of the above.
};

struct Frontier {
  double text_tokens = 0.0;
  double t_min = 0.0, t_max = 0.0;  // Limits used.
  double n_min = 0.0, n_max = 0.0;
  std::vector<FrontierPoint> points;
  // Multiplicative law only: the closed-form T* (clamped to [t_min, t_max]) and how it arises.
  std::optional<double> closed_form_t;
  std::string closed_form_note;
  // Resamples behind the bands (FittedLaw::bootstrap_params); 0 = the fit had no bootstrap and
  // there are no bands. closed_form_t_band: the band of closed_form_t, when both exist.
  int band_resamples = 0;
  std::optional<Interval> closed_form_t_band;
  // GridChecks(...) of the points; empty when every optimum is bracketed by the sampled grid.
  std::vector<GridWarning> grid_warnings;
};

// For each axis (N, T) and side, the feasible continuous optima that are not bracketed by the
// sampled values g_0 < ... < g_k of the fitted points: beyond them (x > g_k or x < g_0), or at
// the edge, in the outer half-step (x > sqrt(g_{k-1} g_k) or x < sqrt(g_0 g_1)); one distinct
// value brackets nothing. Each warning names the values to add: the grid continued with its outer
// ratio g_k / g_{k-1} until a value exceeds the furthest optimum by half a step (T rounded to an
// integer; T below 1 is never suggested, and a T optimum at T = 1 needs no value below).
std::vector<GridWarning> GridChecks(const Observations& points,
                                    const std::vector<FrontierPoint>& frontier);

// The optimal T of the multiplicative law at any budget, unconstrained in N: beta Q / (alpha -
// beta) clamped to [t_min, t_max] when alpha > beta, else t_max.
double MultiplicativeOptimalT(double alpha, double beta, double text_tokens, double t_min,
                              double t_max);

// Computes the frontier, with bands when law.bootstrap_params is non-empty. kInvalidInput for
// invalid options or a law without points.
Result<Frontier> ComputeFrontier(const FittedLaw& law, const FrontierOptions& options);

// Text table and JSON of a frontier.
std::string FrontierReport(const FittedLaw& law, const Frontier& frontier);
nlohmann::json FrontierToJson(const FittedLaw& law, const Frontier& frontier);

}  // namespace vlmscale::fit

#endif  // VLMSCALE_FIT_FRONTIER_H_
