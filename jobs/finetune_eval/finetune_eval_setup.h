// What a finetune_eval job derives from its input (config + grid point), exposed for tests and
// benchmarks; the job itself is made by MakeFinetuneEvalJob() (finetune_eval_job.h).
#ifndef VLMSCALE_JOBS_FINETUNE_EVAL_FINETUNE_EVAL_SETUP_H_
#define VLMSCALE_JOBS_FINETUNE_EVAL_FINETUNE_EVAL_SETUP_H_

#include <cstdint>
#include <string>

#include "jobs/job.h"
#include "train/trainer.h"

namespace vlmscale::jobs {

struct FinetuneEvalSetup {
  std::string task;
  int64_t image_size = 48;
  vlm::EncoderOptions encoder;
  vlm::VlmOptions model;  // vocab_size, question_tokens and num_answers are left 0 (from the task).
  train::TrainOptions train;
  std::string cache_dir;
};

// Reads the config and grid point of `input` into a setup (checkpoint under input.job_dir).
// Returns kInvalidInput when the point names an unknown LLM preset or the settings are invalid.
// REQUIRES: input.config and input.spec non-null.
Result<FinetuneEvalSetup> MakeFinetuneEvalSetup(const JobInput& input);

}  // namespace vlmscale::jobs

#endif  // VLMSCALE_JOBS_FINETUNE_EVAL_FINETUNE_EVAL_SETUP_H_
