// SLURM batch scripts for `vlmscale submit`: the allocation options, their validation, and the
// rendering of slurm/sweep.sbatch into a script for one sweep.
//
// The template (slurm/sweep.sbatch, compiled in; see SweepSbatchTemplate()) has a header of
// `#SBATCH` lines and a settings block between the lines "# >>> vlmscale settings" and
// "# <<< vlmscale settings". Rendering replaces every `#SBATCH` line by the directives of the
// given SlurmOptions (written where the first one was) and the settings block by fixed values;
// every other line is kept as it is.
#ifndef VLMSCALE_CLI_SLURM_SCRIPT_H_
#define VLMSCALE_CLI_SLURM_SCRIPT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace vlmscale::cli {

// Resources and policy of one batch job. Field names follow sbatch's options.
struct SlurmOptions {
  std::string job_name = "vlmscale";  // --job-name. Default: "vlmscale". REQUIRES: non-empty.
  std::string partition;              // --partition; empty: the cluster's default. Default: "".
  std::string account;                // --account; empty: the user's default. Default: "".
  std::string qos;                    // --qos; empty: the default QOS. Default: "".
  // --time: [D-]HH:MM:SS, MM, MM:SS, D-HH, D-HH:MM (ParseSlurmTime). Default: "01:00:00".
  // REQUIRES: parses to more than signal_seconds.
  std::string time = "01:00:00";
  int64_t nodes = 1;  // --nodes. Default: 1. REQUIRES: >= 1.
  // --ntasks-per-node: MPI ranks per node. Default: 1. REQUIRES: >= 1.
  int64_t ntasks_per_node = 1;
  // --gpus-per-node; 0: CPU nodes (no directive). Default: 0. REQUIRES: >= 0, and equal to
  // ntasks_per_node when > 0 (one rank per GPU).
  int64_t gpus_per_node = 0;
  int64_t cpus_per_task = 1;  // --cpus-per-task: cores per rank. Default: 1. REQUIRES: >= 1.
  // --signal=B:USR1@signal_seconds: how long before the walltime the batch shell is told to
  // drain. Default: 90. REQUIRES: >= 1 and below the walltime.
  int64_t signal_seconds = 90;
  std::string chdir;   // --chdir; empty: no directive (sbatch's working directory). Default: "".
  std::string output;  // --output (and stderr); e.g. "DIR/slurm-%j.out". Default: "" (none).

  // True if every REQUIRES holds; otherwise false with *error naming the option (as its
  // command-line flag) and what is expected.
  bool IsValid(std::string* error) const;
};

// The values written into the settings block of the rendered script.
struct ScriptSettings {
  std::string vlmscale_bin;         // Absolute path of the vlmscale binary. REQUIRES: non-empty.
  std::string config;               // Config snapshot the job runs. REQUIRES: non-empty.
  std::string results;              // Results file, for the final `vlmscale status`. Default: "".
  int64_t max_requeues = 10;        // Requeues allowed (slurm.max_requeues). REQUIRES: >= 0.
  std::string launcher = "mpirun";  // "mpirun" or "srun". Default: "mpirun".
};

// Seconds of a SLURM time limit ("MM", "MM:SS", "HH:MM:SS", "D-HH", "D-HH:MM", "D-HH:MM:SS").
// Returns kInvalidInput naming the accepted forms for anything else (also for zero, for
// "UNLIMITED", and for minutes or seconds >= 60 after the first field).
Result<int64_t> ParseSlurmTime(const std::string& text);

// The `#SBATCH` lines for `options` (--signal=B:USR1@N, --requeue, --open-mode=append included).
// REQUIRES: options.IsValid().
std::vector<std::string> SbatchDirectives(const SlurmOptions& options);

// Renders `tmpl` (see the file comment). Returns kInvalidInput when the template has no `#SBATCH`
// line or no settings block, or when options or settings are invalid.
Result<std::string> RenderBatchScript(const std::string& tmpl, const SlurmOptions& options,
                                      const ScriptSettings& settings);

// Quotes `s` for bash with single quotes ('it'\''s').
std::string ShellQuote(const std::string& s);

// The text of slurm/sweep.sbatch as it was at build time.
const std::string& SweepSbatchTemplate();

}  // namespace vlmscale::cli

#endif  // VLMSCALE_CLI_SLURM_SCRIPT_H_
