// What the built-in model's job types share when they run (libtorch; only their *_job.cc files
// include it): build a FinetuneEvalSetup's task and frozen encoder, train and evaluate the Vlm
// on the job group's ranks, and report the trainer's result as the job's output.
#ifndef VLMSCALE_JOBS_FINETUNE_EVAL_VLM_TRAINING_H_
#define VLMSCALE_JOBS_FINETUNE_EVAL_VLM_TRAINING_H_

#include <string>

#include "jobs/finetune_eval/finetune_eval_type.h"
#include "jobs/job.h"
#include "train/trainer.h"

namespace vlmscale::jobs {

// Runs `setup` with train::TrainAndEvaluate (the encoder loaded or pretrained and cached first,
// rank 0 before the others; env.heartbeat called every step and env.progress with the phase,
// step, loss and new curve points; `hooks` passed on), writes <input.run_dir>/train.log from
// the group's rank 0 (settings, one-time encoder work, logged steps, evaluation, timing) and fills
// *output: metrics error, accuracy, eval_loss, accuracy.<template>, inference_flops,
// compressor_flops, latency_ms, llm_params, trainable_params, final_train_loss,
// steps_per_second, resumed_from_step, num_buckets, peak_rss_mb; curves; train/eval seconds;
// failure_class. Follows the Job::Run contract (Cancelled after checkpointing on a stop request).
// `job_type` prefixes unexpected errors. Never throws.
Status RunVlmTraining(const std::string& job_type, FinetuneEvalSetup setup, const JobInput& input,
                      const JobEnv& env, const train::ModelHooks& hooks, JobOutput* output);

}  // namespace vlmscale::jobs

#endif  // VLMSCALE_JOBS_FINETUNE_EVAL_VLM_TRAINING_H_
