// vlmscale fit: fit the scaling law Y(N, T) to a results file or a CSV (docs/FIT.md).
#include <cmath>
#include <iostream>
#include <limits>
#include <string>
#include <vector>

#include "cli/cli_util.h"
#include "cli/command.h"
#include "core/csv.h"
#include "core/strings.h"
#include "fit/observations.h"
#include "fit/report_json.h"
#include "fit/scaling_law.h"
#include "store/results_store.h"

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
               "       vlmscale fit --csv FILE --n-col NAME --t-col NAME --y-col NAME [options]\n\n"
               "Fits Y = A*N^-alpha*T^-beta + E (multiplicative) or A*N^-alpha + B*T^-beta + E\n"
               "(additive) with Ceres. A results file is fit per (task, method) group, done jobs\n"
               "only, seeds averaged. See docs/FIT.md.\n\n"
            << desc << "\nExit codes: 0 ok, 1 a fit failed numerically, 2 bad input or usage.\n";
}

int Run(const std::vector<std::string>& args) {
  po::options_description desc("Options");
  std::string results, csv, n_col = "N", t_col = "T", y_col = "Y", model = "multiplicative",
                            loss = "squared", space = "linear", json_path;
  std::vector<std::string> bounds, starts, filters;
  std::string stage, fitted_stage;
  fit::FitOptions options;
  int seed = 1;
  // clang-format off
  desc.add_options()
      ("results", po::value(&results), "results file (HDF5) of a sweep")
      ("csv", po::value(&csv), "fit the columns of this CSV file instead")
      ("n-col", po::value(&n_col)->default_value(n_col), "CSV column of N (LLM parameters)")
      ("t-col", po::value(&t_col)->default_value(t_col), "CSV column of T (visual tokens)")
      ("y-col", po::value(&y_col)->default_value(y_col), "CSV column of Y (error)")
      ("model", po::value(&model)->default_value(model), "multiplicative | additive")
      ("loss", po::value(&loss)->default_value(loss), "squared | huber")
      ("space", po::value(&space)->default_value(space),
       "linear | log (residual log(pred) - log(Y))")
      ("huber-delta", po::value(&options.huber_delta)->default_value(options.huber_delta),
       "Huber threshold on the residual")
      ("bound", po::value(&bounds)->composing(),
       "NAME=LO:HI bound override, repeatable (e.g. E=0:0.3, alpha=0:1; empty end = default)")
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
       "key=value on task, method, llm, seed, visual_tokens, n_params (results file; "
       "repeatable)")
      ("keep-seeds", "keep one point per job instead of averaging seeds (results file)")
      ("brief", "print one line per fit instead of the full report")
      ("json", po::value(&json_path), "write the report as JSON to this file");
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
  if (results.empty() == csv.empty()) {
    return ReportError(
        kName,
        Status::InvalidInput("give either a results file or --csv FILE (see vlmscale fit --help)"));
  }
  if (seed < 0) return ReportError(kName, Status::InvalidInput("--seed must be >= 0"));
  options.seed = static_cast<uint64_t>(seed);
  {
    auto m = fit::ParseModel(model);
    if (!m.ok()) return ReportError(kName, m.status().WithPrefix("--model"));
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

  // Inputs: (name, observations) pairs.
  std::vector<std::pair<std::string, fit::Observations>> inputs;
  std::vector<std::pair<std::string, std::string>> groups;
  if (!csv.empty()) {
    if (!filters.empty() || vm.count("keep-seeds") || vm.count("stage")) {
      return ReportError(kName, Status::InvalidInput("--filter, --keep-seeds and --stage apply to "
                                                     "results files, not --csv"));
    }
    auto table = ReadCsvFile(csv);
    if (table.status().code() == Status::Code::kNotFound) {
      return ReportError(kName, Status::InvalidInput(table.status().message()));
    }
    if (!table.ok()) return ReportError(kName, table.status());
    auto obs = fit::ObservationsFromCsv(*table, n_col, t_col, y_col);
    if (!obs.ok()) return ReportError(kName, obs.status());
    inputs.emplace_back("", std::move(*obs));
  } else {
    fit::GroupingOptions grouping;
    grouping.average_seeds = vm.count("keep-seeds") == 0;
    grouping.stage = stage;
    for (const auto& f : filters) {
      auto kv = fit::ParseFilter(f);
      if (!kv.ok()) return ReportError(kName, kv.status().WithPrefix("--filter"));
      grouping.filters.push_back(*kv);
    }
    auto file = store::ReadResults(results);
    if (file.status().code() == Status::Code::kNotFound) {
      return ReportError(
          kName, Status::InvalidInput(file.status().message() + " (check the results file path)"));
    }
    if (!file.ok()) return ReportError(kName, file.status());
    auto grouped = fit::GroupRecords(file->jobs, grouping);
    if (!grouped.ok()) return ReportError(kName, grouped.status().WithPrefix(results));
    fitted_stage = *fit::FinalStage(file->jobs, stage);
    for (auto& g : *grouped) {
      inputs.emplace_back(g.task + "/" + g.method, std::move(g.observations));
      groups.emplace_back(g.task, g.method);
    }
  }

  nlohmann::json fits = nlohmann::json::array();
  bool any_failed = false;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const auto& [name, obs] = inputs[i];
    fit::FitSummary summary;
    st = fit::FitScalingLaw(options, obs, &summary);
    if (!st.ok()) {
      return ReportError(kName, name.empty() ? st : st.WithPrefix("group " + name));
    }
    any_failed = any_failed || !summary.IsSolutionUsable();
    if (!name.empty()) std::cout << "== " << name << " ==\n";
    std::cout << (vm.count("brief") ? summary.BriefReport() + "\n" : summary.FullReport());
    if (!summary.IsSolutionUsable()) {
      std::cerr << "vlmscale fit: error: " << (name.empty() ? "" : name + ": ")
                << "fit failed: " << summary.message << "\n";
    }
    nlohmann::json j = fit::FitSummaryToJson(summary, obs);
    if (!name.empty()) j["group"] = {{"task", groups[i].first}, {"method", groups[i].second}};
    fits.push_back(std::move(j));
  }
  if (!json_path.empty()) {
    nlohmann::json doc =
        csv.empty() ? nlohmann::json{{"fits", fits}, {"source", results}, {"stage", fitted_stage}}
                    : fits[0];
    if (!csv.empty()) doc["source"] = csv;
    st = WriteFileAtomically(
        json_path, doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
    if (!st.ok()) return ReportError(kName, st);
  }
  return any_failed ? kExitFailure : kExitOk;
}

}  // namespace

int RunFitCommand(const std::vector<std::string>& args) { return Run(args); }

VLMSCALE_REGISTER_COMMAND("fit", 60, "fit the scaling law Y(N, T) to results or a CSV",
                          RunFitCommand);

}  // namespace vlmscale::cli
