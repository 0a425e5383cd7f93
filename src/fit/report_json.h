// The fit report as JSON (`vlmscale fit --json`), and reading it back for `vlmscale frontier`.
//
// Stable keys of one fit: model, loss, space, huber_delta, n_points, params {A, alpha, [B], beta,
// E}, objective, sse, r2, rmse, at_bound [names], stderr ({name: value|null} or null),
// stderr_reason, ci95 ({name: [lo, hi]} or null), bootstrap_resamples, extrapolation
// [{n, t, observed, predicted, relative_error}], warnings [text], termination, message,
// starts {total, at_best, failed}, bounds {name: [lo|null, hi|null]}, points [{n, t, y}],
// and optionally group {task, method}. docs/FIT.md describes each.
#ifndef VLMSCALE_FIT_REPORT_JSON_H_
#define VLMSCALE_FIT_REPORT_JSON_H_

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/status.h"
#include "fit/scaling_law.h"

namespace vlmscale::fit {

// The JSON of one fit of `obs`. REQUIRES: summary came from FitScalingLaw(…, obs, …).
nlohmann::json FitSummaryToJson(const FitSummary& summary, const Observations& obs);

// A fitted law as the frontier needs it.
struct FittedLaw {
  Model model = Model::kMultiplicative;
  LawParams params;
  Observations points;  // The evaluated (N, T, Y) points.
  std::string name;     // "task/method" for results-file groups, else "".
};

// Reads a fit object (FitSummaryToJson's output). kInvalidInput naming the missing or mistyped key.
Result<FittedLaw> FittedLawFromJson(const nlohmann::json& fit);

// Reads a fit JSON document: a single fit object, or {"fits": [fit objects with "group"]} as
// `vlmscale fit RESULTS.h5 --json` writes. `group` ("task/method") selects one of several fits;
// it may be empty when there is exactly one.
Result<FittedLaw> ReadFittedLaw(const std::string& path, const std::string& group);

}  // namespace vlmscale::fit

#endif  // VLMSCALE_FIT_REPORT_JSON_H_
