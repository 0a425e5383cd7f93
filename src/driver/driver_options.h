// Options of `RunSweep`: every run.* setting the driver uses, plus the CLI flags. The CLI fills
// them from the config (src/cli/run_command.cc); the driver reads no run.* key itself.
#ifndef VLMSCALE_DRIVER_DRIVER_OPTIONS_H_
#define VLMSCALE_DRIVER_DRIVER_OPTIONS_H_

#include <string>
#include <vector>

namespace vlmscale::driver {

enum class LogFormat { kText, kJson };

// Dispatch order: the longest remaining path first (critical path; shortest makespan), the
// grid's order, or stage by stage with a barrier between stages (the last two are baselines the
// scheduling benchmarks compare against; see scheduler.h).
enum class DispatchOrder { kCost, kGrid, kStages };

struct DriverOptions {
  // Ranks of a job (data-parallel) whose stage and LLM preset set none. Default: 1. REQUIRES: >= 1;
  // RunSweep refuses (exit 2) a job needing more ranks than the world has.
  int ranks_per_job = 1;
  // Every job's ranks on one node (run.node_local_groups): RunSweep refuses, with exit 2, a job
  // needing more ranks than a node has. Default: false.
  bool node_local_groups = false;
  // Torch threads per rank; 0 means the node's cores divided by the ranks on the node.
  // Default: 0. REQUIRES: >= 0.
  int threads_per_rank = 0;
  // Attempts per job (in one run) before it is finally failed. Default: 2. REQUIRES: >= 1.
  int max_attempts = 2;
  DispatchOrder order = DispatchOrder::kCost;  // Default: kCost.
  // After a stop request, time running jobs get to checkpoint and return; a group silent for 5 s
  // more is abandoned. Default: 30. REQUIRES: finite, >= 0.
  double grace_seconds = 30.0;
  // A busy group without job progress this long is reported as stalled. Default: 300.
  // REQUIRES: finite, > 0.
  double stall_seconds = 300.0;
  // Group-commit window: results are durable (and acknowledged) at most this long after arrival.
  // Default: 2. REQUIRES: finite, >= 0.
  double commit_ms = 2.0;
  // Seconds between HDF5 snapshots of the results store. Default: 2. REQUIRES: finite, >= 0.
  double snapshot_seconds = 2.0;
  bool fresh = false;  // Move an existing results file aside. Default: false.
  // Run into a results file whose jobs were made with other settings than this config's (the keys
  // that differ become varied columns) instead of refusing with exit 2. Default: false.
  bool allow_mixed = false;
  // What the run record in the results file says this run was started with (docs/RESULTS.md,
  // "Run history"): the config path as given and the --set overrides. Default: empty.
  std::string config_path;
  std::vector<std::string> overrides;
  // No per-job or progress lines (failures, stops and the summary only). Default: false.
  bool quiet = false;
  LogFormat log_format = LogFormat::kText;  // Default: kText.

  // False, with a message naming the violated field in *error (if not null), when a REQUIRES
  // above does not hold.
  bool IsValid(std::string* error) const;
};

}  // namespace vlmscale::driver

#endif  // VLMSCALE_DRIVER_DRIVER_OPTIONS_H_
