// The adaptive design rule of a fit-driven sweep (docs/ADAPTIVE.md): which grid points to run
// next so that the bootstrap interval of the study's target (the inference-optimal T* at given
// budgets, or the error at one (N, T)) narrows fastest per FLOP, and when to stop.
//
// The engine is a pure function of its inputs: the candidate points (the grid), the results so
// far, the points in flight and the options (with their seeds). The same inputs give the same
// decision on any machine and any number of threads, so a resumed sweep that replays its
// journaled results reaches the same choices.
//
//   1. InitialDesign: the grid's four corners in (log N, log T) plus `initial_spread` points,
//      each the candidate farthest from those already chosen (maximin).
//   2. NextRound, after each batch of results: refit the law with the bootstrap, compute the
//      target's 95% interval and its width; stop when the width is within tolerance, when no
//      affordable candidate is left (budget) or none at all (exhausted); otherwise choose up to
//      `batch` candidates greedily by expected width reduction per unit of predicted cost, the
//      reduction estimated by the delta method (a rank-one update of the fit's information
//      matrix per candidate; see ExpectedWidthAfter).
#ifndef VLMSCALE_FIT_ADAPTIVE_DESIGN_H_
#define VLMSCALE_FIT_ADAPTIVE_DESIGN_H_

#include <cstddef>
#include <string>
#include <vector>

#include "core/status.h"
#include "fit/frontier.h"
#include "fit/scaling_law.h"

namespace vlmscale::fit {

// One point of the grid the design may run: its coordinates in the fit's units and the cost
// model's predicted cost (FLOPs; any unit, as long as the budget uses the same).
struct DesignCandidate {
  double n = 0.0;
  double t = 0.0;
  double cost = 0.0;
};

// One finished candidate: its index into the candidate list and the measured error Y.
struct DesignResult {
  size_t candidate = 0;
  double y = 0.0;
};

enum class AdaptiveTargetKind {
  // The frontier's continuous optimum T* (ComputeFrontier) at each of frontier.budgets; the
  // width is the largest over the budgets of ln(upper / lower) of T*'s 95% interval.
  kFrontierT,
  // The fitted error at (n, t), possibly beyond the grid; the width is upper - lower of the
  // curve's 95% interval there, in units of Y.
  kError,
};
const char* AdaptiveTargetKindName(AdaptiveTargetKind k);  // "frontier_t", "error".

struct AdaptiveTarget {
  // Default: kFrontierT.
  AdaptiveTargetKind kind = AdaptiveTargetKind::kFrontierT;
  // kFrontierT: Q (text_tokens), the budgets at which T* is wanted (by value, or the frontier's
  // log-spaced range; 0 ends = the candidates' cheapest and dearest 2 N (Q + T)) and optional T
  // and N limits (T limits 0 = the candidates' T range). Everything is resolved from the
  // candidates, not from the points run so far, so the target does not move as the design
  // grows. Default: Q = 0 (set it: with Q = 0 the multiplicative T* is the smallest T).
  // REQUIRES (kFrontierT): valid.
  FrontierOptions frontier;
  // kError: where the error is wanted. REQUIRES (kError): > 0, finite.
  double n = 0.0;
  double t = 0.0;
};

struct AdaptiveOptions {
  // The law and how it is fitted. bootstrap is the number of resamples of every round's fit.
  // Default: FitOptions's (multiplicative, squared, linear), with bootstrap = 200 and no
  // standard errors (the rule uses the bootstrap only). REQUIRES: valid, bootstrap >= 20.
  FitOptions fit = [] {
    FitOptions f;
    f.bootstrap = 200;
    f.compute_stderr = false;
    return f;
  }();
  AdaptiveTarget target;
  // Stop when the target's interval width is at most this (units: see AdaptiveTargetKind).
  // Default: 0.5 (T* within a factor e^0.5 = 1.65). REQUIRES: > 0.
  double tolerance = 0.5;
  // The most predicted cost (sum of DesignCandidate::cost of everything run, in flight or
  // chosen) and the most jobs to spend. 0 = no limit. Default: 0, 0. REQUIRES: >= 0.
  double budget_cost = 0.0;
  int budget_jobs = 0;
  // Spread points added to the four corners in the initial design. Default: 4. REQUIRES: >= 0.
  int initial_spread = 4;
  // The most candidates chosen per round. Default: 4. REQUIRES: >= 1.
  int batch = 4;

  bool IsValid(std::string* error) const;
};

enum class StopReason {
  kContinue,   // Not stopped: `chosen` holds the next batch.
  kTolerance,  // The interval width is within tolerance.
  kBudget,     // No candidate left that fits the remaining cost or job budget.
  kExhausted,  // Every candidate has been run (or is in flight).
};
const char* StopReasonName(StopReason r);  // "continue", "tolerance", "budget", "exhausted".

// The target at one budget (kFrontierT) or at the one (n, t) (kError), from one round's fit.
struct TargetEstimate {
  double budget = 0.0;  // kFrontierT only.
  double value = 0.0;   // T* (kFrontierT) or Y (kError) of the full-data fit.
  double lower = 0.0;   // 95% bootstrap percentile interval.
  double upper = 0.0;
  double width = 0.0;  // ln(upper / lower) (kFrontierT) or upper - lower (kError).
};

// One candidate's score in a round: the delta method's predicted width after adding it (with
// the earlier picks of the same round) and the predicted reduction per unit cost.
struct CandidateScore {
  size_t candidate = 0;
  double expected_width = 0.0;
  double reduction_per_cost = 0.0;
};

// What NextRound decided and the fit it decided on (what `vlmscale status` will show and what
// the journal will record: the results used are exactly the DesignResults given).
struct AdaptiveDecision {
  StopReason stop = StopReason::kContinue;
  std::string message;                 // One line: the width against tolerance and budget, or why.
  std::vector<size_t> chosen;          // Candidate indices to run next, in the order chosen.
  std::vector<CandidateScore> scores;  // Of the chosen candidates, same order.

  bool fitted = false;  // False when there were too few results to fit (spread points chosen).
  FitSummary fit;       // The round's fit with its bootstrap (fitted).
  std::vector<TargetEstimate> target;  // One per budget (kFrontierT) or one (kError).
  double width = 0.0;                  // The largest TargetEstimate::width; +inf when not fitted.
  // Spent so far: results plus points in flight (not counting `chosen`).
  double spent_cost = 0.0;
  int spent_jobs = 0;
  double score_seconds = 0.0;  // Wall time of the scoring (the fit's own times are in `fit`).
};

// The initial design: indices of the corner candidates (nearest, in log N and log T scaled to
// the grid's range, to each of the four corners; duplicates dropped) followed by
// `initial_spread` maximin spread points (ties: lower cost, then lower index). Fewer when the
// grid has fewer distinct points. kInvalidInput for invalid options, a candidate with a
// non-positive or non-finite n, t or cost, an empty list, or a design that exceeds the budget.
Result<std::vector<size_t>> InitialDesign(const std::vector<DesignCandidate>& candidates,
                                          const AdaptiveOptions& options);

// The decision after `results` (any order; each candidate at most once) with `in_flight`
// candidates still running (they count against the budget and are never chosen again).
// kInvalidInput for invalid options or candidates, an index out of range, a candidate twice, or
// a non-finite Y; a fit that fails numerically is a kRuntime error naming its message.
Result<AdaptiveDecision> NextRound(const std::vector<DesignCandidate>& candidates,
                                   const std::vector<DesignResult>& results,
                                   const std::vector<size_t>& in_flight,
                                   const AdaptiveOptions& options);

// The target's 95% interval(s) from a fit with a bootstrap (summary.has_ci). `candidates` give
// the T limits of kFrontierT when the target has none.
Result<std::vector<TargetEstimate>> EstimateTarget(const FitSummary& summary,
                                                   const std::vector<DesignCandidate>& candidates,
                                                   const AdaptiveTarget& target);

}  // namespace vlmscale::fit

#endif  // VLMSCALE_FIT_ADAPTIVE_DESIGN_H_
