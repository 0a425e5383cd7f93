// The "finetune_eval" job type's options and descriptor (no libtorch): the built-in VLM, finetuned
// and evaluated per grid point (finetune_eval_job.cc runs it).
//
// Keys: [model] image_size, grid_size, vision_width, encoder_depth, encoder_pretrain_steps,
// cache_dir; [train] steps, batch_size, lr, warmup_steps, weight_decay, grad_clip, log_every;
// [eval] examples, batch_size; [run] feature_cache_mb. The grid point gives the LLM preset,
// method, V, task and seed. Plan time runs every IsValid the job would run when it starts
// (encoder, trainer, task and model options) for every grid point.
// Checkpoint: <JobInput::job_dir>/checkpoint.pt (resumed by a later attempt of the same job).
// Start: the LLM's weights come from <dir>/llm.pt of a parent job (a pretrain_llm stage it needs,
// see jobs/pretrain_llm/pretrain_llm_type.h) when there is one, else from the seed.
// Metrics: error, accuracy, eval_loss, inference_flops, compressor_flops, latency_ms, plus extras
// accuracy.<template>, llm_params, trainable_params, final_train_loss, steps_per_second,
// resumed_from_step, peak_rss_mb, num_buckets, pretrained (1 when the LLM started from a parent's
// llm.pt, else 0).
#ifndef VLMSCALE_JOBS_FINETUNE_EVAL_FINETUNE_EVAL_TYPE_H_
#define VLMSCALE_JOBS_FINETUNE_EVAL_FINETUNE_EVAL_TYPE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "config/config.h"
#include "jobs/job_type.h"
#include "train/train_options.h"
#include "vlm/vlm_options.h"

namespace vlmscale::jobs {

struct FinetuneEvalOptions {
  // The frozen vision encoder ([model] keys); its seed is 0: one encoder per [model] settings,
  // shared by every job of the sweep.
  vlm::EncoderOptions encoder;
  // Training and evaluation ([train], [eval], run.feature_cache_mb).
  train::TrainOptions train;
  // Where the pretrained encoder is cached. Default: "" (the planner resolves it to
  // <directory of the results file>/cache).
  std::string cache_dir;
  // train.projector_init: "fresh" (a new projector per job) or "pretrained" (the pretrain_llm
  // parent's, from llm.pt; needs a pretrain_llm stage among the stage's needs).
  std::string projector_init = "fresh";
  // model.quecc_init: how quecc's layers start (vlm::VlmOptions::quecc_init owns the default).
  std::string quecc_init = vlm::VlmOptions{}.quecc_init;
};

// What one grid point's job builds from the options: the task, encoder, model and trainer
// options (the model's task-derived sizes filled from tasks::FindTaskShape).
struct FinetuneEvalSetup {
  std::string task;
  vlm::EncoderOptions encoder;
  vlm::VlmOptions model;
  train::TrainOptions train;
  std::string cache_dir;
};

// The setup of the grid point `spec` (checkpoint under `job_dir` when non-empty). kInvalidInput
// for an unknown task.
Result<FinetuneEvalSetup> MakeFinetuneEvalSetup(const FinetuneEvalOptions& options,
                                                const config::JobSpec& spec,
                                                const std::string& job_dir);

// The descriptor registered as "finetune_eval".
std::shared_ptr<const JobType> FinetuneEvalJobType();

// Reads the finetune_eval options of a config (validated by ConfigSchema()); cache_dir resolved
// against `results_path` when empty. For tests and benchmarks.
FinetuneEvalOptions ReadFinetuneEvalOptions(const config::Config& config,
                                            const std::string& results_path);

// The config key bound to a field of FinetuneEvalOptions ("encoder.depth" ->
// "model.encoder_depth"), or "". Other job types that read the [model] keys name them with it.
std::string FinetuneEvalKeyOf(const std::string& field);

// The plan-time check of a user [llm.NAME] preset that a job of type `job_type` builds the
// built-in model from: width, depth and heads set, no n_params, heads dividing width.
// kInvalidInput naming the key.
Status CheckBuildablePreset(const config::Config& config, const config::LlmPreset& preset,
                            const std::string& job_type);

// Estimated training FLOPs of a job of the built-in VLM: forward and backward through the LLM
// (6*N per token over `tokens` = Q + V) plus the frozen encoder's forward over all G*G patches,
// per example and step. finetune_eval and pretrain_llm plan with it.
double VlmTrainingFlops(const vlm::EncoderOptions& encoder, double n_params, int64_t tokens,
                        const train::TrainOptions& train);

// "ORIGIN: key 'KEY': MESSAGE", ORIGIN from `origins` (key -> where its value came from; a
// planner keeps them, as it outlives the Config) or "config".
Status OriginKeyError(const std::map<std::string, std::string>& origins, const std::string& key,
                      const std::string& message);

// The config key to name for an invalid field of the model's VlmOptions: a [llm.NAME] preset's
// width, depth, heads or mlp_ratio (grid.llm for a built-in preset), the field's entry in
// `keys`, or else `fallback`.
std::string ModelFieldKey(const std::string& field, const config::LlmPreset& llm,
                          const std::map<std::string, std::string>& keys,
                          const std::string& fallback);

// What the job types of the built-in model (finetune_eval, pretrain_llm) share at plan time:
// their options, where each config value came from (a planner outlives the Config), the
// identity text, and errors that name the key and its origin.
template <typename Options>
class BuiltinModelSettings : public JobSettings {
 public:
  BuiltinModelSettings(Options options, const config::Config& config, std::string identity)
      : options_(std::move(options)), identity_(std::move(identity)) {
    for (const auto& [key, value] : config.values()) origins_[key] = value.origin;
  }

  std::string IdentityText() const override { return identity_; }

  // "ORIGIN: key 'KEY': MESSAGE".
  Status Bad(const std::string& key, const std::string& message) const {
    return OriginKeyError(origins_, key, message);
  }

  // Every rank of a job needs an example per step and a share of the evaluation: the batch size
  // and the eval examples (named by their keys) must reach run.ranks_per_job = `ranks`.
  Status CheckRanksPerJob(int64_t ranks, const std::string& batch_key,
                          const std::string& eval_key) const {
    if (options_.train.batch_size < ranks) {
      return Bad(batch_key, "expected at least run.ranks_per_job = " + std::to_string(ranks) +
                                " (every rank of a job needs an example per step), got " +
                                std::to_string(options_.train.batch_size));
    }
    if (options_.train.eval_examples < ranks) {
      return Bad(eval_key, "expected at least run.ranks_per_job = " + std::to_string(ranks) +
                               " (every rank evaluates a share), got " +
                               std::to_string(options_.train.eval_examples));
    }
    return Status::OK();
  }

 protected:
  const Options options_;

 private:
  std::map<std::string, std::string> origins_;
  const std::string identity_;
};

}  // namespace vlmscale::jobs

#endif  // VLMSCALE_JOBS_FINETUNE_EVAL_FINETUNE_EVAL_TYPE_H_
