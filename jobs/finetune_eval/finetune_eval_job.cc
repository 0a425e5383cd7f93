#include "jobs/finetune_eval/finetune_eval_job.h"

#include <sys/resource.h>
#include <torch/torch.h>

#include <filesystem>
#include <new>
#include <utility>

#include "config/sweep.h"
#include "jobs/finetune_eval/finetune_eval_setup.h"
#include "tasks/task.h"
#include "train/blas_threads.h"
#include "train/malloc_tuning.h"
#include "vlm/vision_encoder.h"
#include "vlm/vlm.h"

namespace vlmscale::jobs {

namespace {

double PeakRssMb() {
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // Linux reports KiB.
}

std::string DefaultCacheDir(const config::Config& config) {
  std::string output = config.GetString("sweep.output");
  if (output.empty()) output = "results/" + config.GetString("sweep.name") + ".h5";
  std::filesystem::path path = std::filesystem::absolute(output);
  return (path.parent_path() / "cache").string();
}

class FinetuneEvalJob : public Job {
 public:
  Status Run(const JobInput& input, const JobEnv& env, JobOutput* output) override {
    try {
      return RunOrThrow(input, env, output);
    } catch (const std::bad_alloc& e) {
      output->failure_class = "oom";
      return Status::Runtime(std::string("out of memory: ") + e.what());
    } catch (const c10::Error& e) {
      output->failure_class = "error";
      return Status::Runtime(std::string("libtorch error: ") + e.what_without_backtrace());
    } catch (const std::exception& e) {
      output->failure_class = "error";
      return Status::Runtime(std::string("finetune_eval failed: ") + e.what());
    }
  }

 private:
  Status RunOrThrow(const JobInput& input, const JobEnv& env, JobOutput* output) {
    CHECK(env.comm != nullptr && output != nullptr);
    output->failure_class = "error";  // Until it succeeds or is cancelled.
    train::TuneMallocForTraining();
    train::LimitBlasThreads();
    if (env.threads >= 1) torch::set_num_threads(env.threads);

    VLM_ASSIGN_OR_RETURN(FinetuneEvalSetup setup, MakeFinetuneEvalSetup(input));
    setup.train.device = env.device;
    // Later jobs of this rank with the same task and seed reuse this encoder's features.
    setup.train.feature_cache_key = vlm::EncoderCachePath(setup.encoder, setup.cache_dir);
    tasks::TaskOptions task_options;
    task_options.image_size = setup.image_size;
    VLM_ASSIGN_OR_RETURN(std::unique_ptr<tasks::Task> task,
                         tasks::MakeTask(setup.task, task_options));
    setup.model.vocab_size = task->vocab_size();
    setup.model.question_tokens = task->question_tokens();
    setup.model.num_answers = task->num_answers();

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
                                            env.stop_requested, &result);
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
};

}  // namespace

Result<FinetuneEvalSetup> MakeFinetuneEvalSetup(const JobInput& input) {
  CHECK(input.config != nullptr && input.spec != nullptr);
  const config::Config& c = *input.config;
  const config::GridPoint& point = input.spec->point;
  FinetuneEvalSetup s;
  s.task = point.task;
  s.image_size = c.GetInt("model.image_size");
  s.encoder.image_size = s.image_size;
  s.encoder.grid_size = c.GetInt("model.grid_size");
  s.encoder.vision_width = c.GetInt("model.vision_width");
  s.encoder.depth = c.GetInt("model.encoder_depth");
  s.encoder.pretrain_steps = c.GetInt("model.encoder_pretrain_steps");
  s.encoder.seed = 0;  // One encoder per [model] settings, shared by every job of the sweep.
  s.cache_dir = c.GetString("model.cache_dir");
  if (s.cache_dir.empty()) s.cache_dir = DefaultCacheDir(c);

  VLM_ASSIGN_OR_RETURN(config::LlmPreset llm, config::FindLlmPreset(c, point.llm));
  s.model.width = llm.width;
  s.model.depth = llm.depth;
  s.model.heads = llm.heads;
  s.model.mlp_ratio = llm.mlp_ratio;
  s.model.grid_size = s.encoder.grid_size;
  s.model.vision_width = s.encoder.vision_width;
  s.model.method = point.method;
  s.model.visual_tokens = point.visual_tokens;

  s.train.seed = static_cast<uint64_t>(point.seed);
  s.train.steps = c.GetInt("train.steps");
  s.train.batch_size = c.GetInt("train.batch_size");
  s.train.lr = c.GetDouble("train.lr");
  s.train.warmup_steps = c.GetInt("train.warmup_steps");
  s.train.weight_decay = c.GetDouble("train.weight_decay");
  s.train.grad_clip = c.GetDouble("train.grad_clip");
  s.train.log_every = c.GetInt("train.log_every");
  s.train.eval_examples = c.GetInt("eval.examples");
  s.train.eval_batch_size = c.GetInt("eval.batch_size");
  s.train.feature_cache_bytes = int64_t{c.GetInt("run.feature_cache_mb")} << 20;
  if (!input.job_dir.empty()) {
    s.train.checkpoint_path = (std::filesystem::path(input.job_dir) / "checkpoint.pt").string();
  }
  std::string error;
  if (!s.encoder.IsValid(&error)) return Status::InvalidInput("[model] " + error);
  if (!s.train.IsValid(&error)) return Status::InvalidInput(error);
  return s;
}

std::unique_ptr<Job> MakeFinetuneEvalJob() { return std::make_unique<FinetuneEvalJob>(); }

}  // namespace vlmscale::jobs
