// Packing jobs of different rank counts (issue 18), simulated: the makespan of a paper-like grid
// under RankPacker (per-job groups, EASY backfill) beside a fixed group size for every job and
// beside the lower bound, from one run. A simulation of the rule with exact predictions (each job
// runs its predicted seconds), not a measurement of the driver (bench/driver/packing_bench.py
// runs the same grid as real sleep jobs through the driver).
//
// The grid: N in {0.5, 1.8, 4, 7, 14}B x V in {1, 4, 16, 36, 64, 144, 576} (the seed paper's
// Qwen-1.5 sizes and token counts), Q = 50; a job's work is proportional to its training FLOPs
// ~ N (Q + V), its ranks 1 up to 2B, 2 up to 7B, 4 for 14B (the example), its seconds
// work / ranks. Priority: longest first (the Scheduler's cost order). "Fixed 4" gives every job 4
// ranks and, like a sleep job, the same seconds (a job that cannot use more ranks); "fixed 4,
// ideal speed-up" lets every job run 4/ranks times faster on 4 ranks instead.
//
// Usage: pack_bench [--ranks R] [--nodes K]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "driver/rank_packer.h"

namespace {

using vlmscale::driver::PackRequest;
using vlmscale::driver::SimulatePacking;

struct Row {
  const char* name;
  double makespan, idle;
};

}  // namespace

int main(int argc, char** argv) {
  int world = 8, nodes = 2;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--ranks")) world = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--nodes")) nodes = std::atoi(argv[i + 1]);
  }
  if (world < 4 || nodes < 1 || world % nodes != 0) {
    std::fprintf(stderr, "pack_bench: --ranks must be >= 4 and a multiple of --nodes\n");
    return 2;
  }
  const double q = 50.0;
  std::vector<PackRequest> jobs;
  for (double n : {0.5, 1.8, 4.0, 7.0, 14.0}) {
    for (double v : {1.0, 4.0, 16.0, 36.0, 64.0, 144.0, 576.0}) {
      const int ranks = n <= 2.0 ? 1 : n <= 7.0 ? 2 : 4;
      const double work = n * (q + v);  // Rank-seconds, in units of 0.5B x 51 tokens / 25.5.
      jobs.push_back({static_cast<int64_t>(jobs.size()), ranks, work / ranks});
    }
  }
  std::stable_sort(jobs.begin(), jobs.end(), [](const PackRequest& a, const PackRequest& b) {
    return a.ranks * a.seconds > b.ranks * b.seconds;
  });
  std::vector<int> node_of(world);
  for (int r = 0; r < world; ++r) node_of[r] = r / (world / nodes);

  double rank_seconds = 0.0, longest = 0.0;
  for (const auto& j : jobs) {
    rank_seconds += j.ranks * j.seconds;
    longest = std::max(longest, j.seconds);
  }
  const double bound = std::max(rank_seconds / world, longest);

  std::vector<Row> rows;
  auto run = [&](const char* name, std::vector<PackRequest> js, bool local) {
    auto sim = SimulatePacking(js, node_of, local);
    rows.push_back({name, sim.makespan, sim.idle_rank_seconds});
  };
  run("per-job groups, EASY backfill", jobs, false);
  run("per-job groups, node-local", jobs, true);
  {
    std::vector<PackRequest> fixed = jobs;
    for (auto& j : fixed) j.ranks = 4;  // Same seconds: the job cannot use the extra ranks.
    run("fixed 4 ranks per job", fixed, false);
    std::vector<PackRequest> ideal = jobs;
    for (auto& j : ideal) {
      j.seconds = j.seconds * j.ranks / 4.0;
      j.ranks = 4;
    }
    run("fixed 4, ideal speed-up", ideal, false);
  }

  std::printf("Packing %zu jobs (1, 2 and 4 ranks) on %d ranks in %d nodes, simulated\n",
              jobs.size(), world, nodes);
  std::printf("lower bound max(rank-seconds / ranks, longest job) = %.1f\n\n", bound);
  // Unused: rank-seconds no job's work used (idle, or held by a job that cannot use them).
  std::printf("%-32s %10s %9s %13s %13s\n", "schedule", "makespan", "x bound", "idle rank-s",
              "unused rank-s");
  for (const Row& r : rows) {
    std::printf("%-32s %10.1f %9.3f %13.1f %13.1f\n", r.name, r.makespan, r.makespan / bound,
                r.idle, world * r.makespan - rank_seconds);
  }
  const double ours = rows[0].makespan, fixed = rows[2].makespan;
  std::printf(
      "\ntarget: per-job <= 1.15x bound: %.3f (%s); >= 1.5x faster than fixed 4: %.2fx (%s)\n",
      ours / bound, ours / bound <= 1.15 ? "met" : "missed", fixed / ours,
      fixed / ours >= 1.5 ? "met" : "missed");
  return 0;
}
