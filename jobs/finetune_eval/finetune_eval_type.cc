#include "jobs/finetune_eval/finetune_eval_type.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>

#include "config/options_table.h"
#include "core/strings.h"
#include "jobs/nominal_cost.h"
#include "jobs/torch_jobs.h"
#include "tasks/task_facts.h"

namespace vlmscale::jobs {

namespace {

using O = FinetuneEvalOptions;

const config::OptionsTable<O>& Table() {
  static const auto* table = [] {
    auto* t = new config::OptionsTable<O>("finetune_eval");
    // [model]: the frozen vision encoder.
    t->Int(
        "model.image_size", "encoder.image_size",
        [](O& o) -> int64_t& { return o.encoder.image_size; }, 8.0, 1 << 16,
        "Image side in pixels (a multiple of grid_size).");
    t->Int(
        "model.grid_size", "encoder.grid_size",
        [](O& o) -> int64_t& { return o.encoder.grid_size; }, 1.0, 1 << 10,
        "G: the vision encoder yields G x G patch features (24 gives the paper's 576 tokens).");
    t->Int(
        "model.vision_width", "encoder.vision_width",
        [](O& o) -> int64_t& { return o.encoder.vision_width; }, 1.0, 1 << 16,
        "Vision feature channels (a multiple of 16).");
    t->Int(
        "model.encoder_depth", "encoder.depth", [](O& o) -> int64_t& { return o.encoder.depth; },
        1.0, 1024, "Vision encoder blocks.");
    t->Int(
        "model.encoder_pretrain_steps", "encoder.pretrain_steps",
        [](O& o) -> int64_t& { return o.encoder.pretrain_steps; }, 0.0, config::kMaxSteps,
        "Steps of the encoder's one-time pretraining (cached by settings).");
    t->String(
        "model.cache_dir", "cache_dir", [](O& o) -> std::string& { return o.cache_dir; },
        "Where the pretrained encoder is cached. Default: <directory of sweep.output>/cache.")
        .WithIdentity(config::IdentityRule::kNever);  // Where, not what: results do not change.
    t->Enum(
         "model.quecc_init", "quecc_init", [](O& o) -> std::string& { return o.quecc_init; },
         {"random", "avgpool"},
         "How quecc's layers start: random (PyTorch's defaults) or avgpool (its residual branches "
         "at zero and its strided convolution the k x k mean: avgpool's tokens before any step). "
         "Other methods ignore it.")
        .WithIdentity(config::IdentityRule::kUnlessDefault);
    // [train], [eval]: the trainer.
    t->Int(
        "train.steps", "train.steps", [](O& o) -> int64_t& { return o.train.steps; }, 1.0,
        config::kMaxSteps, "Optimizer steps.");
    t->Int(
        "train.batch_size", "train.batch_size", [](O& o) -> int64_t& { return o.train.batch_size; },
        1.0, config::kMaxBatch,
        "Global batch size (split across the job's ranks; at least run.ranks_per_job).");
    t->Double(
        "train.lr", "train.lr", [](O& o) -> double& { return o.train.lr; }, 0.0, 1e3,
        "Peak learning rate (AdamW).");
    t->Double(
        "train.lr_width_exponent", "train.lr_width_exponent",
        [](O& o) -> double& { return o.train.lr_width_exponent; }, 0.0, 2.0,
        "Learning rate per LLM width: a model of width d trains with "
        "lr * (lr_reference_width / d)^lr_width_exponent (0: every size uses lr; 1: muP's rule).")
        .WithIdentity(config::IdentityRule::kUnlessDefault);
    t->Int(
        "train.lr_reference_width", "train.lr_reference_width",
        [](O& o) -> int64_t& { return o.train.lr_reference_width; }, 1.0, 1 << 20,
        "The LLM width that trains with exactly train.lr (see train.lr_width_exponent).")
        .WithIdentity(config::IdentityRule::kUnlessDefault);
    t->Int(
        "train.warmup_steps", "train.warmup_steps",
        [](O& o) -> int64_t& { return o.train.warmup_steps; }, 0.0, config::kMaxSteps,
        "Linear warmup steps (at most train.steps).");
    t->Int(
        "train.align_steps", "train.align_steps",
        [](O& o) -> int64_t& { return o.train.align_steps; }, 0.0, config::kMaxSteps,
        "First steps that train only the compressor, projector and visual positions, the LLM "
        "frozen (LLaVA's stage-1 alignment; at most train.steps).");
    t->Double(
        "train.visual_lr", "train.visual_lr",
        [](O& o) -> double& { return o.train.visual_lr; }, 0.0, 1.0,
        "Peak learning rate of the visual pathway (compressor, projector, visual positions), "
        "not scaled by train.lr_width_exponent (0: the LLM's rate).")
        .WithIdentity(config::IdentityRule::kUnlessDefault);
    t->Double(
        "train.align_aux_weight", "train.align_aux_weight",
        [](O& o) -> double& { return o.train.align_aux_weight; }, 0.0, 1e3,
        "Weight of the alignment loss: in the first train.align_steps steps the visual pathway "
        "also learns to read every encoder patch's label back from the visual tokens (0: off).")
        .WithIdentity(config::IdentityRule::kUnlessDefault);
    t->Enum(
        "train.projector_init", "projector_init",
        [](O& o) -> std::string& { return o.projector_init; }, {"fresh", "pretrained"},
        "The projector a job starts from: fresh (random, per seed) or pretrained (its pretrain_llm "
        "parent's, saved in llm.pt; the stage must need a pretrain_llm stage).")
        .WithIdentity(config::IdentityRule::kUnlessDefault);
    t->Double(
        "train.weight_decay", "train.weight_decay",
        [](O& o) -> double& { return o.train.weight_decay; }, 0.0, 1e3, "AdamW weight decay.");
    // "1.0", not "1": job ids hash the default's text, and it has always been written so.
    t->Double(
        "train.grad_clip", "train.grad_clip", [](O& o) -> double& { return o.train.grad_clip; },
        0.0, 1e12, "Global gradient-norm clip (0 disables).", "1.0");
    t->Int(
        "train.log_every", "train.log_every", [](O& o) -> int64_t& { return o.train.log_every; },
        1.0, config::kMaxSteps, "Steps between training-curve points.");
    t->Int(
        "eval.examples", "train.eval_examples",
        [](O& o) -> int64_t& { return o.train.eval_examples; }, 1.0, config::kMaxBatch,
        "Held-out evaluation examples (at least run.ranks_per_job).");
    t->Int(
        "eval.batch_size", "train.eval_batch_size",
        [](O& o) -> int64_t& { return o.train.eval_batch_size; }, 1.0, config::kMaxBatch,
        "Evaluation batch size.");
    t->IntConverted(
        "run.feature_cache_mb", "train.feature_cache_bytes",
        [](const O& o) { return o.train.feature_cache_bytes >> 20; },
        [](O* o, int64_t mb) { o->train.feature_cache_bytes = mb << 20; }, 0.0, 1 << 30,
        "Per-rank memory for frozen-encoder features reused by later finetune_eval jobs of the "
        "same task and seed (half precision; 0 disables). Does not change results.");
    return t;
  }();
  return *table;
}

// The key tables state the types and outer ranges the schema checks on load (every number key
// has one, so that nothing downstream overflows); the finer rules (image_size in [48, 1024],
// vision_width a multiple of 16, ...) have one owner, the options' IsValid, which Parse and
// CheckPoint run and whose field names KeyOf maps to keys.

// Every finetune_eval job id has the generators' versions (a changed generator draws other
// examples, so other results), then the keys of these sections (KeySpec::identity says which).
std::string IdentityText(const config::Config& config) {
  return tasks::TaskGeneratorsText() + config.IdentityText({"model", "train", "eval"});
}

std::string DefaultCacheDir(const std::string& results_path) {
  return (std::filesystem::absolute(results_path).parent_path() / "cache").string();
}

class FinetuneEvalSettings : public BuiltinModelSettings<FinetuneEvalOptions> {
 public:
  using BuiltinModelSettings::BuiltinModelSettings;

  Status CheckPreset(const config::Config& c, const config::LlmPreset& p) const override {
    return CheckBuildablePreset(c, p, "finetune_eval");
  }

  // The model options of the point: the job's VlmOptions::IsValid at plan time.
  Status CheckPoint(const config::GridPoint& point, const config::LlmPreset& llm) const override {
    const std::string expected =
        vlm::CheckMethodTokens(point.method, point.visual_tokens, options_.encoder.grid_size);
    if (!expected.empty()) {
      return Bad("grid.visual_tokens", "method '" + point.method + "' cannot produce " +
                                           std::to_string(point.visual_tokens) +
                                           " visual tokens: expected " + expected);
    }
    config::JobSpec spec;
    spec.point = point;
    spec.llm = llm;
    Result<FinetuneEvalSetup> setup = MakeFinetuneEvalSetup(options_, spec, "");
    if (!setup.ok()) return Bad("grid.task", setup.status().message());
    std::string error, field;
    if (!setup->model.IsValid(&error, &field)) {
      static const std::map<std::string, std::string> keys = {
          {"method", "grid.method"},
          {"grid_size", "model.grid_size"},
          {"vision_width", "model.vision_width"}};
      return Bad(ModelFieldKey(field, llm, keys, "grid.visual_tokens"),
                 "grid point llm=" + point.llm + " method=" + point.method +
                     " visual_tokens=" + std::to_string(point.visual_tokens) + ": " + error);
    }
    return Status::OK();
  }

  int64_t TextTokens(const config::GridPoint& point) const override {
    return TaskTextTokens(point.task);
  }
  double EstimateCost(const config::GridPoint& point, int64_t text_tokens) const override {
    return VlmTrainingFlops(options_.encoder, point.n_params, text_tokens + point.visual_tokens,
                            options_.train);
  }

  // The plugin's job (jobs/torch_jobs.h), once `run` loaded it.
  std::unique_ptr<Job> MakeJob() const override {
    const TorchJobsApi* api = TorchJobs();
    return api ? api->make_finetune_eval(options_) : MakeTorchJobUnavailable("finetune_eval");
  }
};

class FinetuneEvalType : public JobType {
 public:
  std::string name() const override { return "finetune_eval"; }
  std::vector<config::KeySpec> Keys() const override { return Table().keys(); }
  bool NeedsTorch() const override { return true; }

  Result<std::shared_ptr<const JobSettings>> Parse(const config::Config& config,
                                                   const PlanContext& context) const override {
    FinetuneEvalOptions options = ReadFinetuneEvalOptions(config, context.results_path);
    auto settings = std::make_shared<FinetuneEvalSettings>(options, config, IdentityText(config));
    // Sweep-wide checks: everything the job checks that does not depend on the grid point.
    std::string error, field;
    if (!options.encoder.IsValid(&error, &field)) {
      return settings->Bad(Table().KeyOf("encoder." + field), error);
    }
    if (!options.train.IsValid(&error, &field)) {
      return settings->Bad(Table().KeyOf("train." + field), error);
    }
    if (options.projector_init == "pretrained" &&
        std::find(context.needed_job_types.begin(), context.needed_job_types.end(),
                  "pretrain_llm") == context.needed_job_types.end()) {
      return settings->Bad("train.projector_init",
                           "'pretrained' starts from a pretrain_llm job's projector, but this "
                           "stage needs no pretrain_llm stage (add one to its needs, or set fresh)");
    }
    VLM_RETURN_IF_ERROR(
        settings->CheckRanksPerJob(context.ranks_per_job, "train.batch_size", "eval.examples"));
    return std::shared_ptr<const JobSettings>(settings);
  }
};

}  // namespace

std::string FinetuneEvalKeyOf(const std::string& field) { return Table().KeyOf(field); }

Status CheckBuildablePreset(const config::Config& c, const config::LlmPreset& p,
                            const std::string& job_type) {
  const std::string prefix = "llm." + p.name + ".";
  for (const char* k : {"width", "depth", "heads"}) {
    if (!c.IsSet(prefix + k)) {
      return Status::InvalidInput((c.path().empty() ? "config" : c.path()) +
                                  ": missing required key '" + k + "' in section [llm." + p.name +
                                  "] (" + job_type + " builds the model from it)");
    }
  }
  if (c.IsSet(prefix + "n_params")) {
    return config::KeyError(c, prefix + "n_params",
                            "not allowed for " + job_type +
                                " jobs (N is computed from width, depth and mlp_ratio); remove it");
  }
  if (p.width % p.heads != 0) {
    return config::KeyError(c, prefix + "heads",
                            "expected a divisor of width = " + std::to_string(p.width) + ", got " +
                                std::to_string(p.heads));
  }
  return Status::OK();
}

FinetuneEvalOptions ReadFinetuneEvalOptions(const config::Config& config,
                                            const std::string& results_path) {
  FinetuneEvalOptions options;
  Table().Read(config, &options);
  if (options.cache_dir.empty()) options.cache_dir = DefaultCacheDir(results_path);
  return options;
}

Result<FinetuneEvalSetup> MakeFinetuneEvalSetup(const FinetuneEvalOptions& options,
                                                const config::JobSpec& spec,
                                                const std::string& job_dir) {
  const config::GridPoint& point = spec.point;
  FinetuneEvalSetup s;
  s.task = point.task;
  s.encoder = options.encoder;
  s.cache_dir = options.cache_dir;
  VLM_ASSIGN_OR_RETURN(tasks::TaskShape shape, tasks::FindTaskShape(point.task));
  s.model.width = spec.llm.width;
  s.model.depth = spec.llm.depth;
  s.model.heads = spec.llm.heads;
  s.model.mlp_ratio = spec.llm.mlp_ratio;
  s.model.vocab_size = shape.vocab_size;
  s.model.question_tokens = shape.question_tokens;
  s.model.num_answers = shape.num_answers;
  s.model.grid_size = s.encoder.grid_size;
  s.model.vision_width = s.encoder.vision_width;
  s.model.method = point.method;
  s.model.visual_tokens = point.visual_tokens;
  s.model.quecc_init = options.quecc_init;
  if (options.train.align_aux_weight > 0.0) s.model.align_classes = tasks::kNumPretextClasses;
  s.train = options.train;
  s.train.lr = train::ScaledLearningRate(options.train, spec.llm.width);
  s.train.seed = static_cast<uint64_t>(point.seed);
  if (!job_dir.empty()) {
    s.train.checkpoint_path = (std::filesystem::path(job_dir) / "checkpoint.pt").string();
  }
  return s;
}

std::shared_ptr<const JobType> FinetuneEvalJobType() {
  return std::make_shared<FinetuneEvalType>();
}

double VlmTrainingFlops(const vlm::EncoderOptions& e, double n_params, int64_t tokens,
                        const train::TrainOptions& train) {
  const double width = static_cast<double>(e.vision_width);
  const double encoder_params = static_cast<double>(e.depth) * 12.0 * width * width;
  const double per_example = 6.0 * n_params * static_cast<double>(tokens) +
                             2.0 * encoder_params * static_cast<double>(e.grid_size * e.grid_size);
  return per_example * static_cast<double>(train.steps * train.batch_size);
}

std::string ModelFieldKey(const std::string& field, const config::LlmPreset& llm,
                          const std::map<std::string, std::string>& keys,
                          const std::string& fallback) {
  if (field == "width" || field == "depth" || field == "heads" || field == "mlp_ratio") {
    return llm.builtin ? "grid.llm" : "llm." + llm.name + "." + field;
  }
  auto it = keys.find(field);
  return it == keys.end() ? fallback : it->second;
}

Status OriginKeyError(const std::map<std::string, std::string>& origins, const std::string& key,
                      const std::string& message) {
  auto it = origins.find(key);
  const std::string origin = it == origins.end() ? "config" : it->second;
  return Status::InvalidInput(origin + ": key '" + key + "': " + message);
}

}  // namespace vlmscale::jobs
