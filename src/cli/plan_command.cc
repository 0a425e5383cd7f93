// vlmscale plan CONFIG [--set k=v]... [--json]: validates a config and prints its grid.
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/cli_util.h"
#include "cli/command.h"
#include "config/config.h"
#include "config/sweep.h"
#include "jobs/job_type.h"
#include "core/strings.h"

namespace vlmscale::cli {
namespace {

void PrintTable(const config::Sweep& sweep) {
  std::printf("sweep %s: %zu jobs of type %s -> %s\n\n", sweep.name.c_str(), sweep.jobs.size(),
              sweep.job_type.c_str(), sweep.output.c_str());
  std::printf("%-16s  %-10s  %9s  %6s  %-11s  %-7s  %5s  %11s  %11s\n", "job_id", "llm", "N",
              "V", "method", "task", "seed", "train_flops", "infer_flops");
  double train = 0, infer = 0;
  for (const auto& j : sweep.jobs) {
    std::printf("%-16s  %-10s  %9s  %6lld  %-11s  %-7s  %5lld  %11s  %11s\n", j.id.c_str(),
                j.point.llm.c_str(), HumanCount(j.point.n_params).c_str(),
                static_cast<long long>(j.point.visual_tokens), j.point.method.c_str(),
                j.point.task.c_str(), static_cast<long long>(j.point.seed),
                HumanCount(j.est_cost).c_str(), HumanCount(j.inference_flops).c_str());
    train += j.est_cost;
    infer += j.inference_flops;
  }
  std::printf("\ntotal: %zu jobs, estimated training %s FLOPs, inference %s FLOPs per sample "
              "summed over jobs\n",
              sweep.jobs.size(), HumanCount(train).c_str(), HumanCount(infer).c_str());
}

int RunPlanCommand(const std::vector<std::string>& args) {
  po::options_description options("vlmscale plan CONFIG [options]\n\nValidates CONFIG and prints "
                                   "the expanded grid with costs");
  std::vector<std::string> sets;
  std::string config_path;
  options.add_options()
      ("config", po::value(&config_path)->required(), "sweep config file (.ini)")
      ("set", po::value(&sets)->composing(), "override section.key=value (repeatable)")
      ("json", po::bool_switch(), "print a JSON array of jobs instead of the table");
  po::positional_options_description positional;
  positional.add("config", 1);
  po::variables_map vm;
  bool help = false;
  Status s = ParseArgs("plan", args, options, positional, &vm, &help);
  if (help) {
    std::cout << options << "\n";
    return kExitOk;
  }
  if (!s.ok()) return ReportError("plan", s);
  Result<config::Config> cfg = jobs::LoadConfig(config_path, sets);
  if (!cfg.ok()) return ReportError("plan", cfg.status());
  Result<config::Sweep> sweep = jobs::PlanSweep(*cfg);
  if (!sweep.ok()) return ReportError("plan", sweep.status());
  if (vm["json"].as<bool>()) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& j : sweep->jobs) {
      out.push_back({{"job_id", j.id},
                     {"llm", j.point.llm},
                     {"n_params", j.point.n_params},
                     {"visual_tokens", j.point.visual_tokens},
                     {"method", j.point.method},
                     {"task", j.point.task},
                     {"seed", j.point.seed},
                     {"text_tokens", j.text_tokens},
                     {"est_cost", j.est_cost},
                     {"inference_flops", j.inference_flops}});
    }
    std::cout << out.dump(2) << std::endl;
  } else {
    PrintTable(*sweep);
  }
  return kExitOk;
}

}  // namespace

VLMSCALE_REGISTER_COMMAND("plan", 10, "validate a sweep config and print its grid and costs",
                          RunPlanCommand);

}  // namespace vlmscale::cli
