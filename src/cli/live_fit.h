// The live fit of a sweep (`vlmscale status --fit`, docs/OPERATING.md "Watching a live sweep"):
// the fit of the done jobs as `vlmscale fit` groups them, now and as it was after earlier rounds,
// so that one sees whether alpha, beta and T* have settled. Nothing is stored: the fit as of the
// k-th finished job is the fit of the done jobs whose end_time is at most that job's end_time
// (fit::GroupingOptions::ended_by). Each fit lists the jobs it used with their result hashes
// (fit::ResultHash), and the grouping and fitter are recorded, so any of them can be re-derived
// from the file with `vlmscale fit --filter ...` or compared with `vlmscale fit --check`.
//
// Reads only; the adaptive design loop (fit/adaptive_design.h) can call LiveFit on its own
// results file after each round the same way.
#ifndef VLMSCALE_CLI_LIVE_FIT_H_
#define VLMSCALE_CLI_LIVE_FIT_H_

#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "cli/fit_run.h"
#include "store/results_store.h"

namespace vlmscale::cli {

struct LiveFitOptions {
  // What to fit and how, as `vlmscale fit` takes it (request.source names the file in
  // messages; request.csv must be false; request.grouping.ended_by is set per round).
  // Default: vlmscale fit's defaults with 100 bootstrap resamples (95% intervals).
  // REQUIRES: request.grouping and request.options valid.
  FitRequest request = DefaultRequest();
  // Jobs per round: the rounds end after every round_size-th finished job, counted back from the
  // last one. 0 = rounds at equal fractions of the done jobs (with rounds = 4: after 25%, 50%,
  // 75% and all of them). Default: 0. REQUIRES: >= 0.
  int round_size = 0;
  // Rounds shown, the current fit included. Default: 4. REQUIRES: >= 1.
  int rounds = 4;
  // The budgets C = 2 N (Q + T) at which T* is given (the frontier of each fit,
  // fit/frontier.h). Empty = num_budgets log-spaced from the cheapest to the most expensive
  // point the group has done, the same for every round of the group. Default: empty.
  // REQUIRES: each > 0 and finite.
  std::vector<double> budgets;
  // Default: 3. REQUIRES: >= 1.
  int num_budgets = 3;

  static FitRequest DefaultRequest();
  bool IsValid(std::string* error) const;
};

// A fit needs at least this many points: one more than the law's parameters (residual degrees
// of freedom for the intervals).
size_t MinimumPoints(fit::Model model);

// The live fit of `file` as JSON:
//   {"bootstrap", "model", "minimum_points", "grouping", "fitter", "rounds": [{"label",
//    "ended_by" (null for the current one), "done_jobs"}], "groups": [{"group", "task",
//    "method", "settings", "text_tokens", "budgets", "rounds": [{"label", "ended_by", "as_of"
//    (when its last job ended), "status": "ok" | "too_few_points" | "failed" | "no_jobs",
//    "message", "n_points", "n_jobs", "alpha", "alpha_ci95", "beta", "beta_ci95",
//    "beta_over_alpha", "beta_over_alpha_ci95", "r2", "t_star": [{"budget", "feasible", "n",
//    "t", "t_ci95"}], "t_star_closed_form", "t_star_closed_form_ci95", "warnings", "jobs":
//    [{"job_id", "result_hash"}]}]}], "error"}.
// "error" (else null) says why there is no fit at all (no done job yet; jobs made with mixed
// settings, with what to pass): the data, never the options, so it is not a failure of status.
// A group with too few points or a failed fit says so in its round and the rest goes on.
nlohmann::json LiveFit(const LiveFitOptions& options, const store::ResultsFile& file);

// The text of LiveFit's JSON: per group, one line per round.
void PrintLiveFit(const nlohmann::json& live, std::ostream& out);

}  // namespace vlmscale::cli

#endif  // VLMSCALE_CLI_LIVE_FIT_H_
