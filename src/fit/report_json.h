// The fit report as JSON (`vlmscale fit --json`), and reading it back for `vlmscale frontier`.
//
// Stable keys of one fit: model, loss, space, huber_delta, n_points, params {A, alpha, [B], beta,
// E}, objective, sse, r2, rmse, at_bound [names], stderr ({name: value|null} or null),
// stderr_reason, ci95 ({name: [lo, hi]} or null), bootstrap_resamples, bootstrap_params
// ({names, values: [[one row per resample]]} or null), extrapolation
// [{n, t, observed, predicted, relative_error}], warnings [text], termination, message,
// starts {total, at_best, failed}, bounds {name: [lo|null, hi|null]}, points [{n, t, y}],
// and optionally group {task, method}. The caller (vlmscale fit) adds jobs, text_tokens and the
// manifest. docs/FIT.md describes each.
#ifndef VLMSCALE_FIT_REPORT_JSON_H_
#define VLMSCALE_FIT_REPORT_JSON_H_

#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/status.h"
#include "fit/observations.h"
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
  // Q as the sweep recorded it (the fit JSON's text_tokens); NaN when the fit has none (CSV fits).
  double text_tokens = std::numeric_limits<double>::quiet_NaN();
  // The bootstrap resamples' parameters (the fit JSON's bootstrap_params; q set as in params);
  // empty when the fit had no bootstrap.
  std::vector<LawParams> bootstrap_params;
};

// Reads a fit object (FitSummaryToJson's output). kInvalidInput naming the missing or mistyped key.
Result<FittedLaw> FittedLawFromJson(const nlohmann::json& fit);

// Reads a fit JSON document: a single fit object, or {"fits": [fit objects with "group"]} as
// `vlmscale fit RESULTS.h5 --json` writes. Every fit of it, in file order: all groups when `group`
// is empty, else the one named (kInvalidInput listing the groups when none matches).
Result<std::vector<FittedLaw>> ReadFittedLaws(const std::string& path, const std::string& group);

// The fitter's options as the manifest records them (every field of FitOptions but num_threads,
// which does not change the result), and back. FitOptionsFromJson fails with kInvalidInput naming
// `where` and the missing or mistyped key; the options it returns pass IsValid or it fails.
nlohmann::json FitOptionsToJson(const FitOptions& options);
Result<FitOptions> FitOptionsFromJson(const nlohmann::json& j, const std::string& where);
nlohmann::json GroupingOptionsToJson(const GroupingOptions& options);
// The name (GroupName) of a fit JSON's "group" object {task, method, settings: {key: value}}.
std::string GroupNameFromJson(const nlohmann::json& group);
Result<GroupingOptions> GroupingOptionsFromJson(const nlohmann::json& j, const std::string& where);

// The numbers of two fit objects (FitSummaryToJson) that differ by more than `rtol` relative
// (plus 1e-12 absolute): params, objective, sse, r2, ci95, beta_over_alpha, extrapolation
// predictions, n_points. One line per difference, e.g. "params.alpha: 0.0709 -> 0.0712"; empty
// when they agree.
std::vector<std::string> CompareFitNumbers(const nlohmann::json& recorded,
                                           const nlohmann::json& rederived, double rtol);

}  // namespace vlmscale::fit

#endif  // VLMSCALE_FIT_REPORT_JSON_H_
