// Timings of the scaling-law fitter (bench/fit/run.sh prints them next to their targets and the
// scipy comparison). Usage: fit_bench OUT_DIR [--threads K]. Writes OUT_DIR/bench_250.csv (the
// 250-point data set, for scipy) and OUT_DIR/fit_bench.json (figures).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "core/csv.h"
#include "fit/frontier.h"
#include "fit/model_selection.h"
#include "fit/observations.h"
#include "fit/report_json.h"
#include "fit/scaling_law.h"

namespace vlmscale::fit {
namespace {

double Seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// 250 points of the additive law with Chinchilla's published parameters (Hoffmann et al. 2022:
// A=406.4, alpha=0.34, B=410.7, beta=0.28, E=1.69), N log-uniform in [7e7, 1.6e10], T in [1e9,
// 5e11], log-normal noise of sd 0.02: the regime the published start grid was built for.
Observations Bench250() {
  std::mt19937_64 rng(20240917);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::normal_distribution<double> g(0.0, 0.02);
  const LawParams truth = {406.4, 0.34, 410.7, 0.28, 1.69};
  Observations obs;
  for (int i = 0; i < 250; ++i) {
    double n = std::exp(std::log(7e7) + u(rng) * (std::log(1.6e10) - std::log(7e7)));
    double t = std::exp(std::log(1e9) + u(rng) * (std::log(5e11) - std::log(1e9)));
    obs.Add(n, t, Predict(Model::kAdditive, truth, n, t) * std::exp(g(rng)));
  }
  return obs;
}

int Main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: fit_bench OUT_DIR [--threads K]\n";
    return 2;
  }
  const std::string out_dir = argv[1];
  int threads = 2;
  if (argc >= 4 && std::string(argv[2]) == "--threads") threads = std::atoi(argv[3]);
  nlohmann::json out;
  out["threads"] = threads;
  double load[3] = {0, 0, 0};
  if (getloadavg(load, 3) == 3) out["load_at_start"] = {load[0], load[1], load[2]};

  auto table =
      ReadCsvFile(std::string(VLMSCALE_SOURCE_DIR) + "/tests/data/vlm_2411.03312_reasoning.csv");
  if (!table.ok()) {
    std::cerr << table.status().ToString() << "\n";
    return 1;
  }
  Observations paper =
      *ObservationsFromCsv(*table, "N_llm_params_billion", "T_visual_tokens", "Y_error");

  // 1. One multiplicative fit of the 28 points with the default starts.
  {
    FitOptions o;
    o.num_threads = threads;
    std::vector<double> times;
    FitSummary s;
    for (int rep = 0; rep < 21; ++rep) {
      auto t0 = std::chrono::steady_clock::now();
      FitScalingLaw(o, paper, &s);
      times.push_back(Seconds(t0));
    }
    out["paper_fit"] = {{"seconds_median", Median(times)},
                        {"seconds_min", *std::min_element(times.begin(), times.end())},
                        {"starts", s.num_starts},
                        {"sse", s.sse},
                        {"alpha", s.params.alpha},
                        {"beta", s.params.beta}};
  }
  // 2. The 4,500-start additive Huber fit of 250 points.
  {
    Observations obs = Bench250();
    std::ofstream csv(out_dir + "/bench_250.csv");
    csv.precision(17);
    csv << "N,T,Y\n";
    for (size_t i = 0; i < obs.size(); ++i)
      csv << obs.n[i] << "," << obs.t[i] << "," << obs.y[i] << "\n";
    FitOptions o;
    o.model = Model::kAdditive;
    o.loss = Loss::kHuber;
    o.space = Space::kLog;
    o.num_threads = threads;
    std::vector<double> times, cpu;
    FitSummary s;
    for (int rep = 0; rep < 3; ++rep) {
      auto t0 = std::chrono::steady_clock::now();
      std::clock_t c0 = std::clock();
      FitScalingLaw(o, obs, &s);
      times.push_back(Seconds(t0));
      cpu.push_back(static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC);
    }
    // The same grid with every start run to convergence (no screening), once.
    FitOptions full = o;
    full.screen_iterations = 0;
    FitSummary fs;
    auto t0 = std::chrono::steady_clock::now();
    std::clock_t c0 = std::clock();
    FitScalingLaw(full, obs, &fs);
    out["huber_250_unscreened"] = {
        {"seconds", Seconds(t0)},
        {"cpu_seconds", static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC},
        {"objective", fs.objective}};
    out["huber_250"] = {{"seconds_median", Median(times)},
                        {"cpu_seconds_median", Median(cpu)},
                        {"seconds_min", *std::min_element(times.begin(), times.end())},
                        {"starts", s.num_starts},
                        {"objective", s.objective},
                        {"params",
                         {{"A", s.params.A},
                          {"alpha", s.params.alpha},
                          {"B", s.params.B},
                          {"beta", s.params.beta},
                          {"E", s.params.E}}}};
  }
  // 3. 1,000 bootstrap resamples of the 28-point fit.
  {
    FitOptions o;
    o.num_threads = threads;
    o.bootstrap = 1000;
    o.compute_stderr = false;
    std::vector<double> times, boot;
    FitSummary s;
    for (int rep = 0; rep < 3; ++rep) {
      auto t0 = std::chrono::steady_clock::now();
      FitScalingLaw(o, paper, &s);
      times.push_back(Seconds(t0));
      boot.push_back(s.bootstrap_seconds);
    }
    out["bootstrap_1000"] = {{"seconds_median", Median(times)},
                             {"bootstrap_seconds_median", Median(boot)},
                             {"resamples", s.bootstrap_resamples},
                             {"alpha_ci", {s.ci_lower.alpha, s.ci_upper.alpha}}};
  }
  // 4. --model auto on the same 28 points with 1,000 resamples: every form fit (with its hold-out
  // refit), then the winner refit with the bootstrap, as `vlmscale fit --model auto` does. Q = 50
  // (the seed paper's text tokens) defines the compute law's C.
  {
    FitOptions o;
    o.num_threads = threads;
    o.bootstrap = 1000;
    o.compute_stderr = false;
    o.text_tokens = 50;
    std::vector<double> times, select, cpu, boot;
    FitSummary s;
    ModelSelection sel;
    for (int rep = 0; rep < 3; ++rep) {
      auto t0 = std::chrono::steady_clock::now();
      std::clock_t c0 = std::clock();
      SelectModel(o, paper, &sel);
      select.push_back(Seconds(t0));
      FitOptions w = o;
      w.model = sel.forms[sel.winner].model;
      FitScalingLaw(w, paper, &s);
      times.push_back(Seconds(t0));
      cpu.push_back(static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC);
      boot.push_back(s.bootstrap_seconds);
    }
    out["auto_bootstrap_1000"] = {{"seconds_median", Median(times)},
                                  {"cpu_seconds_median", Median(cpu)},
                                  {"selection_seconds_median", Median(select)},
                                  {"bootstrap_seconds_median", Median(boot)},
                                  {"winner", ModelName(sel.forms[sel.winner].model)},
                                  {"resamples", s.bootstrap_resamples}};
    // 5. The frontier's bands from those resamples (each resample's own optimum at 12 budgets),
    // read back from the fit JSON as `vlmscale frontier` does.
    auto law = FittedLawFromJson(FitSummaryToJson(s, paper));
    if (!law.ok()) {
      std::cerr << law.status().ToString() << "\n";
      return 1;
    }
    FrontierOptions fo;
    fo.text_tokens = 50;
    std::vector<double> ftimes;
    Frontier fr;
    for (int rep = 0; rep < 5; ++rep) {
      auto t0 = std::chrono::steady_clock::now();
      fr = *ComputeFrontier(*law, fo);
      ftimes.push_back(Seconds(t0));
    }
    out["frontier_bands_1000"] = {
        {"seconds_median", Median(ftimes)},
        {"budgets", fr.points.size()},
        {"resamples", fr.band_resamples},
        {"t_band_first_budget", {fr.points[0].band.t.lower, fr.points[0].band.t.upper}}};
  }
  std::ofstream(out_dir + "/fit_bench.json") << out.dump(2) << "\n";
  std::cout << out.dump(2) << "\n";
  return 0;
}

}  // namespace
}  // namespace vlmscale::fit

int main(int argc, char** argv) { return vlmscale::fit::Main(argc, argv); }
