// The "finetune_eval" job: builds the grid point's task, frozen encoder and Vlm from its
// FinetuneEvalOptions and trains/evaluates it with train::TrainAndEvaluate on the job group's
// ranks. Declared without libtorch (the descriptor in finetune_eval_type.cc makes it); defined in
// finetune_eval_job.cc, compiled only when the build has libtorch.
#ifndef VLMSCALE_JOBS_FINETUNE_EVAL_FINETUNE_EVAL_JOB_H_
#define VLMSCALE_JOBS_FINETUNE_EVAL_FINETUNE_EVAL_JOB_H_

#include <memory>

#include "jobs/finetune_eval/finetune_eval_type.h"
#include "jobs/job.h"

namespace vlmscale::jobs {

std::unique_ptr<Job> MakeFinetuneEvalJob(const FinetuneEvalOptions& options);

}  // namespace vlmscale::jobs

#endif  // VLMSCALE_JOBS_FINETUNE_EVAL_FINETUNE_EVAL_JOB_H_
