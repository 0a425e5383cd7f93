// `vlmscale fit --model auto`: fits every law form to the same points with the same objective and
// ranks them (docs/FIT.md, "Choosing the law").
//
// Two criteria: AIC = n log(objective / n) + 2 k (k the form's parameters), the in-sample fit
// penalised for parameters, which decides the winner; and the hold-out extrapolation error (fit
// without the largest N, predict it; root mean square of the relative errors), which is reported
// with its own ranking because extrapolating to larger N is what the law is for. AIC decides
// because the hold-out rests on one column of N (a handful of points) and cannot tell nested forms
// apart when they agree there.
#ifndef VLMSCALE_FIT_MODEL_SELECTION_H_
#define VLMSCALE_FIT_MODEL_SELECTION_H_

#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/status.h"
#include "fit/scaling_law.h"

namespace vlmscale::fit {

// One form's fit within a selection.
struct FormFit {
  Model model = Model::kMultiplicative;
  // Empty when the form was fit; else why not (e.g. the compute law without Q, fewer points than
  // parameters) and the numbers below are NaN.
  std::string skipped;
  FitSummary summary;  // Without bootstrap; with the hold-out of the largest N.
  int num_params = 0;
  double aic = std::numeric_limits<double>::quiet_NaN();
  double delta_aic = std::numeric_limits<double>::quiet_NaN();  // aic - the best aic.
  // Root mean square of the held-out points' relative errors; NaN when the hold-out failed.
  double holdout_error = std::numeric_limits<double>::quiet_NaN();
  int aic_rank = 0;      // 1 = best; 0 = not ranked.
  int holdout_rank = 0;  // 1 = best; 0 = not ranked.
};

struct ModelSelection {
  std::vector<FormFit> forms;  // In kAllModels order.
  int winner = -1;             // Index into forms; -1 when no form could be fit.
  int runner_up = -1;          // Second by AIC; -1 when only one form was fit.
  int holdout_best = -1;       // Best by hold-out error; -1 when no hold-out succeeded.
  // One line: which form won and by how much (ΔAIC to the runner-up, both hold-out errors).
  std::string verdict;

  // The table: form, parameters, hold-out error at the largest N, AIC, ΔAIC; then the verdict.
  std::string Report() const;
  // {"criterion", "forms": [{model, skipped, params, n_params, objective, sse, aic, delta_aic,
  //  aic_rank, holdout_error, holdout_rank}], "winner", "runner_up", "holdout_best", "verdict"}.
  nlohmann::json ToJson() const;
};

// Fits every form of kAllModels to `obs` with `options` (its model, bootstrap and hold-out are
// overridden: no bootstrap, hold-out of the largest N) and ranks them. The compute law is skipped
// when options.text_tokens is NaN. kInvalidInput for invalid options or observations; a form that
// fails numerically is recorded as skipped.
Status SelectModel(const FitOptions& options, const Observations& obs, ModelSelection* out);

}  // namespace vlmscale::fit

#endif  // VLMSCALE_FIT_MODEL_SELECTION_H_
