#include <map>
#include <mutex>

#include "jobs/job.h"
#include "jobs/sleep/sleep_job.h"
#if VLMSCALE_HAVE_FINETUNE_EVAL
#include "jobs/finetune_eval/finetune_eval_job.h"
#endif
#if VLMSCALE_HAVE_COMMAND_JOB
#include "jobs/command/command_job.h"
#endif

namespace vlmscale::jobs {

namespace {

std::mutex& RegistryMutex() {
  static std::mutex m;
  return m;
}

std::map<std::string, JobFactory>& Registry() {
  static std::map<std::string, JobFactory> r;
  return r;
}

}  // namespace

void RegisterJobType(const std::string& type, JobFactory factory) {
  std::lock_guard<std::mutex> lock(RegistryMutex());
  Registry()[type] = std::move(factory);
}

void RegisterBuiltinJobTypes() {
  RegisterJobType("sleep", &MakeSleepJob);
#if VLMSCALE_HAVE_FINETUNE_EVAL
  RegisterJobType("finetune_eval", &MakeFinetuneEvalJob);
#endif
#if VLMSCALE_HAVE_COMMAND_JOB
  RegisterJobType("command", &MakeCommandJob);
#endif
}

std::unique_ptr<Job> CreateJob(const std::string& type) {
  std::lock_guard<std::mutex> lock(RegistryMutex());
  auto it = Registry().find(type);
  if (it == Registry().end()) return nullptr;
  return it->second();
}

}  // namespace vlmscale::jobs
