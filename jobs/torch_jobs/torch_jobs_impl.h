// The table of the libtorch job plugin (jobs/torch_jobs.h), in a static library
// (vlmscale_torch_jobs_impl) that the plugin wraps; tests that run these jobs in their own binary
// link it and install the table themselves:
//   jobs::InstallTorchJobs(jobs::TorchJobsImpl());
#ifndef VLMSCALE_JOBS_TORCH_JOBS_TORCH_JOBS_IMPL_H_
#define VLMSCALE_JOBS_TORCH_JOBS_TORCH_JOBS_IMPL_H_

#include "jobs/torch_jobs.h"

namespace vlmscale::jobs {

// Every entry set: the finetune_eval and pretrain_llm jobs, tasks::DumpExamples.
TorchJobsApi TorchJobsImpl();

}  // namespace vlmscale::jobs

#endif  // VLMSCALE_JOBS_TORCH_JOBS_TORCH_JOBS_IMPL_H_
