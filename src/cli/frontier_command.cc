// vlmscale frontier: the inference-optimal (N, T) per FLOPs budget from a fit (docs/FIT.md).
#include <cmath>
#include <iostream>
#include <limits>
#include <string>
#include <vector>

#include "cli/cli_util.h"
#include "cli/command.h"
#include "fit/frontier.h"
#include "fit/report_json.h"

namespace vlmscale::cli {
namespace {

constexpr char kName[] = "frontier";

int Run(const std::vector<std::string>& args) {
  po::options_description desc("Options");
  std::string fit_path, group, json_path;
  fit::FrontierOptions options;
  // clang-format off
  desc.add_options()
      ("fit", po::value(&fit_path), "fit JSON written by vlmscale fit --json")
      ("text-tokens", po::value(&options.text_tokens),
       "Q, text tokens per query (default: the sweep's Q recorded in each fit; required for "
       "CSV fits)")
      ("group", po::value(&group), "task/method: only this fit (default: every fit of the file)")
      ("budget-min", po::value(&options.budget_min)->default_value(0),
       "smallest budget C = 2*N*(Q+T) (0 = cheapest evaluated point)")
      ("budget-max", po::value(&options.budget_max)->default_value(0),
       "largest budget (0 = most expensive evaluated point)")
      ("budget", po::value(&options.budgets)->composing(),
       "a budget C to evaluate, repeatable; replaces the log-spaced range")
      ("budgets", po::value(&options.num_budgets)->default_value(options.num_budgets),
       "number of log-spaced budgets")
      ("t-min", po::value(&options.t_min)->default_value(0),
       "smallest T allowed (0 = smallest evaluated)")
      ("t-max", po::value(&options.t_max)->default_value(0),
       "largest T allowed (0 = largest evaluated)")
      ("n-min", po::value(&options.n_min)->default_value(0), "smallest N allowed")
      ("n-max", po::value(&options.n_max), "largest N allowed (default: no limit)")
      ("json", po::value(&json_path), "write the frontier as JSON to this file");
  // clang-format on
  po::positional_options_description pos;
  pos.add("fit", 1);
  po::variables_map vm;
  bool help = false;
  Status st = ParseArgs(kName, args, desc, pos, &vm, &help);
  if (!st.ok()) return ReportError(kName, st);
  if (help) {
    std::cout << "Usage: vlmscale frontier FIT.json [--text-tokens Q] [options]\n\n"
                 "For budgets C = 2*N*(Q+T) (N in the fit's unit), the (N, T) minimising the\n"
                 "fitted Y, continuous and over the evaluated grid, for every fit of the file\n"
                 "(or --group). Q defaults to the sweep's, recorded in the fit. A fit made with\n"
                 "--bootstrap K also gives 95% bands of N*, T* and Y from its resamples.\n"
                 "See docs/FIT.md.\n\n"
              << desc;
    return kExitOk;
  }
  if (fit_path.empty())
    return ReportError(kName, Status::InvalidInput("missing FIT.json argument"));
  auto laws = fit::ReadFittedLaws(fit_path, group);
  if (!laws.ok()) return ReportError(kName, laws.status());
  const bool given_q = vm.count("text-tokens") > 0;
  std::vector<nlohmann::json> docs;
  for (const auto& law : *laws) {
    fit::FrontierOptions o = options;
    if (!given_q) {
      if (!std::isfinite(law.text_tokens)) {
        return ReportError(
            kName, Status::InvalidInput(
                       fit_path + (law.name.empty() ? "" : " (group " + law.name + ")") +
                       ": the fit records no Q ('text_tokens'; CSV fits and fits of jobs that "
                       "record no inference FLOPs have none); give --text-tokens Q (0 for "
                       "none)"));
      }
      o.text_tokens = law.text_tokens;
    }
    auto frontier = fit::ComputeFrontier(law, o);
    if (!frontier.ok()) {
      return ReportError(
          kName, law.name.empty() ? frontier.status() : frontier.status().WithPrefix(law.name));
    }
    if (laws->size() > 1) std::cout << "== " << law.name << " ==\n";
    std::cout << fit::FrontierReport(law, *frontier)
              << (given_q || !std::isfinite(law.text_tokens)
                      ? ""
                      : "  (Q from the fit: the sweep's text tokens per query)\n");
    docs.push_back(fit::FrontierToJson(law, *frontier));
  }
  if (!json_path.empty()) {
    nlohmann::json out = docs.size() == 1 ? docs[0] : nlohmann::json{{"frontiers", docs}};
    st = WriteFileAtomically(
        json_path, out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
    if (!st.ok()) return ReportError(kName, st);
  }
  return kExitOk;
}

}  // namespace

int RunFrontierCommand(const std::vector<std::string>& args) { return Run(args); }

VLMSCALE_REGISTER_COMMAND("frontier", 70, "inference-optimal (N, T) per FLOPs budget from a fit",
                          RunFrontierCommand);

}  // namespace vlmscale::cli
