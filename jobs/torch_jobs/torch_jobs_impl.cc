#include "jobs/torch_jobs/torch_jobs_impl.h"

#include "jobs/finetune_eval/finetune_eval_job.h"
#include "jobs/pretrain_llm/pretrain_llm_job.h"
#include "tasks/task_dump.h"

namespace vlmscale::jobs {

TorchJobsApi TorchJobsImpl() {
  TorchJobsApi api;
  api.make_finetune_eval = &MakeFinetuneEvalJob;
  api.make_pretrain_llm = &MakePretrainLlmJob;
  api.dump_tasks = &tasks::DumpExamples;
  return api;
}

}  // namespace vlmscale::jobs
