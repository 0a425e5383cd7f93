// The "pretrain_llm" job type's options and descriptor (no libtorch): pretrains the LLM of one
// size preset once, for the finetune_eval jobs of a later stage to start from
// (pretrain_llm_job.cc runs it).
//
//   [stage.pretrain]
//   type = pretrain_llm
//   over = llm
//   [stage.finetune]
//   type = finetune_eval
//   needs = pretrain
//
// One job per grid llm (RequiredAxes() is {"llm"}; the other grid axes are ignored). It trains the
// whole built-in VLM (the frozen pretrained encoder of the [model] keys, shared with
// finetune_eval; a fresh compressor, projector and LLM) with the trainer on its own task,
// compressor, V and budget ([pretrain_llm] keys), evaluates it, and saves the LLM part to
// <job_dir>/llm.pt (format in vlm/llm_checkpoint.h). The LLM's vocabulary is its task's
// (tasks::FindTaskShape) and its shape the grid's llm preset: exactly what a finetune_eval job of
// the same llm builds, whatever its task, method or V.
//
// Keys: [pretrain_llm] task, method, visual_tokens, steps, batch_size, lr, lr_width_exponent,
// lr_reference_width, warmup_steps, symbolic_steps, curriculum_steps (the symbolic scenes and
// the curriculum of train/train_options.h), weight_decay, log_every, eval_examples, seed; and
// finetune_eval's [model] keys (the encoder and its cache), [eval] batch_size and
// run.feature_cache_mb, read as the stage sees them.
// Checkpoint of its own progress: <job_dir>/checkpoint.pt (resumed by a later attempt).
// Metrics: error, accuracy, eval_loss (of the pretraining task), inference_flops,
// compressor_flops, latency_ms, accuracy.<template>, llm_params, trainable_params,
// final_train_loss, symbolic_error (with symbolic_steps: the error on the eval examples read as
// symbolic scenes), steps_per_second, resumed_from_step, num_buckets, peak_rss_mb; curves
// train_loss, lr, eval_loss, eval_accuracy.
#ifndef VLMSCALE_JOBS_PRETRAIN_LLM_PRETRAIN_LLM_TYPE_H_
#define VLMSCALE_JOBS_PRETRAIN_LLM_PRETRAIN_LLM_TYPE_H_

#include <memory>
#include <string>

#include "jobs/finetune_eval/finetune_eval_type.h"
#include "jobs/job_type.h"
#include "train/train_options.h"

namespace vlmscale::jobs {

// The name of the LLM checkpoint a pretrain_llm job leaves in its job directory.
inline constexpr const char* kLlmCheckpointFile = "llm.pt";

// The trainer's budget of a pretraining job where it differs from TrainOptions' defaults (sized
// for seconds to a minute of CPU for the nano and micro presets).
train::TrainOptions DefaultPretrainTrainOptions();

struct PretrainLlmOptions {
  // The pretraining task. Default: the first built-in task (tasks::TaskNames()).
  // REQUIRES: a built-in task.
  std::string task = tasks::TaskNames().front();
  // Compressor and visual token count V during pretraining. Defaults: VlmOptions' ("avgpool",
  // 16). REQUIRES: CheckMethodTokens(method, visual_tokens, model.grid_size) == "".
  std::string method = vlm::VlmOptions{}.method;
  int64_t visual_tokens = vlm::VlmOptions{}.visual_tokens;
  // The trainer ([pretrain_llm] keys; eval_batch_size and feature_cache_bytes from finetune_eval's
  // [eval] batch_size and run.feature_cache_mb, which do not change results). The seed is
  // [pretrain_llm] seed. Default: DefaultPretrainTrainOptions().
  train::TrainOptions train = DefaultPretrainTrainOptions();
  // The frozen encoder and its cache directory: finetune_eval's [model] keys.
  vlm::EncoderOptions encoder;
  std::string cache_dir;
};

// Reads the options of a config (as its stage sees it); cache_dir resolved against
// `results_path` when empty.
PretrainLlmOptions ReadPretrainLlmOptions(const config::Config& config,
                                          const std::string& results_path);

// What the job of grid point `spec` (its llm) builds: the task, encoder, model and trainer
// options (checkpoint under `job_dir` when non-empty). kInvalidInput for an unknown task.
Result<FinetuneEvalSetup> MakePretrainLlmSetup(const PretrainLlmOptions& options,
                                               const config::JobSpec& spec,
                                               const std::string& job_dir);

// The descriptor registered as "pretrain_llm".
std::shared_ptr<const JobType> PretrainLlmJobType();

}  // namespace vlmscale::jobs

#endif  // VLMSCALE_JOBS_PRETRAIN_LLM_PRETRAIN_LLM_TYPE_H_
