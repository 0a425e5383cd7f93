// The `sleep` job type: sleeps for a configured time (constant, or proportional to the job's
// estimated cost so benchmarks mimic a real grid's spread) and fails or hangs on chosen grid
// points or with a seeded probability. For tests and benchmarks of the driver ([sleep] section).
#ifndef VLMSCALE_JOBS_SLEEP_SLEEP_JOB_H_
#define VLMSCALE_JOBS_SLEEP_SLEEP_JOB_H_

#include <memory>

#include "jobs/job.h"

namespace vlmscale::jobs {

std::unique_ptr<Job> MakeSleepJob();

// Seconds a job sleeps: sleep.seconds (constant mode) or sleep.seconds * est_cost / max_cost
// (cost mode, max_cost the largest estimated cost of the grid).
double SleepSeconds(const config::Config& config, const config::JobSpec& spec, double max_cost);

}  // namespace vlmscale::jobs

#endif  // VLMSCALE_JOBS_SLEEP_SLEEP_JOB_H_
