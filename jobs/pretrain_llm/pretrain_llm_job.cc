#include "jobs/pretrain_llm/pretrain_llm_job.h"

#include <filesystem>
#include <utility>

#include "jobs/finetune_eval/vlm_training.h"
#include "train/trainer.h"
#include "vlm/llm_checkpoint.h"
#include "vlm/vlm.h"

namespace vlmscale::jobs {

namespace {

class PretrainLlmJob : public Job {
 public:
  explicit PretrainLlmJob(const PretrainLlmOptions& options) : options_(options) {}

  Status Run(const JobInput& input, const JobEnv& env, JobOutput* output) override {
    CHECK(input.spec != nullptr && env.comm != nullptr && output != nullptr);
    output->failure_class = "error";
    if (input.job_dir.empty()) {
      return Status::InvalidInput("pretrain_llm needs a job directory for llm.pt");
    }
    Result<FinetuneEvalSetup> setup = MakePretrainLlmSetup(options_, *input.spec, input.job_dir);
    if (!setup.ok()) return setup.status();
    // After training and evaluation, rank 0 saves the LLM (every rank holds the same weights).
    train::ModelHooks hooks;
    const std::string path = (std::filesystem::path(input.job_dir) / kLlmCheckpointFile).string();
    hooks.trained = [path, task = setup->task, rank = env.comm->rank()](vlm::VlmImpl& model) {
      return rank == 0 ? vlm::SaveLlmCheckpoint(model, task, path) : Status::OK();
    };
    return RunVlmTraining("pretrain_llm", std::move(setup.value()), input, env, hooks, output);
  }

 private:
  const PretrainLlmOptions options_;
};

}  // namespace

std::unique_ptr<Job> MakePretrainLlmJob(const PretrainLlmOptions& options) {
  return std::make_unique<PretrainLlmJob>(options);
}

}  // namespace vlmscale::jobs
