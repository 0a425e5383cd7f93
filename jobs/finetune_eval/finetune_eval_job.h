// The "finetune_eval" job type: builds the grid point's task, frozen encoder and Vlm from the
// config and trains/evaluates it with train::TrainAndEvaluate on the job group's ranks.
//
// Config read: [model] image_size, grid_size, vision_width, encoder_depth,
// encoder_pretrain_steps, cache_dir (empty: <directory of sweep.output>/cache);
// [train] steps, batch_size, lr, warmup_steps, weight_decay, grad_clip, log_every;
// [eval] examples, batch_size; [run] feature_cache_mb; the LLM preset of the point
// (config::FindLlmPreset).
// Checkpoint: <JobInput::job_dir>/checkpoint.pt (resumed by a later attempt of the same job).
// Metrics: error, accuracy, eval_loss, inference_flops, compressor_flops, latency_ms, plus extras
// llm_params, trainable_params, final_train_loss, steps_per_second, resumed_from_step,
// peak_rss_mb, num_buckets.
// Light on purpose (no libtorch): the registry includes it. The setup it derives from a job
// input is in finetune_eval_setup.h.
#ifndef VLMSCALE_JOBS_FINETUNE_EVAL_FINETUNE_EVAL_JOB_H_
#define VLMSCALE_JOBS_FINETUNE_EVAL_FINETUNE_EVAL_JOB_H_

#include <memory>

#include "jobs/job.h"

namespace vlmscale::jobs {

std::unique_ptr<Job> MakeFinetuneEvalJob();

}  // namespace vlmscale::jobs

#endif  // VLMSCALE_JOBS_FINETUNE_EVAL_FINETUNE_EVAL_JOB_H_
