// The adaptive design against the full grid and a random design (issue 20's benchmark), side by
// side from one run. Simulated: the truth is the multiplicative law fitted to the seed paper's
// 28 points, each job's Y is the truth plus Gaussian noise, its cost the cost model's
// 2 N (Q + V) inference FLOPs per query, its duration that cost scaled so the dearest job takes
// 1 s, and the makespan is the list schedule of the jobs on W workers (the adaptive design waits
// for each batch before choosing the next). No driver runs: the coordinator loop is not wired yet.
//
// Usage: adaptive_bench [--runs R] [--workers W] [--noise SD] [--batch B] [--replicates K]
//                       [--bootstrap B] [--threads T] [--initial-spread S]
//                       [--n-unit U] [--seed-innermost 0|1] [--seed-base S] [--y-file PATH]
// The last four reproduce a sweep through the driver (bench/driver/adaptive_run_bench.py) for a
// like-with-like comparison: candidates' N in units of U (the driver: parameters, 1e9), the
// replicates innermost in the grid's order (the driver's job order), the bootstrap seed of run r
// S + r (the driver bench: the draw, 1 + r), and each job's Y read from PATH (CSV: run, N in
// billions, T, replicate, Y; bench/fit/trainer_draws.py writes the fake trainer's draws) instead
// of drawn here.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "core/csv.h"
#include "fit/adaptive_design.h"
#include "fit/observations.h"
#include "fit/scaling_law.h"

namespace vlmscale::fit {
namespace {

constexpr double kQ = 50.0;

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty()      ? std::nan("")
         : v.size() % 2 ? v[v.size() / 2]
                        : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

// Longest-processing-time list schedule of `durations` on `workers`: the finishing time.
double Makespan(std::vector<double> durations, int workers) {
  std::sort(durations.rbegin(), durations.rend());
  std::vector<double> free_at(workers, 0.0);
  for (double d : durations) {
    auto it = std::min_element(free_at.begin(), free_at.end());
    *it += d;
  }
  return durations.empty() ? 0.0 : *std::max_element(free_at.begin(), free_at.end());
}

void Emit(const std::string& figure, const std::string& value, const std::string& target,
          const std::string& comparison, const std::string& ratio) {
  const char* path = std::getenv("VLMSCALE_BENCH_JSONL");
  if (path == nullptr || *path == '\0') return;
  nlohmann::json line = {{"bench", "adaptive"}, {"figure", figure},         {"value", value},
                         {"target", target},    {"comparison", comparison}, {"ratio", ratio}};
  std::FILE* f = std::fopen(path, "a");
  if (f == nullptr) return;
  std::fprintf(f, "%s\n", line.dump().c_str());
  std::fclose(f);
}

std::string Fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), format, v);
  return buf;
}

struct Outcome {
  int jobs = 0;
  double flops = 0.0;
  double makespan = 0.0;
  double width = 0.0;
  bool reached = false;  // Width at most the full grid's.
  bool covered = false;  // The final interval holds the true T*.
  double rounds = 0;
  double engine_seconds = 0.0;  // Fits and scoring.
  double fit_seconds = 0.0;     // Of which the fits with their bootstrap.
  double score_seconds = 0.0;   // Of which the delta-method scoring.
};

int Main(int argc, char** argv) {
  int runs = 10, workers = 8, batch = 4, replicates = 2, bootstrap = 200, threads = 2;
  int initial_spread = AdaptiveOptions().initial_spread;
  int seed_innermost = 0, seed_base = 7;
  double noise = 0.004, n_unit = 1.0;
  std::string y_file;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    const std::pair<const char*, int*> int_flags[] = {{"--runs", &runs},
                                                      {"--workers", &workers},
                                                      {"--batch", &batch},
                                                      {"--replicates", &replicates},
                                                      {"--bootstrap", &bootstrap},
                                                      {"--threads", &threads},
                                                      {"--initial-spread", &initial_spread},
                                                      {"--seed-innermost", &seed_innermost},
                                                      {"--seed-base", &seed_base}};
    bool known = a == "--noise" || a == "--n-unit" || a == "--y-file";
    if (a == "--noise") noise = std::atof(argv[i + 1]);
    if (a == "--n-unit") n_unit = std::atof(argv[i + 1]);
    if (a == "--y-file") y_file = argv[i + 1];
    for (const auto& [name, value] : int_flags) {
      if (a == name) {
        *value = std::atoi(argv[i + 1]);
        known = true;
      }
    }
    if (!known) {
      std::cerr << "adaptive_bench: unknown flag " << a << "\n";
      return 2;
    }
  }
  auto table =
      ReadCsvFile(std::string(VLMSCALE_SOURCE_DIR) + "/tests/data/vlm_2411.03312_reasoning.csv");
  if (!table.ok()) {
    std::cerr << table.status().ToString() << "\n";
    return 1;
  }
  FitSummary paper_fit;
  if (!FitScalingLaw(
           FitOptions(),
           *ObservationsFromCsv(*table, "N_llm_params_billion", "T_visual_tokens", "Y_error"),
           &paper_fit)
           .ok()) {
    std::cerr << "the paper fit failed\n";
    return 1;
  }
  const LawParams truth = paper_fit.params;
  const double t_star = MultiplicativeOptimalT(truth.alpha, truth.beta, kQ, 1, 576);

  // The paper grid: Qwen-1.5 sizes x visual tokens, `replicates` seeds per point.
  // n_billion[i], replicate[i]: candidate i's N in billions and its replicate (seed).
  std::vector<DesignCandidate> grid;
  std::vector<double> n_billion;
  std::vector<int> replicate;
  auto add = [&](int r, double n, double t) {
    grid.push_back({n * n_unit, t, 2.0 * n * 1e9 * (kQ + t)});
    n_billion.push_back(n);
    replicate.push_back(r);
  };
  for (int r = 0; r < (seed_innermost ? 1 : replicates); ++r) {
    for (double n : {0.5, 1.8, 4.0, 7.0, 14.0}) {
      for (double t : {1.0, 4.0, 16.0, 36.0, 64.0, 144.0, 576.0}) {
        if (!seed_innermost) add(r, n, t);
        for (int k = 0; seed_innermost && k < replicates; ++k) add(k, n, t);
      }
    }
  }
  // Y per (run, N in billions, T, replicate) from --y-file.
  std::map<std::tuple<int, double, double, int>, double> given_y;
  if (!y_file.empty()) {
    auto ys = ReadCsvFile(y_file);
    if (!ys.ok()) {
      std::cerr << ys.status().ToString() << "\n";
      return 2;
    }
    if (ys->header().size() != 5) {
      std::cerr << y_file << ": needs 5 columns (run, n, t, replicate, y)\n";
      return 2;
    }
    for (size_t i = 0; i < ys->num_rows(); ++i) {
      const auto& row = ys->row(i);
      given_y[{std::atoi(row[0].c_str()), std::atof(row[1].c_str()), std::atof(row[2].c_str()),
               std::atoi(row[3].c_str())}] = std::atof(row[4].c_str());
    }
  }
  double max_cost = 0.0, total_cost = 0.0;
  for (const auto& c : grid) {
    max_cost = std::max(max_cost, c.cost);
    total_cost += c.cost;
  }
  auto duration = [&](size_t i) { return grid[i].cost / max_cost; };  // Dearest job: 1 s.

  AdaptiveOptions base;
  base.target.frontier.text_tokens = kQ;
  base.target.frontier.budgets = {1e12};  // Any: this law's T* does not depend on the budget.
  base.fit.bootstrap = bootstrap;
  base.fit.num_threads = threads;
  base.batch = batch;
  base.initial_spread = initial_spread;

  std::printf("truth: Y = %.4g N^-%.4f T^-%.4f + %.4g (the paper fit), Q = %.0f, true T* = %.2f\n",
              truth.A, truth.alpha, truth.beta, truth.E, kQ, t_star);
  std::printf(
      "grid: N {0.5,1.8,4,7,14}B x V {1..576} x %d seeds = %zu jobs, %.3g FLOPs per "
      "query summed, noise sd %.4f, %d workers, %d runs, batch %d, bootstrap %d\n\n",
      replicates, grid.size(), total_cost, noise, workers, runs, batch, bootstrap);

  std::vector<Outcome> full(runs), adaptive(runs), random_same(runs), random_reach(runs);
  for (int r = 0; r < runs; ++r) {
    std::mt19937_64 rng(1000 + r);
    std::normal_distribution<double> gauss(0.0, noise);
    std::vector<double> y(grid.size());
    for (size_t i = 0; i < grid.size(); ++i) {
      y[i] = Predict(Model::kMultiplicative, truth, n_billion[i], grid[i].t) + gauss(rng);
      if (!y_file.empty()) {
        auto it = given_y.find({r, n_billion[i], grid[i].t, replicate[i]});
        if (it == given_y.end()) {
          std::cerr << y_file << ": no Y for run " << r << ", N " << n_billion[i] << " B, T "
                    << grid[i].t << ", replicate " << replicate[i] << "\n";
          return 2;
        }
        y[i] = it->second;
      }
    }
    AdaptiveOptions o = base;
    o.fit.seed = seed_base + r;
    // Fits a set of points: the engine's own fit and target interval (as the decision sees it).
    auto width_of = [&](const std::vector<size_t>& points, Outcome* out) {
      std::vector<DesignResult> results;
      for (size_t i : points) results.push_back({i, y[i]});
      AdaptiveOptions probe = o;
      probe.tolerance = 1e300;  // Fit and measure only.
      const auto t0 = std::chrono::steady_clock::now();
      auto d = NextRound(grid, results, {}, probe);
      out->engine_seconds +=
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      out->jobs = static_cast<int>(points.size());
      out->flops = 0.0;
      for (size_t i : points) out->flops += grid[i].cost;
      if (!d.ok() || !d->fitted) {
        out->width = INFINITY;
        return;
      }
      out->width = d->width;
      out->covered = d->target[0].lower <= t_star && t_star <= d->target[0].upper;
    };

    // 1. The full grid, run at once.
    std::vector<size_t> all(grid.size());
    std::iota(all.begin(), all.end(), 0);
    width_of(all, &full[r]);
    std::vector<double> durs;
    for (size_t i : all) durs.push_back(duration(i));
    full[r].makespan = Makespan(durs, workers);
    full[r].reached = true;
    full[r].rounds = 1;
    const double goal = full[r].width;

    // 2. Adaptive, to the full grid's width.
    {
      Outcome& a = adaptive[r];
      o.tolerance = goal;
      std::vector<size_t> order = *InitialDesign(grid, o);
      std::vector<size_t> batch_points = order;
      while (true) {
        durs.clear();
        for (size_t i : batch_points) durs.push_back(duration(i));
        a.makespan += Makespan(durs, workers);
        std::vector<DesignResult> results;
        for (size_t i : order) results.push_back({i, y[i]});
        const auto t0 = std::chrono::steady_clock::now();
        auto d = NextRound(grid, results, {}, o);
        a.engine_seconds +=
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        ++a.rounds;
        if (!d.ok()) {
          std::cerr << d.status().ToString() << "\n";
          return 1;
        }
        a.fit_seconds += d->fit.solve_seconds + d->fit.bootstrap_seconds;
        a.score_seconds += d->score_seconds;
        if (d->stop != StopReason::kContinue) {
          a.width = d->width;
          a.reached = d->stop == StopReason::kTolerance;
          a.covered = d->fitted && d->target[0].lower <= t_star && t_star <= d->target[0].upper;
          break;
        }
        batch_points = d->chosen;
        order.insert(order.end(), d->chosen.begin(), d->chosen.end());
      }
      a.jobs = static_cast<int>(order.size());
      for (size_t i : order) a.flops += grid[i].cost;
    }

    // 3. Random designs: a random order of the grid (same seed per run).
    std::vector<size_t> perm = all;
    std::shuffle(perm.begin(), perm.end(), rng);
    {
      std::vector<size_t> pts(perm.begin(), perm.begin() + adaptive[r].jobs);
      width_of(pts, &random_same[r]);
      random_same[r].reached = random_same[r].width <= goal;
      durs.clear();
      for (size_t i : pts) durs.push_back(duration(i));
      random_same[r].makespan = Makespan(durs, workers);
      random_same[r].rounds = 1;
    }
    {
      // The same random order, refit every batch (from the adaptive's initial size) until it
      // reaches the full grid's width: what a random adaptive-stopping design spends.
      Outcome& q = random_reach[r];
      size_t k = std::min(grid.size(), static_cast<size_t>(4 + o.initial_spread));
      size_t prev = 0;
      while (true) {
        std::vector<size_t> pts(perm.begin(), perm.begin() + k);
        durs.clear();
        for (size_t j = prev; j < k; ++j) durs.push_back(duration(perm[j]));
        q.makespan += Makespan(durs, workers);
        ++q.rounds;
        width_of(pts, &q);
        if (q.width <= goal || k == grid.size()) break;
        prev = k;
        k = std::min(grid.size(), k + batch);
      }
      q.reached = q.width <= goal;
    }
    std::printf(
        "run %2d: full width %.3f | adaptive %2d jobs %5.1f%% FLOPs, width %.3f %s | "
        "random same size width %.3f | random to reach %2d jobs %5.1f%% FLOPs\n",
        r, goal, adaptive[r].jobs, 100 * adaptive[r].flops / total_cost, adaptive[r].width,
        adaptive[r].reached ? "reached" : "NOT reached", random_same[r].width, random_reach[r].jobs,
        100 * random_reach[r].flops / total_cost);
    std::fflush(stdout);
  }

  auto med = [&](const std::vector<Outcome>& v, double Outcome::*f) {
    std::vector<double> x;
    for (const auto& o : v) x.push_back(o.*f);
    return Median(x);
  };
  auto medi = [&](const std::vector<Outcome>& v) {
    std::vector<double> x;
    for (const auto& o : v) x.push_back(o.jobs);
    return Median(x);
  };
  auto frac = [&](const std::vector<Outcome>& v, bool Outcome::*f) {
    int k = 0;
    for (const auto& o : v) k += o.*f;
    return static_cast<double>(k) / v.size();
  };
  const double full_flops = med(full, &Outcome::flops);
  const double full_makespan = med(full, &Outcome::makespan);
  std::printf(
      "\nmedians over %d runs (FLOPs: inference FLOPs per query summed over jobs; "
      "makespan: simulated, dearest job 1 s, %d workers)\n",
      runs, workers);
  std::printf("%-34s %6s %11s %8s %10s %8s %7s %8s %8s %8s\n", "design", "jobs", "FLOPs", "x full",
              "makespan", "x full", "rounds", "width", "reached", "covers");
  auto row = [&](const char* name, const std::vector<Outcome>& v) {
    const double f = med(v, &Outcome::flops), m = med(v, &Outcome::makespan);
    std::printf("%-34s %6.0f %11.3g %8.3f %9.2fs %8.3f %7.0f %8.3f %7.0f%% %7.0f%%\n", name,
                medi(v), f, f / full_flops, m, m / full_makespan, med(v, &Outcome::rounds),
                med(v, &Outcome::width), 100 * frac(v, &Outcome::reached),
                100 * frac(v, &Outcome::covered));
  };
  row("full grid", full);
  row("adaptive (to the full grid's width)", adaptive);
  row("random, same size as adaptive", random_same);
  row("random order, stopped at the width", random_reach);
  const double ratio = med(adaptive, &Outcome::flops) / full_flops;
  std::vector<double> per_run;
  int within = 0;
  for (int r = 0; r < runs; ++r) {
    per_run.push_back(adaptive[r].flops / full[r].flops);
    within += per_run.back() <= 0.5;
  }
  std::sort(per_run.begin(), per_run.end());
  std::printf(
      "adaptive FLOPs / full grid per run: min %.3f, quartiles %.3f %.3f %.3f, max %.3f; "
      "<= 0.5x in %d of %d runs\n",
      per_run.front(), per_run[runs / 4], Median(per_run), per_run[(3 * runs) / 4], per_run.back(),
      within, runs);
  const double makespan_ratio = med(adaptive, &Outcome::makespan) / full_makespan;
  std::printf(
      "\ntarget: adaptive reaches the full grid's T* width for <= 0.5x its FLOPs: "
      "%.3fx (%s); makespan %.3fx; reached in %.0f%% of runs\n",
      ratio, ratio <= 0.5 ? "met" : "MISSED", makespan_ratio,
      100 * frac(adaptive, &Outcome::reached));
  double fit_s = 0, score_s = 0, rounds = 0;
  for (const auto& a : adaptive) {
    fit_s += a.fit_seconds;
    score_s += a.score_seconds;
    rounds += a.rounds;
  }
  std::printf(
      "engine time per adaptive run (%d threads, wall, machine shared): median %.2f s over "
      "%.0f rounds; per round: fit + bootstrap %d %.1f ms, delta-method scoring %.2f ms\n",
      threads, med(adaptive, &Outcome::engine_seconds), med(adaptive, &Outcome::rounds), bootstrap,
      1e3 * fit_s / rounds, 1e3 * score_s / rounds);
  Emit("adaptive FLOPs to the full grid's T* width (median)", Fmt("%.3fx full", ratio), "<= 0.5x",
       "full grid 1x; random to the same width " +
           Fmt("%.3fx", med(random_reach, &Outcome::flops) / full_flops),
       Fmt("%.3f", ratio / 0.5));
  Emit("adaptive makespan to the full grid's T* width (median)", Fmt("%.3fx full", makespan_ratio),
       "-",
       "random to the same width " +
           Fmt("%.3fx", med(random_reach, &Outcome::makespan) / full_makespan),
       "-");
  return 0;
}

}  // namespace
}  // namespace vlmscale::fit

int main(int argc, char** argv) { return vlmscale::fit::Main(argc, argv); }
