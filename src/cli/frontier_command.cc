// vlmscale frontier: the inference-optimal (N, T) per FLOPs budget from a fit (docs/FIT.md).
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
      ("text-tokens", po::value(&options.text_tokens), "Q, text tokens per query (required)")
      ("group", po::value(&group), "task/method of the fit to use when the file holds several")
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
    std::cout << "Usage: vlmscale frontier FIT.json --text-tokens Q [options]\n\n"
                 "For budgets C = 2*N*(Q+T) (N in the fit's unit), the (N, T) minimising the\n"
                 "fitted Y, continuous and over the evaluated grid. See docs/FIT.md.\n\n"
              << desc;
    return kExitOk;
  }
  if (fit_path.empty())
    return ReportError(kName, Status::InvalidInput("missing FIT.json argument"));
  if (!vm.count("text-tokens")) {
    return ReportError(kName, Status::InvalidInput("--text-tokens Q is required (0 for none)"));
  }
  auto law = fit::ReadFittedLaw(fit_path, group);
  if (!law.ok()) return ReportError(kName, law.status());
  auto frontier = fit::ComputeFrontier(*law, options);
  if (!frontier.ok()) return ReportError(kName, frontier.status());
  std::cout << fit::FrontierReport(*law, *frontier);
  if (!json_path.empty()) {
    st = WriteFileAtomically(
        json_path, fit::FrontierToJson(*law, *frontier)
                           .dump(2, ' ', false, nlohmann::json::error_handler_t::replace) +
                       "\n");
    if (!st.ok()) return ReportError(kName, st);
  }
  return kExitOk;
}

}  // namespace

int RunFrontierCommand(const std::vector<std::string>& args) { return Run(args); }

VLMSCALE_REGISTER_COMMAND("frontier", 70, "inference-optimal (N, T) per FLOPs budget from a fit",
                          RunFrontierCommand);

}  // namespace vlmscale::cli
