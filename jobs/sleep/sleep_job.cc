#include "jobs/sleep/sleep_job.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <new>
#include <thread>

#include "core/hash.h"

namespace vlmscale::jobs {

namespace {

// Uniform [0, 1) from a hash of the inputs: the same (seed, job, attempt) always draws the same.
double Draw(int64_t seed, const std::string& job_id, int attempt) {
  uint64_t h = Fnv1a64(std::to_string(seed) + "/" + job_id + "/" + std::to_string(attempt));
  return static_cast<double>(h >> 11) * (1.0 / 9007199254740992.0);
}

// Sleeps `seconds` in small slices, calling heartbeat; returns false if a stop was requested.
bool SleepFor(double seconds, const JobEnv& env, bool heed_stop) {
  using Clock = std::chrono::steady_clock;
  auto end = Clock::now() + std::chrono::duration<double>(seconds);
  while (Clock::now() < end) {
    if (heed_stop && env.stop_requested->load()) return false;
    if (heed_stop) env.heartbeat();
    auto left = end - Clock::now();
    auto slice = std::chrono::milliseconds(50);
    std::this_thread::sleep_for(left < slice ? left : slice);
  }
  return true;
}

class SleepJob : public Job {
 public:
  Status Run(const JobInput& in, const JobEnv& env, JobOutput* out) override {
    const config::Config& c = *in.config;
    const config::JobSpec& spec = *in.spec;
    double max_cost = in.sweep != nullptr ? in.sweep->max_est_cost : 0.0;
    double seconds = SleepSeconds(c, spec, max_cost);

    VLM_ASSIGN_OR_RETURN(bool hang, config::PointMatchesRules(c, "sleep.hang", spec.point));
    if (hang) {
      // A hung job: no heartbeat, deaf to stop requests, for hang_seconds.
      SleepFor(c.GetDouble("sleep.hang_seconds"), env, /*heed_stop=*/false);
    }
    auto start = std::chrono::steady_clock::now();
    if (seconds > 0 && !SleepFor(seconds, env, /*heed_stop=*/true)) {
      return Status::Cancelled("stop requested");
    }
    out->train_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    VLM_ASSIGN_OR_RETURN(bool fail_point, config::PointMatchesRules(c, "sleep.fail", spec.point));
    int64_t fail_attempts = c.GetInt("sleep.fail_attempts");
    if (fail_point && fail_attempts > 0 && in.attempt > fail_attempts) fail_point = false;
    bool fail_draw = Draw(c.GetInt("sleep.fail_seed"), spec.id, in.attempt) <
                     c.GetDouble("sleep.fail_probability");
    if (fail_point || fail_draw) {
      const std::string& how = c.GetString("sleep.fail_class");
      if (how == "oom") throw std::bad_alloc();
      if (how == "diverged") {
        out->metrics["error"] = std::nan("");
        return Status::OK();  // The driver classifies a NaN error as diverged.
      }
      out->failure_class = "error";
      return Status::Runtime("sleep job told to fail at attempt " + std::to_string(in.attempt) +
                             (fail_point ? " (sleep.fail matches this grid point)"
                                         : " (sleep.fail_probability draw)"));
    }
    // A deterministic pseudo-metric so tests can check what was recorded: the error of a
    // multiplicative law in N and V (plus nothing random).
    const double n = spec.point.n_params, v = static_cast<double>(spec.point.visual_tokens);
    out->metrics["error"] = 0.1 + 2.0 * std::pow(n, -0.2) * std::pow(v, -0.1);
    out->metrics["accuracy"] = 1.0 - out->metrics["error"];
    out->metrics["inference_flops"] = spec.inference_flops;
    out->metrics["slept_seconds"] = seconds;
    // Proves the job group's communicator spans its ranks: every rank adds 1 and its rank.
    double probe[2] = {1.0, static_cast<double>(env.comm->rank())};
    VLM_RETURN_IF_ERROR(env.comm->AllReduceSumHost(probe, 2));
    out->metrics["group_ranks"] = probe[0];
    out->metrics["group_rank_sum"] = probe[1];
    out->curves.push_back({"progress", 0, 0.0});
    out->curves.push_back({"progress", 1, 1.0});
    return Status::OK();
  }
  bool UsesDirectories() const override { return false; }
};

}  // namespace

double SleepSeconds(const config::Config& config, const config::JobSpec& spec, double max_cost) {
  double seconds = config.GetDouble("sleep.seconds");
  if (config.GetString("sleep.mode") == "cost" && max_cost > 0) {
    seconds *= spec.est_cost / max_cost;
  }
  return seconds;
}

std::unique_ptr<Job> MakeSleepJob() { return std::make_unique<SleepJob>(); }

}  // namespace vlmscale::jobs
