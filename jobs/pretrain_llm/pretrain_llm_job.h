// The "pretrain_llm" job: trains the built-in VLM of its llm on the pretraining task and saves
// the LLM part to <job_dir>/llm.pt (jobs/pretrain_llm/pretrain_llm_type.h). Declared without
// libtorch (the descriptor in pretrain_llm_type.cc makes it); defined in pretrain_llm_job.cc,
// compiled only when the build has libtorch.
#ifndef VLMSCALE_JOBS_PRETRAIN_LLM_PRETRAIN_LLM_JOB_H_
#define VLMSCALE_JOBS_PRETRAIN_LLM_PRETRAIN_LLM_JOB_H_

#include <memory>

#include "jobs/job.h"
#include "jobs/pretrain_llm/pretrain_llm_type.h"

namespace vlmscale::jobs {

std::unique_ptr<Job> MakePretrainLlmJob(const PretrainLlmOptions& options);

}  // namespace vlmscale::jobs

#endif  // VLMSCALE_JOBS_PRETRAIN_LLM_PRETRAIN_LLM_JOB_H_
