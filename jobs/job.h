// Jobs: one grid point's work (jobs/<type>/). The driver's workers create a Job from the sweep's
// job type settings (job_type.h), run it on the ranks of a job group, and record its JobOutput.
#ifndef VLMSCALE_JOBS_JOB_H_
#define VLMSCALE_JOBS_JOB_H_

#include <atomic>
#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "comm/communicator.h"
#include "config/config.h"
#include "config/sweep.h"
#include "core/status.h"
#include "store/job_record.h"

namespace vlmscale::jobs {

// A job of a stage this job needs (config::StageSpec::needs), as the job finds it when it starts.
struct ParentArtifact {
  std::string stage;   // The needed stage's name.
  std::string job_id;
  // The parent's job directory (its JobInput::job_dir): the checkpoints and files it left. ""
  // when the parent's type uses no directories.
  std::string dir;
  // The metrics the parent recorded (its JobOutput::metrics, read back from
  // <dir>/result.json); empty when it has no directory.
  std::map<std::string, double> metrics;
};

struct JobInput {
  // The whole resolved config: data for command jobs' {section.key} placeholders. Jobs take their
  // settings from their typed options, never from here.
  const config::Config* config = nullptr;
  const config::JobSpec* spec = nullptr;
  const config::Sweep* sweep = nullptr;  // The whole planned sweep (e.g. its largest cost).
  int attempt = 1;       // 1-based.
  // Directories (existing when the job type UsesDirectories()): private to this job and attempt
  // (logs, outputs), and to this job across attempts (checkpoints).
  std::string run_dir;
  std::string job_dir;
  // The jobs this one needs (JobSpec::parents), each done, with its directory checked to hold
  // its result (<dir>/result.json) before the job starts. Empty in a one-stage study.
  std::vector<ParentArtifact> parents;
};

// Where a running job is, for `vlmscale status` and the running job's record (JobEnv::progress).
struct JobProgress {
  std::string phase;           // What it does now, e.g. "train", "eval", "pretrain vision encoder".
  int64_t step = 0;            // Steps of the phase done (0 when it has none).
  int64_t total = 0;           // Steps of the phase in all (0 when unknown).
  double loss = std::nan("");  // The latest training loss, NaN when none.
  // Curve points logged since the last call (appended to the running job's live curves).
  std::vector<store::CurvePoint> new_points;
};

struct JobEnv {
  comm::Communicator* comm = nullptr;  // Spans the job's ranks; never null.
  int local_rank = 0;                  // Rank on this node (device binding).
  int device = -1;                     // CUDA device index, or -1 for CPU.
  int threads = 1;                     // Torch intra-op threads for this rank.
  // Becomes true when the sweep is asked to stop: checkpoint and return Status::Cancelled
  // within run.grace_seconds.
  const std::atomic<bool>* stop_requested = nullptr;
  // Call whenever the job makes progress (e.g. every training step): a group whose job does not
  // call it for run.stall_seconds is reported as stalled. Cheap (an atomic store); never null.
  std::function<void()> heartbeat;
  // Call when the job's phase, step or loss changes (it counts as a heartbeat too): the group's
  // leader sends it with its heartbeats, so `status` shows it and the running job's curves grow
  // while it runs. Call it from the group's rank 0 (other ranks' calls are ignored). Cheap (a
  // mutex, no I/O); never null.
  std::function<void(const JobProgress&)> progress;
  int local_size = 1;                  // Ranks on this node.
  std::string world_master_addr;       // Hostname of the job group's first rank.
  int world_master_port = 0;           // A port free for this job group (command jobs).
  std::vector<int> group_world_ranks;  // World ranks of the group.
  // Time a job gets to checkpoint and return after stop_requested (run.grace_seconds).
  double grace_seconds = 30.0;
};

struct JobOutput {
  // Metrics by name: "error", "accuracy", "eval_loss", "inference_flops", "compressor_flops",
  // "latency_ms" fill the JobRecord columns; any other name lands in extra_metrics.
  std::map<std::string, double> metrics;
  std::vector<store::CurvePoint> curves;
  // On failure: "error", "diverged", "oom", "timeout", "killed", "no-metrics".
  std::string failure_class;
  double train_seconds = 0.0;
  double eval_seconds = 0.0;
};

// Run() contract: returns OK with metrics on success; Status::Cancelled after checkpointing when
// *stop_requested became true (not counted as a failed attempt); any other status is a failed
// attempt, with output->failure_class set (default "error"). Must not throw: the driver still
// catches std::exception and treats it as "error" (std::bad_alloc as "oom").
// Only group rank 0's output is recorded; every rank of the group calls Run().
class Job {
 public:
  virtual ~Job() = default;
  virtual Status Run(const JobInput& input, const JobEnv& env, JobOutput* output) = 0;
  // Whether Run() uses input.run_dir / input.job_dir; the driver creates them only then.
  virtual bool UsesDirectories() const { return true; }
};

}  // namespace vlmscale::jobs

#endif  // VLMSCALE_JOBS_JOB_H_
