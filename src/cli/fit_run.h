// What one `vlmscale fit` computes (src/cli/fit_command.cc): the request, its points loaded from a
// results file or a CSV, the fits with the JSON document `--json` writes (its manifest and the
// docs/FIT.md checklist included), and the per-seed fits of `--per-seed`. `--check`
// (cli/fit_check.h) computes the same from a fit's manifest.
#ifndef VLMSCALE_CLI_FIT_RUN_H_
#define VLMSCALE_CLI_FIT_RUN_H_

#include <limits>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "fit/observations.h"
#include "fit/scaling_law.h"
#include "store/results_store.h"

namespace vlmscale::cli {

// What one `vlmscale fit` computes: the data, how they are grouped, the fitter's options. The
// manifest of the fit JSON records it, so that `--check` can compute it again.
struct FitRequest {
  std::string source;  // Results file or CSV.
  bool csv = false;
  std::string n_col = "N", t_col = "T", y_col = "Y";  // CSV only.
  fit::GroupingOptions grouping;                      // Results file only.
  // --model auto: every form is fit and ranked (fit/model_selection.h); options.model is then
  // set per group to the winner.
  bool auto_model = false;
  // options.text_tokens: Q for the compute law; --text-tokens for CSV fits, per group (from the
  // results file) otherwise.
  fit::FitOptions options;
};

// One set of points to fit, with where they came from.
struct FitInput {
  std::string task, method;                                   // Empty for a CSV.
  std::vector<std::pair<std::string, std::string>> settings;  // The group's setting values.
  std::vector<std::string> pooled_settings;
  fit::Observations obs;
  std::vector<fit::UsedJob> jobs;
  fit::SeedNoise seed_noise;
  double text_tokens = std::numeric_limits<double>::quiet_NaN();
  std::string name() const { return task.empty() ? "" : fit::GroupName(task, method, settings); }
};

struct LoadedInputs {
  std::vector<FitInput> inputs;
  std::string stage;
  nlohmann::json source_facts;  // config_hash, sweep_name, source_hash.
  std::vector<fit::ExcludedJob> excluded;
};

// The points of every group of the request's source (one input for a CSV). Exit-2 errors for a
// missing or malformed source.
Result<LoadedInputs> LoadInputs(const FitRequest& request);
// The same for a results file already read (request.source names it in messages; request.csv
// must be false).
Result<LoadedInputs> LoadInputs(const FitRequest& request, const store::ResultsFile& file);

// Fits every input; `out` (may be null) gets the text reports (`brief`: one line per fit).
// Returns the JSON document `--json` writes, with its manifest and checklist. *any_failed is set
// when a fit failed numerically.
Result<nlohmann::json> RunFits(const FitRequest& request, const LoadedInputs& loaded,
                               std::ostream* out, bool brief, bool* any_failed);

// --per-seed: each seed's points fitted apart, per group, and the spread of alpha and beta over
// seeds. Returns {"group": {"seeds": [{seed, alpha, beta, r2, n_points}], "alpha": {mean, sd,
// min, max}, "beta": {...}}}; the text goes to `out`.
Result<nlohmann::json> PerSeedFits(const FitRequest& request, std::ostream& out);

// `v`, or null when it is not finite (JSON has no NaN).
nlohmann::json MaybeNumber(double v);

}  // namespace vlmscale::cli

#endif  // VLMSCALE_CLI_FIT_RUN_H_
