// The job type registry and what is assembled from it: the config schema, the grid's facts and
// sweep planning. A new job type adds one line to RegisterBuiltinJobTypes().
#include <algorithm>
#include <mutex>

#include "config/sweep.h"
#include "core/check.h"
#include "jobs/command/command_job.h"
#include "jobs/finetune_eval/finetune_eval_type.h"
#include "jobs/job_type.h"
#include "jobs/pretrain_llm/pretrain_llm_type.h"
#include "jobs/sleep/sleep_job.h"
#include "tasks/task_facts.h"
#include "vlm/vlm_options.h"

namespace vlmscale::jobs {

namespace {

struct Registry {
  std::mutex mutex;
  std::vector<std::shared_ptr<const JobType>> types;  // Registration order.
};

Registry& TheRegistry() {
  static Registry r;
  return r;
}

// The built-in LLM size presets of the finetune_eval model (name, width, depth, heads).
std::vector<config::LlmPreset> BuiltinLlms() {
  std::vector<config::LlmPreset> p = {
      {"nano", 32, 2, 2, 4, 0, true},  {"micro", 48, 3, 3, 4, 0, true},
      {"mini", 64, 4, 4, 4, 0, true},  {"small", 96, 6, 4, 4, 0, true},
      {"base", 128, 8, 8, 4, 0, true},
  };
  for (auto& x : p) x.n_params = vlm::LlmNonEmbeddingParams(x.width, x.depth, x.mlp_ratio);
  return p;
}

}  // namespace

void RegisterJobType(std::shared_ptr<const JobType> type) {
  CHECK(type != nullptr);
  Registry& r = TheRegistry();
  std::lock_guard<std::mutex> lock(r.mutex);
  for (auto& t : r.types) {
    if (t->name() == type->name()) {
      t = std::move(type);
      return;
    }
  }
  r.types.push_back(std::move(type));
}

void RegisterBuiltinJobTypes() {
  static std::once_flag once;
  std::call_once(once, [] {
    RegisterJobType(SleepJobType());
    RegisterJobType(FinetuneEvalJobType());
    RegisterJobType(CommandJobType());
    RegisterJobType(PretrainLlmJobType());
  });
}

std::shared_ptr<const JobType> FindJobType(const std::string& name) {
  RegisterBuiltinJobTypes();
  Registry& r = TheRegistry();
  std::lock_guard<std::mutex> lock(r.mutex);
  for (const auto& t : r.types) {
    if (t->name() == name) return t;
  }
  return nullptr;
}

std::vector<std::string> JobTypeNames() {
  RegisterBuiltinJobTypes();
  Registry& r = TheRegistry();
  std::lock_guard<std::mutex> lock(r.mutex);
  std::vector<std::string> names;
  for (const auto& t : r.types) names.push_back(t->name());
  return names;
}

const config::GridFacts& BuiltinGridFacts() {
  static const config::GridFacts facts = [] {
    config::GridFacts f;
    f.methods = vlm::CompressorNames();
    f.tasks = tasks::TaskNames();
    f.builtin_llms = BuiltinLlms();
    f.n_params = &vlm::LlmNonEmbeddingParams;
    return f;
  }();
  return facts;
}

const config::Schema& ConfigSchema() {
  static const config::Schema schema = [] {
    config::SweepVocabulary v;
    v.job_types = JobTypeNames();
    v.methods = vlm::CompressorNames();
    v.tasks = tasks::TaskNames();
    for (const auto& p : BuiltinGridFacts().builtin_llms) v.llm_presets.push_back(p.name);
    v.default_job_type = "finetune_eval";
    v.default_method = "avgpool";
    v.default_task = v.tasks.front();
    std::vector<config::KeySpec> keys = config::SweepKeys(v);
    for (const auto& name : v.job_types) {
      for (auto& k : FindJobType(name)->Keys()) keys.push_back(std::move(k));
    }
    return config::Schema(std::move(keys));
  }();
  return schema;
}

Result<config::Config> LoadConfig(const std::string& path,
                                  const std::vector<std::string>& overrides) {
  return config::Config::Load(path, overrides, ConfigSchema());
}

Result<config::Config> ConfigFromString(const std::string& text, const std::string& name,
                                        const std::vector<std::string>& overrides) {
  return config::Config::FromString(text, name, overrides, ConfigSchema());
}

Result<config::Sweep> PlanSweep(const config::Config& config) {
  const config::SweepSettings sweep = config::ReadSweepSettings(config);
  auto make = [&](const config::Config& stage_config, const config::StageSpec& stage)
      -> Result<std::shared_ptr<const config::JobTypePlanner>> {
    std::shared_ptr<const JobType> type = FindJobType(stage.job_type);
    if (type == nullptr) {  // The schema's choices are the registered types.
      return config::KeyError(config, stage.name.empty() ? "job.type" : "stage." + stage.name + ".type",
                              "job type '" + stage.job_type + "' is not registered");
    }
    PlanContext context;
    context.ranks_per_job = sweep.ranks_per_job;
    context.results_path = sweep.output;
    context.stage = &stage;
    for (const std::string& needed : stage.needs) {
      context.needed_job_types.push_back(config.GetString("stage." + needed + ".type"));
    }
    VLM_ASSIGN_OR_RETURN(std::shared_ptr<const JobSettings> settings,
                         type->Parse(stage_config, context));
    return std::shared_ptr<const config::JobTypePlanner>(std::move(settings));
  };
  return config::PlanSweep(config, BuiltinGridFacts(), make);
}

std::unique_ptr<Job> CreateJob(const config::Sweep& sweep, const config::JobSpec& spec) {
  const auto* settings = dynamic_cast<const JobSettings*>(&sweep.planner_of(spec));
  CHECK(settings != nullptr) << "a sweep not planned by jobs::PlanSweep";
  return settings->MakeJob();
}

std::unique_ptr<Job> CreateJob(const config::Sweep& sweep) {
  return CreateJob(sweep, sweep.jobs.back());
}

}  // namespace vlmscale::jobs
