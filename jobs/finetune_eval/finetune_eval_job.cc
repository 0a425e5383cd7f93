#include "jobs/finetune_eval/finetune_eval_job.h"

#include <sys/resource.h>
#include <torch/torch.h>

#include <filesystem>
#include <map>
#include <mutex>
#include <new>
#include <utility>

#include "jobs/finetune_eval/vlm_training.h"
#include "tasks/baseline.h"
#include "tasks/task.h"
#include "train/blas_threads.h"
#include "train/malloc_tuning.h"
#include "train/trainer.h"
#include "vlm/llm_checkpoint.h"
#include "vlm/vision_encoder.h"
#include "vlm/vlm.h"

namespace vlmscale::jobs {

namespace {

double PeakRssMb() {
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // Linux reports KiB.
}

// The image-blind baselines of `task` (tasks/baseline.h), estimated once per task and process
// (about 0.1 s) from the default 20,000 train and 5,000 eval examples.
tasks::BaselineSummary TaskBaselines(const tasks::Task& task) {
  static std::mutex mutex;
  static std::map<std::string, tasks::BaselineSummary> cache;
  std::lock_guard<std::mutex> lock(mutex);
  auto it = cache.find(task.name());
  if (it == cache.end()) {
    it = cache.emplace(task.name(), tasks::EstimateBaselines(task, tasks::BaselineOptions())).first;
  }
  return it->second;
}

Status RunVlmTrainingOrThrow(FinetuneEvalSetup setup, const JobEnv& env,
                             const train::ModelHooks& hooks, JobOutput* output) {
  CHECK(env.comm != nullptr && output != nullptr);
  output->failure_class = "error";  // Until it succeeds or is cancelled.
  train::TuneMallocForTraining();
  train::LimitBlasThreads();
  if (env.threads >= 1) torch::set_num_threads(env.threads);

  std::string error;
  if (!setup.encoder.IsValid(&error)) return Status::InvalidInput("[model] " + error);
  if (!setup.train.IsValid(&error)) return Status::InvalidInput(error);
  setup.train.device = env.device;
  // Later jobs of this rank with the same task and seed reuse this encoder's features.
  setup.train.feature_cache_key = vlm::EncoderCachePath(setup.encoder, setup.cache_dir);
  tasks::TaskOptions task_options;
  task_options.image_size = setup.encoder.image_size;
  VLM_ASSIGN_OR_RETURN(std::unique_ptr<tasks::Task> task,
                       tasks::MakeTask(setup.task, task_options));
  CHECK_EQ(setup.model.question_tokens, task->question_tokens());
  if (!setup.model.IsValid(&error)) return Status::InvalidInput(error);

  // Rank 0 loads (or pretrains and caches) the encoder first, so the other ranks of the group
  // only wait on the barrier instead of queueing on the cache lock.
  if (env.comm->rank() != 0) VLM_RETURN_IF_ERROR(env.comm->Barrier());
  auto encoder =
      vlm::LoadOrPretrainEncoder(setup.encoder, setup.cache_dir, std::max(1, env.threads));
  if (env.comm->rank() == 0) VLM_RETURN_IF_ERROR(env.comm->Barrier());
  if (!encoder.ok()) return encoder.status().WithPrefix("vision encoder");

  // Every optimizer step is progress for the driver's stall detection.
  if (env.heartbeat) {
    setup.train.on_step = [heartbeat = env.heartbeat](const train::StepInfo&) { heartbeat(); };
  }
  train::TrainResult result;
  Status status = train::TrainAndEvaluate(setup.train, setup.model, *task, *encoder, env.comm,
                                          env.stop_requested, &result, &hooks);
  output->curves = result.curves;
  output->train_seconds = result.train_seconds;
  output->eval_seconds = result.eval_seconds;
  if (status.IsCancelled()) {
    output->failure_class.clear();
    return status;
  }
  if (!status.ok()) {
    output->failure_class = result.failure_class.empty() ? "error" : result.failure_class;
    return status;
  }
  output->failure_class.clear();
  auto& m = output->metrics;
  m["error"] = result.error;
  m["accuracy"] = result.accuracy;
  m["eval_loss"] = result.eval_loss;
  for (const auto& [type, accuracy] : result.type_accuracy) m["accuracy." + type] = accuracy;
  // What the question text alone reaches, next to the measured accuracy (docs/MODEL.md).
  const tasks::BaselineSummary baseline = TaskBaselines(*task);
  for (const auto& [type, accuracy] : baseline.qonly_accuracy) {
    m["qonly_accuracy." + type] = accuracy;
  }
  m["qonly_error"] = baseline.qonly_error;
  m["majority_error"] = baseline.majority_error;
  m["inference_flops"] = result.inference_flops;
  m["compressor_flops"] = result.compressor_flops;
  m["latency_ms"] = result.latency_ms;
  m["llm_params"] = result.llm_params;
  m["trainable_params"] = result.trainable_params;
  m["final_train_loss"] = result.final_train_loss;
  m["steps_per_second"] = result.steps_per_second;
  m["resumed_from_step"] = static_cast<double>(result.resumed_from_step);
  m["num_buckets"] = result.num_buckets;
  m["peak_rss_mb"] = PeakRssMb();
  return Status::OK();
}

// The parent whose LLM checkpoint this job starts from: the first of input.parents that belongs
// to a pretrain_llm stage or whose directory holds llm.pt; nullptr when there is none.
const ParentArtifact* PretrainedParent(const JobInput& input) {
  for (const ParentArtifact& parent : input.parents) {
    bool pretrain_stage = false;
    if (input.sweep != nullptr) {
      for (const config::StageSpec& stage : input.sweep->stages) {
        if (stage.name == parent.stage && stage.job_type == "pretrain_llm") pretrain_stage = true;
      }
    }
    const bool has_file = !parent.dir.empty() &&
                          std::filesystem::exists(std::filesystem::path(parent.dir) / "llm.pt");
    if (pretrain_stage || has_file) return &parent;
  }
  return nullptr;
}

class FinetuneEvalJob : public Job {
 public:
  explicit FinetuneEvalJob(const FinetuneEvalOptions& options) : options_(options) {}
  Status Run(const JobInput& input, const JobEnv& env, JobOutput* output) override {
    CHECK(input.spec != nullptr && output != nullptr);
    output->failure_class = "error";
    Result<FinetuneEvalSetup> setup = MakeFinetuneEvalSetup(options_, *input.spec, input.job_dir);
    if (!setup.ok()) return setup.status();
    // Start from the parent's pretrained LLM (not when resuming checkpoint.pt, which holds it;
    // the parent's id is part of that checkpoint's fingerprint).
    train::ModelHooks hooks;
    const ParentArtifact* parent = PretrainedParent(input);
    if (parent != nullptr) {
      const std::string path = (std::filesystem::path(parent->dir) / "llm.pt").string();
      hooks.initialize_identity = "pretrain_llm:" + parent->job_id;
      vlm::LlmLoadOptions load;
      load.projector = options_.projector_init == "pretrained";
      hooks.initialize = [path, load, task = setup->task](vlm::VlmImpl& model) {
        return vlm::LoadLlmCheckpoint(path, task, load, model, nullptr);
      };
    }
    Status status = RunVlmTraining("finetune_eval", std::move(setup.value()), env, hooks, output);
    if (status.ok()) output->metrics["pretrained"] = parent != nullptr ? 1.0 : 0.0;
    return status;
  }

 private:
  const FinetuneEvalOptions options_;
};

}  // namespace

Status RunVlmTraining(const std::string& job_type, FinetuneEvalSetup setup, const JobEnv& env,
                      const train::ModelHooks& hooks, JobOutput* output) {
  try {
    return RunVlmTrainingOrThrow(std::move(setup), env, hooks, output);
  } catch (const std::bad_alloc& e) {
    output->failure_class = "oom";
    return Status::Runtime(std::string("out of memory: ") + e.what());
  } catch (const c10::Error& e) {
    output->failure_class = "error";
    return Status::Runtime(std::string("libtorch error: ") + e.what_without_backtrace());
  } catch (const std::exception& e) {
    output->failure_class = "error";
    return Status::Runtime(job_type + " failed: " + e.what());
  }
}

std::unique_ptr<Job> MakeFinetuneEvalJob(const FinetuneEvalOptions& options) {
  return std::make_unique<FinetuneEvalJob>(options);
}

}  // namespace vlmscale::jobs
