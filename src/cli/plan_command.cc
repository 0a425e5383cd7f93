// vlmscale plan CONFIG [--set k=v]... [--json]: validates a config and prints its grid.
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/cli_util.h"
#include "cli/command.h"
#include "config/config.h"
#include "config/adaptive.h"
#include "config/sweep.h"
#include "core/strings.h"
#include "driver/adaptive_controller.h"
#include "jobs/job_type.h"

namespace vlmscale::cli {
namespace {

// "benchmark=gqa,split=val" for a job's own axes ("" for none).
std::string OwnAxes(const config::GridPoint& p) {
  std::vector<std::string> parts;
  for (const auto& [name, value] : p.axes) parts.push_back(name + "=" + value);
  return Join(parts, ",");
}

std::string StageLine(const config::Sweep& sweep, const config::StageSpec& st) {
  std::string line = "stage " + st.name + ": " + std::to_string(st.job_count) + " jobs of type " +
                     st.job_type + " over " + (st.over.empty() ? "-" : Join(st.over, ", "));
  if (!st.swept.empty()) line += ", " + Join(st.swept, ", ");
  for (const auto& [name, values] : st.axes) line += ", " + name + " (" + Join(values, ", ") + ")";
  if (!st.needs.empty()) {
    line += "; needs " + Join(st.needs, ", ");
    int64_t edges = 0;
    for (int64_t i = st.first_job; i < st.first_job + st.job_count; ++i) {
      edges += static_cast<int64_t>(sweep.jobs[i].parents.size());
    }
    line += " (" + std::to_string(edges) + " edges)";
  }
  return line;
}

// An adaptive sweep's first round as `run` makes it (docs/ADAPTIVE.md): "initial" (a candidate
// of the initial design), "needed" (an earlier stage's job it needs) or "withheld".
std::string DesignRole(const config::Sweep& sweep, const config::AdaptiveSettings& settings,
                       const driver::AdaptiveController& design, int64_t i) {
  if (!design.released(i)) return "withheld";
  return sweep.jobs[i].stage == settings.stage ? "initial" : "needed";
}

// The adaptive footer: candidates, the initial design and its cost against the budget.
void PrintDesign(const config::Sweep& sweep, const config::AdaptiveSettings& s,
                 const driver::AdaptiveController& design) {
  int64_t initial = 0, needed = 0;
  double cost = 0;
  for (const auto& j : sweep.jobs) {
    if (!design.released(j.index)) continue;
    (j.stage == s.stage ? initial : needed) += 1;
    cost += j.est_cost;
  }
  const config::StageSpec& st = sweep.stages[s.stage];
  std::string budget = "no budget";
  if (s.budget_flops > 0) budget = "budget " + HumanCount(s.budget_flops) + " FLOPs";
  if (s.budget_jobs > 0) budget = "budget " + std::to_string(s.budget_jobs) + " jobs";
  std::printf("\nadaptive design (docs/ADAPTIVE.md): target %s, tolerance %s; %lld candidate(s)%s; "
              "the initial design runs %lld of them%s, estimated training %s FLOPs (%s); the "
              "rest are withheld and chosen in rounds of up to %d\n",
              s.target == config::AdaptiveTargetKind::kError ? "error" : "frontier",
              FormatNumber(s.tolerance).c_str(), static_cast<long long>(st.job_count),
              sweep.multi_stage() ? (" (stage " + st.name + ")").c_str() : "",
              static_cast<long long>(initial),
              needed > 0 ? (" and " + std::to_string(needed) + " job(s) of earlier stages they "
                                                                "need")
                               .c_str()
                         : "",
              HumanCount(cost).c_str(), budget.c_str(), s.batch);
}

void PrintTable(const config::Sweep& sweep, const config::AdaptiveSettings& adaptive,
                const driver::AdaptiveController* design) {
  if (sweep.multi_stage()) {
    std::printf("sweep %s: %zu jobs in %zu stages -> %s\n", sweep.name.c_str(), sweep.jobs.size(),
                sweep.stages.size(), sweep.output.c_str());
  } else {
    std::printf("sweep %s: %zu jobs of type %s -> %s\n", sweep.name.c_str(), sweep.jobs.size(),
                sweep.stages.front().job_type.c_str(), sweep.output.c_str());
  }
  double train = 0, infer = 0;
  for (const auto& st : sweep.stages) {
    if (sweep.multi_stage()) std::printf("\n%s\n", StageLine(sweep, st).c_str());
    std::printf("\n%-16s  %-10s  %9s  %6s  %-11s  %-7s  %5s  %11s  %11s  %5s", "job_id", "llm", "N",
                "V", "method", "task", "seed", "train_flops", "infer_flops", "ranks");
    for (const auto& key : st.swept) std::printf("  %-12s", key.c_str());
    if (design != nullptr) std::printf("  %-8s", "design");
    if (sweep.multi_stage()) std::printf("  %-14s  %s", "axes", "needs");
    std::printf("\n");
    for (int64_t i = st.first_job; i < st.first_job + st.job_count; ++i) {
      const config::JobSpec& j = sweep.jobs[i];
      auto text = [&](const std::string& axis, const std::string& value) {
        return st.Varies(axis) ? value : std::string("-");
      };
      std::printf("%-16s  %-10s  %9s  %6s  %-11s  %-7s  %5s  %11s  %11s  %5d", j.id.c_str(),
                  text("llm", j.point.llm).c_str(),
                  text("llm", HumanCount(j.point.n_params)).c_str(),
                  text("visual_tokens", std::to_string(j.point.visual_tokens)).c_str(),
                  text("method", j.point.method).c_str(), text("task", j.point.task).c_str(),
                  text("seed", std::to_string(j.point.seed)).c_str(),
                  HumanCount(j.est_cost).c_str(), HumanCount(j.inference_flops).c_str(), j.ranks);
      for (const auto& key : st.swept) {
        std::printf("  %-12s", config::AxisValue(j.point, key).c_str());
      }
      if (design != nullptr) {
        std::printf("  %-8s", DesignRole(sweep, adaptive, *design, i).c_str());
      }
      if (sweep.multi_stage()) {
        std::vector<std::string> needs;
        for (int64_t p : j.parents) needs.push_back(sweep.jobs[p].id);
        std::printf("  %-14s  %s", OwnAxes(j.point).empty() ? "-" : OwnAxes(j.point).c_str(),
                    needs.empty() ? "-" : Join(needs, ",").c_str());
      }
      std::printf("\n");
      train += j.est_cost;
      infer += j.inference_flops;
    }
  }
  std::printf("\ntotal: %zu jobs, estimated training %s FLOPs, inference %s FLOPs per sample "
              "summed over jobs\n",
              sweep.jobs.size(), HumanCount(train).c_str(), HumanCount(infer).c_str());
  if (design != nullptr) PrintDesign(sweep, adaptive, *design);
}

// A Graphviz digraph of the stages: a node per stage (type, axes, jobs), an edge per need.
std::string StageDot(const config::Sweep& sweep) {
  auto quote = [](const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    return out + "\"";
  };
  std::string dot = "digraph " + quote(sweep.name) + " {\n  rankdir=LR;\n  node [shape=box];\n";
  for (const auto& st : sweep.stages) {
    std::string id = st.name.empty() ? "jobs" : st.name;
    std::string label = id + "\\n" + st.job_type + ", " + std::to_string(st.job_count) +
                        " jobs\\nover " + (st.over.empty() ? "-" : Join(st.over, ", "));
    for (const auto& [axis, values] : st.axes) {
      label += "\\n" + axis + ": " + Join(values, ", ");
    }
    std::string escaped;  // quote() would escape the \n line breaks of the label.
    for (char c : label) escaped += c == '"' ? std::string("\\\"") : std::string(1, c);
    dot += "  " + quote(id) + " [label=\"" + escaped + "\"];\n";
  }
  for (const auto& st : sweep.stages) {
    for (const auto& need : st.needs) {
      dot += "  " + quote(need) + " -> " + quote(st.name) + ";\n";
    }
  }
  return dot + "}\n";
}

int RunPlanCommand(const std::vector<std::string>& args) {
  po::options_description options("vlmscale plan CONFIG [options]\n\nValidates CONFIG and prints "
                                   "the expanded grid with costs");
  std::vector<std::string> sets;
  std::string config_path;
  options.add_options()
      ("config", po::value(&config_path)->required(), "sweep config file (.ini)")
      ("set", po::value(&sets)->composing(), "override section.key=value (repeatable)")
      ("json", po::bool_switch(), "print a JSON array of jobs instead of the table")
      ("dot", po::bool_switch(), "print a Graphviz graph of the stages (dot -Tsvg) instead");
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
  // An adaptive sweep: its initial design, made (and checked against the budget) as `run` does.
  Result<config::AdaptiveSettings> adaptive = config::ReadAdaptiveSettings(*cfg, *sweep);
  if (!adaptive.ok()) return ReportError("plan", adaptive.status());
  std::unique_ptr<driver::AdaptiveController> design;
  if (adaptive->enabled()) {
    Result<std::unique_ptr<driver::AdaptiveController>> made =
        driver::AdaptiveController::Create(*sweep, *adaptive, "");
    if (!made.ok()) return ReportError("plan", made.status());
    design = std::move(*made);
  }
  if (vm["dot"].as<bool>()) {
    std::cout << StageDot(*sweep);
  } else if (vm["json"].as<bool>()) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& j : sweep->jobs) {
      nlohmann::json needs = nlohmann::json::array();
      for (int64_t p : j.parents) needs.push_back(sweep->jobs[p].id);
      nlohmann::json axes = nlohmann::json::object();
      for (const auto& [name, value] : j.point.axes) axes[name] = value;
      nlohmann::json settings = nlohmann::json::object();
      for (const auto& [name, value] : j.point.settings) settings[name] = value;
      out.push_back({{"job_id", j.id},
                     {"stage", sweep->stage_of(j).name},
                     {"job_type", sweep->stage_of(j).job_type},
                     {"needs", needs},
                     {"axes", axes},
                     {"settings", settings},
                     {"llm", j.point.llm},
                     {"n_params", j.point.n_params},
                     {"visual_tokens", j.point.visual_tokens},
                     {"method", j.point.method},
                     {"task", j.point.task},
                     {"seed", j.point.seed},
                     {"text_tokens", j.text_tokens},
                     {"est_cost", j.est_cost},
                     {"inference_flops", j.inference_flops},
                     {"ranks", j.ranks}});
      if (design != nullptr) {
        out.back()["design"] = DesignRole(*sweep, *adaptive, *design, j.index);
      }
    }
    std::cout << out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
  } else {
    PrintTable(*sweep, *adaptive, design.get());
  }
  return kExitOk;
}

}  // namespace

VLMSCALE_REGISTER_COMMAND("plan", 10, "validate a sweep config and print its grid and costs",
                          RunPlanCommand);

}  // namespace vlmscale::cli
