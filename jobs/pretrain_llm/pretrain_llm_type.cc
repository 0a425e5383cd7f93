#include "jobs/pretrain_llm/pretrain_llm_type.h"

#include <filesystem>
#include <map>

#include "config/options_table.h"
#include "core/strings.h"
#include "jobs/nominal_cost.h"
#include "jobs/torch_jobs.h"
#include "tasks/task_facts.h"

namespace vlmscale::jobs {

namespace {

using O = PretrainLlmOptions;

const config::OptionsTable<O>& Table() {
  static const auto* table = [] {
    auto* t = new config::OptionsTable<O>("pretrain_llm");
    t->Enum(
        "pretrain_llm.task", "task", [](O& o) -> std::string& { return o.task; },
        tasks::TaskNames(), "The task the LLM is pretrained on (its vocabulary is the task's).");
    t->Enum(
        "pretrain_llm.method", "method", [](O& o) -> std::string& { return o.method; },
        vlm::CompressorNames(), "Compressor during pretraining (not saved in llm.pt).");
    t->Int(
        "pretrain_llm.visual_tokens", "visual_tokens",
        [](O& o) -> int64_t& { return o.visual_tokens; }, 1.0, config::kMaxVisualTokens,
        "V during pretraining (must suit method and model.grid_size).");
    t->Int(
        "pretrain_llm.steps", "train.steps", [](O& o) -> int64_t& { return o.train.steps; }, 1.0,
        config::kMaxSteps, "Pretraining optimizer steps.");
    t->Int(
        "pretrain_llm.batch_size", "train.batch_size",
        [](O& o) -> int64_t& { return o.train.batch_size; }, 1.0, config::kMaxBatch,
        "Global batch size (at least run.ranks_per_job).");
    t->Double(
        "pretrain_llm.lr", "train.lr", [](O& o) -> double& { return o.train.lr; }, 0.0, 1e3,
        "Peak learning rate (AdamW, warmup then cosine decay).");
    t->Double(
        "pretrain_llm.lr_width_exponent", "train.lr_width_exponent",
        [](O& o) -> double& { return o.train.lr_width_exponent; }, 0.0, 2.0,
        "Learning rate per LLM width, as train.lr_width_exponent.")
        .WithIdentity(config::IdentityRule::kUnlessDefault);
    t->Int(
        "pretrain_llm.lr_reference_width", "train.lr_reference_width",
        [](O& o) -> int64_t& { return o.train.lr_reference_width; }, 1.0, 1 << 20,
        "The LLM width that trains with exactly pretrain_llm.lr.")
        .WithIdentity(config::IdentityRule::kUnlessDefault);
    t->Int(
        "pretrain_llm.warmup_steps", "train.warmup_steps",
        [](O& o) -> int64_t& { return o.train.warmup_steps; }, 0.0, config::kMaxSteps,
        "Linear warmup steps (at most pretrain_llm.steps).");
    t->Int(
        "pretrain_llm.symbolic_steps", "train.symbolic_steps",
        [](O& o) -> int64_t& { return o.train.symbolic_steps; }, 0.0, config::kMaxSteps,
        "The first steps read a symbolic scene (each patch's class prototype in the encoder's "
        "feature space) instead of the image (at most pretrain_llm.steps).")
        .WithIdentity(config::IdentityRule::kUnlessDefault);
    t->Int(
        "pretrain_llm.curriculum_steps", "train.curriculum_steps",
        [](O& o) -> int64_t& { return o.train.curriculum_steps; }, 0.0, config::kMaxSteps,
        "The first steps follow a curriculum: split evenly over the task's question levels, "
        "phase k draws templates of level <= k (at most pretrain_llm.steps).")
        .WithIdentity(config::IdentityRule::kUnlessDefault);
    t->Double(
        "pretrain_llm.weight_decay", "train.weight_decay",
        [](O& o) -> double& { return o.train.weight_decay; }, 0.0, 1e3, "AdamW weight decay.");
    t->Int(
        "pretrain_llm.log_every", "train.log_every",
        [](O& o) -> int64_t& { return o.train.log_every; }, 1.0, config::kMaxSteps,
        "Steps between training-curve points.");
    t->Int(
        "pretrain_llm.eval_examples", "train.eval_examples",
        [](O& o) -> int64_t& { return o.train.eval_examples; }, 1.0, config::kMaxBatch,
        "Held-out examples of the pretraining task scored after training (at least "
        "run.ranks_per_job).");
    t->IntConverted(
        "pretrain_llm.seed", "train.seed",
        [](const O& o) { return static_cast<int64_t>(o.train.seed); },
        [](O* o, int64_t seed) { o->train.seed = static_cast<uint64_t>(seed); }, 0.0,
        config::kMaxSeed, "Seed of the initialization and of the pretraining data.");
    return t;
  }();
  return *table;
}

// Every setting that changes llm.pt, in this order: the [pretrain_llm] keys, then finetune_eval's
// [model] keys but cache_dir (the encoder whose features the LLM learned from).
std::string IdentityText(const config::Config& config) {
  // The generators' versions: a changed generator draws other examples, so other results.
  return tasks::TaskGeneratorsText() + config.IdentityText({"pretrain_llm", "model"});
}

class PretrainLlmSettings : public BuiltinModelSettings<PretrainLlmOptions> {
 public:
  using BuiltinModelSettings::BuiltinModelSettings;

  std::vector<std::string> RequiredAxes() const override { return {"llm"}; }

  Status CheckPreset(const config::Config& c, const config::LlmPreset& p) const override {
    return CheckBuildablePreset(c, p, "pretrain_llm");
  }

  // The model the job builds for the point's llm: its VlmOptions::IsValid at plan time.
  Status CheckPoint(const config::GridPoint& point, const config::LlmPreset& llm) const override {
    config::JobSpec spec;
    spec.point = point;
    spec.llm = llm;
    Result<FinetuneEvalSetup> setup = MakePretrainLlmSetup(options_, spec, "");
    if (!setup.ok()) return Bad("pretrain_llm.task", setup.status().message());
    std::string error, field;
    if (!setup->model.IsValid(&error, &field)) {
      static const std::map<std::string, std::string> keys = {
          {"method", "pretrain_llm.method"},
          {"grid_size", "model.grid_size"},
          {"vision_width", "model.vision_width"}};
      return Bad(ModelFieldKey(field, llm, keys, "pretrain_llm.visual_tokens"),
                 "llm=" + llm.name + ": " + error);
    }
    return Status::OK();
  }

  // Q of its own task (the point has none in a stage over llm only).
  int64_t TextTokens(const config::GridPoint&) const override {
    return TaskTextTokens(options_.task);
  }
  // Its own V (the point has none), as the job records it.
  int64_t VisualTokens(const config::GridPoint&) const override { return options_.visual_tokens; }
  // As finetune_eval, over its own V (VlmTrainingFlops).
  double EstimateCost(const config::GridPoint& point, int64_t text_tokens) const override {
    return VlmTrainingFlops(options_.encoder, point.n_params, text_tokens + options_.visual_tokens,
                            options_.train);
  }

  // The plugin's job (jobs/torch_jobs.h), once `run` loaded it.
  std::unique_ptr<Job> MakeJob() const override {
    const TorchJobsApi* api = TorchJobs();
    return api ? api->make_pretrain_llm(options_) : MakeTorchJobUnavailable("pretrain_llm");
  }
};

class PretrainLlmType : public JobType {
 public:
  std::string name() const override { return "pretrain_llm"; }
  std::vector<config::KeySpec> Keys() const override { return Table().keys(); }
  bool NeedsTorch() const override { return true; }

  Result<std::shared_ptr<const JobSettings>> Parse(const config::Config& config,
                                                   const PlanContext& context) const override {
    PretrainLlmOptions options = ReadPretrainLlmOptions(config, context.results_path);
    auto settings = std::make_shared<PretrainLlmSettings>(options, config, IdentityText(config));
    // Sweep-wide checks: everything the job checks that does not depend on the llm.
    std::string error, field;
    if (!options.encoder.IsValid(&error, &field)) {
      return settings->Bad(FinetuneEvalKeyOf("encoder." + field), error);
    }
    if (!options.train.IsValid(&error, &field)) {
      const std::string key = Table().KeyOf("train." + field);
      return settings->Bad(key.empty() ? "pretrain_llm" : key, error);
    }
    const std::string expected =
        vlm::CheckMethodTokens(options.method, options.visual_tokens, options.encoder.grid_size);
    if (!expected.empty()) {
      return settings->Bad("pretrain_llm.visual_tokens",
                           "method '" + options.method + "' cannot produce " +
                               std::to_string(options.visual_tokens) + " visual tokens: expected " +
                               expected);
    }
    VLM_RETURN_IF_ERROR(settings->CheckRanksPerJob(context.ranks_per_job, "pretrain_llm.batch_size",
                                                   "pretrain_llm.eval_examples"));
    return std::shared_ptr<const JobSettings>(settings);
  }
};

}  // namespace

train::TrainOptions DefaultPretrainTrainOptions() {
  train::TrainOptions o;
  o.steps = 200;
  o.warmup_steps = 20;
  o.eval_examples = 256;
  return o;
}

PretrainLlmOptions ReadPretrainLlmOptions(const config::Config& config,
                                          const std::string& results_path) {
  PretrainLlmOptions options;
  Table().Read(config, &options);
  // The encoder, its cache and the memory knobs are finetune_eval's keys: one owner per fact.
  const FinetuneEvalOptions shared = ReadFinetuneEvalOptions(config, results_path);
  options.encoder = shared.encoder;
  options.cache_dir = shared.cache_dir;
  options.train.eval_batch_size = shared.train.eval_batch_size;
  options.train.feature_cache_bytes = shared.train.feature_cache_bytes;
  return options;
}

Result<FinetuneEvalSetup> MakePretrainLlmSetup(const PretrainLlmOptions& options,
                                               const config::JobSpec& spec,
                                               const std::string& job_dir) {
  FinetuneEvalSetup s;
  s.task = options.task;
  s.encoder = options.encoder;
  s.cache_dir = options.cache_dir;
  VLM_ASSIGN_OR_RETURN(tasks::TaskShape shape, tasks::FindTaskShape(options.task));
  s.model.width = spec.llm.width;
  s.model.depth = spec.llm.depth;
  s.model.heads = spec.llm.heads;
  s.model.mlp_ratio = spec.llm.mlp_ratio;
  s.model.vocab_size = shape.vocab_size;
  s.model.question_tokens = shape.question_tokens;
  s.model.num_answers = shape.num_answers;
  s.model.grid_size = s.encoder.grid_size;
  s.model.vision_width = s.encoder.vision_width;
  s.model.method = options.method;
  s.model.visual_tokens = options.visual_tokens;
  s.train = options.train;
  s.train.lr = train::ScaledLearningRate(options.train, spec.llm.width);
  if (!job_dir.empty()) {
    s.train.checkpoint_path = (std::filesystem::path(job_dir) / "checkpoint.pt").string();
  }
  return s;
}

std::shared_ptr<const JobType> PretrainLlmJobType() { return std::make_shared<PretrainLlmType>(); }

}  // namespace vlmscale::jobs
