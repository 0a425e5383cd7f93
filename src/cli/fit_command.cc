// vlmscale fit: fit the scaling law Y(N, T) to a results file or a CSV (docs/FIT.md).
#include <iostream>
#include <limits>
#include <string>
#include <vector>

#include "cli/cli_util.h"
#include "cli/command.h"
#include "cli/fit_check.h"
#include "cli/fit_checklist.h"
#include "cli/fit_run.h"
#include "core/strings.h"
#include "fit/observations.h"
#include "fit/scaling_law.h"

namespace vlmscale::cli {
namespace {

constexpr char kName[] = "fit";

// "alpha=0:1", "E=0:", "A=1e-3:inf".
Status ParseBound(const std::string& text, fit::FitOptions* options) {
  const size_t eq = text.find('=');
  const size_t colon = text.find(':', eq == std::string::npos ? 0 : eq);
  if (eq == std::string::npos || colon == std::string::npos) {
    return Status::InvalidInput("--bound '" + text +
                                "' is not NAME=LO:HI (e.g. E=0:0.3, alpha=0:)");
  }
  const std::string name = Trim(text.substr(0, eq));
  auto parse_end = [&](std::string s, double dflt) -> Result<double> {
    s = Trim(s);
    if (s.empty()) return dflt;
    if (s == "inf" || s == "+inf") return std::numeric_limits<double>::infinity();
    if (s == "-inf") return -std::numeric_limits<double>::infinity();
    auto v = ParseDouble(s);
    if (!v) return Status::InvalidInput("--bound " + text + ": '" + s + "' is not a number");
    return *v;
  };
  fit::Interval iv;
  VLM_ASSIGN_OR_RETURN(iv.lower, parse_end(text.substr(eq + 1, colon - eq - 1), iv.lower));
  VLM_ASSIGN_OR_RETURN(iv.upper, parse_end(text.substr(colon + 1), iv.upper));
  options->bounds[name] = iv;
  return Status::OK();
}

// "alpha=0,0.5,1".
Status ParseStart(const std::string& text, fit::FitOptions* options) {
  const size_t eq = text.find('=');
  if (eq == std::string::npos) {
    return Status::InvalidInput("--start '" + text +
                                "' is not NAME=V1,V2,... (e.g. alpha=0,0.5,1)");
  }
  std::vector<double> values;
  for (const std::string& s : SplitTrimmed(text.substr(eq + 1), ',')) {
    auto v = ParseDouble(s);
    if (!v) return Status::InvalidInput("--start " + text + ": '" + s + "' is not a number");
    values.push_back(*v);
  }
  options->start_grid[Trim(text.substr(0, eq))] = values;
  return Status::OK();
}

void PrintUsage(const po::options_description& desc) {
  std::cout << "Usage: vlmscale fit RESULTS.h5 [options]\n"
               "       vlmscale fit --csv FILE --n-col NAME --t-col NAME --y-col NAME [options]\n"
               "       vlmscale fit --check FIT.json [RESULTS.h5 | FILE.csv]\n\n"
               "Fits Y = A*N^-alpha*T^-beta + E (multiplicative), A*N^-alpha + B*T^-beta + E\n"
               "(additive), A*C^-gamma + E with C = 2*N*(Q+T) (compute) or a power law in T with\n"
               "one smooth break (broken) with Ceres; --model auto fits every form and keeps the\n"
               "lowest AIC. A results file is fit per group: task, method and every setting that\n"
               "varies between its jobs (or --group-by), done jobs only, the seeds of one (N, T)\n"
               "point averaged. --check recomputes a fit from its manifest and exits 1 if\n"
               "the results or the numbers differ. See docs/FIT.md.\n\n"
            << desc
            << "\nExit codes: 0 ok, 1 a fit failed numerically (or --check found a difference),\n"
               "2 bad input or usage.\n";
}

int Run(const std::vector<std::string>& args) {
  po::options_description desc("Options");
  std::string results, csv, model = "multiplicative", loss = "squared", space = "linear", json_path,
                            check_path;
  std::vector<std::string> bounds, starts, filters, group_by;
  std::string stage;
  FitRequest request;
  fit::FitOptions& options = request.options;
  int seed = 1;
  // clang-format off
  desc.add_options()
      ("results", po::value(&results), "results file (HDF5) of a sweep")
      ("csv", po::value(&csv), "fit the columns of this CSV file instead")
      ("n-col", po::value(&request.n_col)->default_value(request.n_col),
       "CSV column of N (LLM parameters)")
      ("t-col", po::value(&request.t_col)->default_value(request.t_col),
       "CSV column of T (visual tokens)")
      ("y-col", po::value(&request.y_col)->default_value(request.y_col),
       "CSV column of Y (error)")
      ("model", po::value(&model)->default_value(model),
       "multiplicative | additive | compute | broken | auto (fit every form, rank them by AIC "
       "and hold-out error, keep the winner)")
      ("text-tokens", po::value(&options.text_tokens),
       "CSV fits: Q, text tokens per query, for the compute law's C = 2*N*(Q+T) (results files "
       "record Q per group)")
      ("loss", po::value(&loss)->default_value(loss), "squared | huber")
      ("space", po::value(&space)->default_value(space),
       "linear | log (residual log(pred) - log(Y))")
      ("huber-delta", po::value(&options.huber_delta)->default_value(options.huber_delta),
       "Huber threshold on the residual")
      ("bound", po::value(&bounds)->composing(),
       "NAME=LO:HI bound override, repeatable (e.g. E=0:0.3, alpha=0:1; empty end = default; "
       "LO = HI holds the parameter at that value, e.g. E=0.1:0.1)")
      ("start", po::value(&starts)->composing(),
       "NAME=V1,V2,... start-grid override in solver space, repeatable")
      ("screen-iterations",
       po::value(&options.screen_iterations)->default_value(options.screen_iterations),
       "large start grids: Ceres iterations per start before the best --polish-starts "
       "continue (0 = run every start to convergence)")
      ("polish-starts", po::value(&options.polish_starts)->default_value(options.polish_starts),
       "unconverged starts that continue after screening")
      ("bootstrap", po::value(&options.bootstrap)->default_value(0),
       "K bootstrap resamples for 95% percentile intervals (0 = none)")
      ("bootstrap-full-grid", po::bool_switch(&options.bootstrap_full_grid),
       "refit each resample from the full start grid (default: from the full-data optimum)")
      ("seed", po::value(&seed)->default_value(1), "bootstrap seed")
      ("holdout-largest", po::value(&options.holdout_largest)->default_value(0),
       "refit without the K largest N values and report how well they are predicted")
      ("threads", po::value(&options.num_threads)->default_value(0), "threads (0 = all cores)")
      ("stage", po::value(&stage),
       "multi-stage studies: fit this stage's jobs (default: the final stage, the one no other "
       "stage needs; a stage's own axes such as benchmark are averaged)")
      ("filter", po::value(&filters)->composing(),
       "key=value or key=v1,v2 (any of them) on task, method, llm, seed, visual_tokens, "
       "n_params or a setting SECTION.KEY such as train.lr (results file; repeatable)")
      ("group-by", po::value(&group_by)->composing(),
       "KEY[,KEY...]: group by these setting keys besides task and method (default: every "
       "setting that varies between the fitted jobs; required, or a --filter, when a file mixes "
       "runs made with different settings); varied keys left out are pooled, with a warning")
      ("keep-seeds", "keep one point per job instead of averaging seeds (results file)")
      ("per-seed",
       "results file: also fit each seed's points apart and report the spread of alpha and beta "
       "over seeds (JSON key per_seed)")
      ("unweighted",
       "count every seed-averaged point the same (default: weight by the inverse variance of "
       "its seed mean when the seed noise is known)")
      ("brief", "print one line per fit instead of the full report")
      ("json", po::value(&json_path), "write the report as JSON to this file")
      ("check", po::value(&check_path),
       "FIT.json: recompute that fit from its manifest (on the data file given, else the "
       "manifest's source) and exit 1 if the job results, the config or the numbers differ");
  // clang-format on
  po::positional_options_description pos;
  pos.add("results", 1);
  po::variables_map vm;
  bool help = false;
  Status st = ParseArgs(kName, args, desc, pos, &vm, &help);
  if (!st.ok()) return ReportError(kName, st);
  if (help) {
    PrintUsage(desc);
    return kExitOk;
  }
  if (!check_path.empty()) {
    for (const auto& [key, value] : vm) {
      if (!value.defaulted() && key != "check" && key != "results" && key != "threads") {
        return ReportError(
            kName, Status::InvalidInput("--check takes the fit's options from its manifest; --" +
                                        key + " cannot be combined with it (only --threads)"));
      }
    }
    return RunFitCheck(check_path, results, options.num_threads);
  }
  if (results.empty() == csv.empty()) {
    return ReportError(
        kName,
        Status::InvalidInput("give either a results file or --csv FILE (see vlmscale fit --help)"));
  }
  request.csv = !csv.empty();
  request.source = request.csv ? csv : results;
  if (seed < 0) return ReportError(kName, Status::InvalidInput("--seed must be >= 0"));
  options.seed = static_cast<uint64_t>(seed);
  {
    request.auto_model = model == "auto";
    auto m = request.auto_model ? Result<fit::Model>(fit::Model::kMultiplicative)
                                : fit::ParseModel(model);
    if (!m.ok()) {
      return ReportError(kName, Status::InvalidInput("--model: unknown model '" + model +
                                                     "'; use multiplicative, additive, compute, "
                                                     "broken or auto"));
    }
    options.model = *m;
    auto l = fit::ParseLoss(loss);
    if (!l.ok()) return ReportError(kName, l.status().WithPrefix("--loss"));
    options.loss = *l;
    auto s = fit::ParseSpace(space);
    if (!s.ok()) return ReportError(kName, s.status().WithPrefix("--space"));
    options.space = *s;
  }
  for (const auto& b : bounds) {
    st = ParseBound(b, &options);
    if (!st.ok()) return ReportError(kName, st);
  }
  for (const auto& s : starts) {
    st = ParseStart(s, &options);
    if (!st.ok()) return ReportError(kName, st);
  }
  std::string error;
  if (!options.IsValid(&error)) return ReportError(kName, Status::InvalidInput(error));

  if (request.csv) {
    if (!filters.empty() || !group_by.empty() || vm.count("keep-seeds") || vm.count("stage") ||
        vm.count("unweighted")) {
      return ReportError(kName, Status::InvalidInput("--filter, --group-by, --keep-seeds, "
                                                     "--unweighted and --stage apply to results "
                                                     "files, not --csv"));
    }
  } else {
    if (vm.count("text-tokens")) {
      return ReportError(
          kName, Status::InvalidInput("--text-tokens applies to --csv fits; a results file records "
                                      "Q per group"));
    }
    request.grouping.average_seeds = vm.count("keep-seeds") == 0;
    request.grouping.seed_weights = vm.count("unweighted") == 0;
    request.grouping.stage = stage;
    for (const auto& f : filters) {
      auto kv = fit::ParseFilter(f);
      if (!kv.ok()) return ReportError(kName, kv.status().WithPrefix("--filter"));
      request.grouping.filters.push_back(*kv);
    }
    for (const auto& g : group_by) {
      for (const auto& key : SplitTrimmed(g, ',')) request.grouping.group_by.push_back(key);
    }
  }
  auto loaded = LoadInputs(request);
  if (!loaded.ok()) return ReportError(kName, loaded.status());
  bool any_failed = false;
  auto doc = RunFits(request, *loaded, &std::cout, vm.count("brief") > 0, &any_failed);
  if (!doc.ok()) return ReportError(kName, doc.status());
  if (vm.count("per-seed")) {
    auto per_seed = PerSeedFits(request, std::cout);
    if (!per_seed.ok()) return ReportError(kName, per_seed.status());
    (*doc)["per_seed"] = *per_seed;
  }
  if (!vm.count("brief")) std::cout << "\n" << ChecklistText((*doc)["manifest"]["checklist"]);
  if (!json_path.empty()) {
    st = WriteFileAtomically(
        json_path, doc->dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
    if (!st.ok()) return ReportError(kName, st);
  }
  return any_failed ? kExitFailure : kExitOk;
}

}  // namespace

int RunFitCommand(const std::vector<std::string>& args) { return Run(args); }

VLMSCALE_REGISTER_COMMAND("fit", 60, "fit the scaling law Y(N, T) to results or a CSV",
                          RunFitCommand);

}  // namespace vlmscale::cli
