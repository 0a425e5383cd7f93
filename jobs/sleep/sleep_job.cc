#include "jobs/sleep/sleep_job.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <new>
#include <thread>

#include "config/options_table.h"
#include "core/hash.h"
#include "core/strings.h"
#include "jobs/nominal_cost.h"

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

const config::OptionsTable<SleepOptions>& Table() {
  using O = SleepOptions;
  static const auto* table = [] {
    auto* t = new config::OptionsTable<O>("sleep");
    t->Enum("sleep.mode", "mode", [](O& o) -> std::string& { return o.mode; },
            {"constant", "cost"},
            "constant: every job sleeps `seconds`; cost: jobs sleep in proportion to their "
            "estimated cost, the largest job of the grid sleeping `seconds`.");
    t->Double(
        "sleep.seconds", "seconds", [](O& o) -> double& { return o.seconds; }, 0.0,
        config::kMaxSeconds, "Sleep duration (see mode).");
    t->String("sleep.fail", "fail", [](O& o) -> std::string& { return o.fail; },
              "Grid points that fail, as exclude-style rules (e.g. 'llm=nano,visual_tokens=4').");
    t->Double("sleep.fail_probability", "fail_probability",
              [](O& o) -> double& { return o.fail_probability; }, 0.0, 1.0,
              "Probability that an attempt fails, drawn from a hash of (fail_seed, job id, "
              "attempt).");
    t->Int(
        "sleep.fail_seed", "fail_seed", [](O& o) -> int64_t& { return o.fail_seed; }, 0.0,
        config::kMaxSeed, "Seed of fail_probability draws.");
    t->Int(
        "sleep.fail_attempts", "fail_attempts", [](O& o) -> int64_t& { return o.fail_attempts; },
        0.0, 1000,
        "If > 0, failing points fail only on attempts <= this (then succeed): retry tests.");
    t->Enum("sleep.fail_class", "fail_class", [](O& o) -> std::string& { return o.fail_class; },
            {"error", "diverged", "oom"},
            "How failing points fail: error (returns an error), diverged (NaN metric), oom "
            "(throws std::bad_alloc).");
    t->String("sleep.hang", "hang", [](O& o) -> std::string& { return o.hang; },
              "Grid points whose job stops reporting (sleeps ignoring stop requests for "
              "hang_seconds).");
    t->Double(
        "sleep.hang_seconds", "hang_seconds", [](O& o) -> double& { return o.hang_seconds; }, 0.0,
        config::kMaxSeconds, "Duration of a hang.");
    t->Double(
        "sleep.cost_scale", "cost_scale", [](O& o) -> double& { return o.cost_scale; }, 0.0, 1e12,
        "Multiplies the job's estimated cost (scheduling and cost mode), e.g. per stage: "
        "an evaluation stage far cheaper than the finetuning it follows.");
    t->Int(
        "sleep.cost_tokens", "cost_tokens", [](O& o) -> int64_t& { return o.cost_tokens; }, 0.0,
        config::kMaxTokens,
        "If > 0, the tokens per example of the nominal cost instead of Q+V: gives a cost "
        "spread to a stage that varies neither visual_tokens nor task (e.g. pretraining over "
        "llm only).");
    return t;
  }();
  return *table;
}

class SleepJob : public Job {
 public:
  SleepJob(const SleepOptions& options, const config::GridRules& fail,
           const config::GridRules& hang)
      : options_(options), fail_(fail), hang_(hang) {}

  Status Run(const JobInput& in, const JobEnv& env, JobOutput* out) override {
    const config::JobSpec& spec = *in.spec;
    double max_cost = in.sweep != nullptr ? in.sweep->max_est_cost : 0.0;
    double seconds = SleepSeconds(options_, spec, max_cost);

    if (hang_.Matches(spec.point)) {
      // A hung job: no heartbeat, deaf to stop requests, for hang_seconds.
      SleepFor(options_.hang_seconds, env, /*heed_stop=*/false);
    }
    auto start = std::chrono::steady_clock::now();
    if (seconds > 0 && !SleepFor(seconds, env, /*heed_stop=*/true)) {
      return Status::Cancelled("stop requested");
    }
    out->train_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    bool fail_point = fail_.Matches(spec.point);
    const int64_t fail_attempts = options_.fail_attempts;
    if (fail_point && fail_attempts > 0 && in.attempt > fail_attempts) fail_point = false;
    bool fail_draw =
        Draw(options_.fail_seed, spec.id, in.attempt) < options_.fail_probability;
    if (fail_point || fail_draw) {
      const std::string& how = options_.fail_class;
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
    // multiplicative law in N and V (plus nothing random); a stage that does not vary N or V
    // has them 0 and counts them as 1.
    const double n = std::max(1.0, spec.point.n_params);
    const double v = std::max(1.0, static_cast<double>(spec.point.visual_tokens));
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

 private:
  const SleepOptions options_;
  const config::GridRules fail_, hang_;
};

class SleepSettings : public JobSettings {
 public:
  SleepSettings(SleepOptions options, config::GridRules fail, config::GridRules hang,
                std::string identity)
      : options_(std::move(options)),
        fail_(std::move(fail)),
        hang_(std::move(hang)),
        identity_(std::move(identity)) {}

  Status CheckPreset(const config::Config&, const config::LlmPreset&) const override {
    return Status::OK();
  }
  // Any stage shape: axes a stage does not vary are simply absent from its jobs.
  std::vector<std::string> RequiredAxes() const override { return {}; }
  Status CheckPoint(const config::GridPoint&, const config::LlmPreset&) const override {
    return Status::OK();
  }
  std::string IdentityText() const override { return identity_; }
  int64_t TextTokens(const config::GridPoint& point) const override {
    return TaskTextTokens(point.task);
  }
  double EstimateCost(const config::GridPoint& point, int64_t text_tokens) const override {
    return SleepCost(options_, point, text_tokens);
  }
  std::unique_ptr<Job> MakeJob() const override {
    return std::make_unique<SleepJob>(options_, fail_, hang_);
  }

 private:
  SleepOptions options_;
  config::GridRules fail_, hang_;
  std::string identity_;
};

class SleepType : public JobType {
 public:
  std::string name() const override { return "sleep"; }
  std::vector<config::KeySpec> Keys() const override { return Table().keys(); }
  Result<std::shared_ptr<const JobSettings>> Parse(const config::Config& config,
                                                   const PlanContext&) const override {
    SleepOptions options;
    Table().Read(config, &options);
    // Rule mistakes surface at plan time.
    VLM_ASSIGN_OR_RETURN(config::GridRules fail, config::GridRules::Parse(config, "sleep.fail"));
    VLM_ASSIGN_OR_RETURN(config::GridRules hang, config::GridRules::Parse(config, "sleep.hang"));
    return std::shared_ptr<const JobSettings>(std::make_shared<SleepSettings>(
        options, std::move(fail), std::move(hang), IdentityText(config, options)));
  }

 private:
  // The [sleep] section text, less cost_scale and cost_tokens while they hold their defaults:
  // they came after ids were pinned (tests/config/job_ids_test.py), which defaults must keep.
  static std::string IdentityText(const config::Config& config, const SleepOptions& options) {
    const SleepOptions defaults;
    std::string text;
    for (const auto& line : SplitTrimmed(config.SectionText("sleep"), '\n')) {
      if (line.empty()) continue;
      if (options.cost_scale == defaults.cost_scale && StartsWith(line, "sleep.cost_scale=")) {
        continue;
      }
      if (options.cost_tokens == defaults.cost_tokens && StartsWith(line, "sleep.cost_tokens=")) {
        continue;
      }
      text += line + "\n";
    }
    return text;
  }
};

}  // namespace

double SleepCost(const SleepOptions& options, const config::GridPoint& point, int64_t text_tokens) {
  if (options.cost_tokens <= 0) {
    return options.cost_scale * NominalTrainingFlops(point, text_tokens);
  }
  config::GridPoint tokens_only = point;
  tokens_only.visual_tokens = 0;
  return options.cost_scale * NominalTrainingFlops(tokens_only, options.cost_tokens);
}

double SleepSeconds(const SleepOptions& options, const config::JobSpec& spec, double max_cost) {
  double seconds = options.seconds;
  if (options.mode == "cost" && max_cost > 0) seconds *= spec.est_cost / max_cost;
  return seconds;
}

std::shared_ptr<const JobType> SleepJobType() { return std::make_shared<SleepType>(); }

}  // namespace vlmscale::jobs
