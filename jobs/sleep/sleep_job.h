// The `sleep` job type: sleeps for a configured time (constant, or proportional to the job's
// estimated cost so benchmarks mimic a real grid's spread) and fails or hangs on chosen grid
// points or with a seeded probability. For tests and benchmarks of the driver ([sleep] section).
#ifndef VLMSCALE_JOBS_SLEEP_SLEEP_JOB_H_
#define VLMSCALE_JOBS_SLEEP_SLEEP_JOB_H_

#include <memory>
#include <string>

#include "jobs/job_type.h"

namespace vlmscale::jobs {

struct SleepOptions {
  // constant: every job sleeps `seconds`; cost: jobs sleep in proportion to their estimated cost,
  // the largest job of the grid sleeping `seconds`. Default: "constant".
  std::string mode = "constant";
  // Sleep duration (see mode). Default: 0. REQUIRES: >= 0.
  double seconds = 0.0;
  // Grid points that fail, as exclude-style rules (e.g. "llm=nano,visual_tokens=4"). Default: "".
  std::string fail;
  // Probability that an attempt fails, drawn from a hash of (fail_seed, job id, attempt).
  // Default: 0. REQUIRES: 0 <= fail_probability <= 1.
  double fail_probability = 0.0;
  // Seed of fail_probability draws. Default: 0.
  int64_t fail_seed = 0;
  // If > 0, failing points fail only on attempts <= this (then succeed): retry tests. Default: 0.
  int64_t fail_attempts = 0;
  // How failing points fail: error (returns an error), diverged (NaN metric), oom (throws
  // std::bad_alloc). Default: "error".
  std::string fail_class = "error";
  // Grid points whose job stops reporting (sleeps ignoring stop requests for hang_seconds).
  // Default: "".
  std::string hang;
  // Duration of a hang. Default: 3600. REQUIRES: >= 0.
  double hang_seconds = 3600.0;
  // Multiplies the job's estimated cost (scheduling and cost mode), e.g. per stage: an
  // evaluation stage far cheaper than the finetuning it follows. Default: 1. REQUIRES: >= 0.
  double cost_scale = 1.0;
  // If > 0, the tokens per example of the nominal cost instead of Q+V: gives a cost spread to a
  // stage that varies neither visual_tokens nor task (e.g. pretraining over llm only).
  // Default: 0. REQUIRES: >= 0.
  int64_t cost_tokens = 0;
};

// The descriptor registered as "sleep".
std::shared_ptr<const JobType> SleepJobType();

// The estimated cost of a sleep job at `point`: the nominal training FLOPs
// (NominalTrainingFlops) with cost_tokens, if > 0, in place of text_tokens + visual_tokens, times
// cost_scale.
double SleepCost(const SleepOptions& options, const config::GridPoint& point, int64_t text_tokens);

// Seconds a job sleeps: options.seconds (constant mode) or options.seconds * est_cost / max_cost
// (cost mode, max_cost the largest estimated cost of the grid).
double SleepSeconds(const SleepOptions& options, const config::JobSpec& spec, double max_cost);

}  // namespace vlmscale::jobs

#endif  // VLMSCALE_JOBS_SLEEP_SLEEP_JOB_H_
