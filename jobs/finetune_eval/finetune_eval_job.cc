#include "jobs/finetune_eval/finetune_eval_job.h"

#include <sys/resource.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <new>
#include <utility>

#include "core/strings.h"
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

// The per-attempt training log, <run_dir>/train.log: what the job is and its settings, the
// one-time work it does or waits for, a line per logged step, the evaluation and the timing.
// Written by the group's rank 0 a line at a time (flushed: `tail -f` follows it); other ranks
// and jobs without a run directory get a log that writes nothing.
class TrainLog {
 public:
  TrainLog(const std::string& path) : start_(std::chrono::steady_clock::now()) {
    if (path.empty()) return;
    out_.open(path, std::ios::app);
    if (!out_) std::cerr << "warning: cannot write the training log " << path << "\n";
  }
  void Line(const std::string& text) {
    if (!out_.is_open()) return;
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    char stamp[32];
    std::snprintf(stamp, sizeof(stamp), "[%8.1fs] ", elapsed);
    out_ << stamp << text << std::endl;
  }

 private:
  std::chrono::steady_clock::time_point start_;
  std::ofstream out_;
};

// Reports the job's phase through env.progress (no-op when unset).
void ReportPhase(const JobEnv& env, const std::string& phase, int64_t step, int64_t total,
                 double loss = std::nan("")) {
  if (!env.progress) return;
  JobProgress p;
  p.phase = phase;
  p.step = step;
  p.total = total;
  p.loss = loss;
  env.progress(p);
}

Status RunVlmTrainingOrThrow(const std::string& job_type, FinetuneEvalSetup setup,
                             const JobInput& input, const JobEnv& env,
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
  const bool leader = env.comm->rank() == 0;
  TrainLog log(leader && !input.run_dir.empty() ? input.run_dir + "/train.log" : "");
  const config::JobSpec& spec = *input.spec;
  log.Line(job_type + " job " + spec.id + ", attempt " + std::to_string(input.attempt) + ": llm " +
           spec.llm.name + " (width " + std::to_string(setup.model.width) + ", depth " +
           std::to_string(setup.model.depth) + ", heads " + std::to_string(setup.model.heads) +
           "), task " + setup.task + ", method " + setup.model.method + ", V " +
           std::to_string(setup.model.visual_tokens) + ", seed " +
           std::to_string(setup.train.seed) + "; " + std::to_string(env.comm->size()) +
           " rank(s), " + std::to_string(env.threads) + " thread(s) each, " +
           (env.device >= 0 ? "cuda:" + std::to_string(env.device) : std::string("cpu")));
  log.Line("train: steps " + std::to_string(setup.train.steps) + " (" +
           std::to_string(setup.train.align_steps) + " aligning), batch " +
           std::to_string(setup.train.batch_size) + ", lr " + FormatNumber(setup.train.lr) +
           (setup.train.visual_lr > 0 ? ", visual_lr " + FormatNumber(setup.train.visual_lr)
                                      : std::string()) +
           ", warmup " + std::to_string(setup.train.warmup_steps) + ", weight decay " +
           FormatNumber(setup.train.weight_decay) + ", eval examples " +
           std::to_string(setup.train.eval_examples));

  // Rank 0 loads (or pretrains and caches) the encoder first, so the other ranks of the group
  // only wait on the barrier instead of queueing on the cache lock. Pretraining is one-time work
  // that takes a while: it is announced, with its steps, in the log and through env.progress.
  const std::string encoder_phase = "vision encoder (one-time pretraining, cached)";
  ReportPhase(env, encoder_phase, 0, setup.encoder.pretrain_steps);
  log.Line("vision encoder: loading it from the cache " +
           vlm::EncoderCachePath(setup.encoder, setup.cache_dir) +
           ", or pretraining it there first (" + std::to_string(setup.encoder.pretrain_steps) +
           " steps, one time for every job with these [model] settings)");
  int64_t encoder_logged = 0;
  vlm::PretrainProgress encoder_step = [&](int64_t step, int64_t steps, double loss) {
    if (env.heartbeat) env.heartbeat();
    ReportPhase(env, encoder_phase, step, steps, loss);
    if (step == steps || step - encoder_logged >= std::max<int64_t>(1, steps / 10)) {
      encoder_logged = step;
      log.Line("vision encoder pretraining: step " + std::to_string(step) + "/" +
               std::to_string(steps) + ", pretext loss " + FormatNumber(loss, 4));
    }
  };
  if (env.comm->rank() != 0) VLM_RETURN_IF_ERROR(env.comm->Barrier());
  vlm::LoadInfo encoder_info;
  auto encoder = vlm::LoadOrPretrainEncoder(setup.encoder, setup.cache_dir,
                                            std::max(1, env.threads), &encoder_info, encoder_step);
  if (env.comm->rank() == 0) VLM_RETURN_IF_ERROR(env.comm->Barrier());
  if (!encoder.ok()) {
    log.Line("vision encoder failed: " + encoder.status().message());
    return encoder.status().WithPrefix("vision encoder");
  }
  log.Line(encoder_info.pretrained ? "vision encoder pretrained and cached in " +
                                         FormatNumber(encoder_info.seconds, 3) +
                                         " s: " + encoder_info.summary.BriefReport()
                                   : "vision encoder loaded from the cache in " +
                                         FormatNumber(encoder_info.seconds, 3) + " s");

  // Every optimizer step is progress for the driver's stall detection and for `status`; the
  // logged steps (train.log_every) go to the log and, as curve points, to the running record.
  const int64_t steps = setup.train.steps;
  size_t points_sent = 0;
  const auto train_start = std::chrono::steady_clock::now();
  setup.train.on_step = [&](const train::StepInfo& info) {
    if (env.heartbeat) env.heartbeat();
    if (!leader) return;
    JobProgress p;
    p.phase = "train";
    p.step = info.step + 1;
    p.total = steps;
    p.loss = info.loss;
    const std::vector<store::CurvePoint>& curves = *info.curves;
    if (points_sent > curves.size()) points_sent = 0;
    p.new_points.assign(curves.begin() + static_cast<std::ptrdiff_t>(points_sent), curves.end());
    points_sent = curves.size();
    if (env.progress) env.progress(p);
    if (!p.new_points.empty()) {
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - train_start).count();
      log.Line("step " + std::to_string(p.step) + "/" + std::to_string(steps) + ": loss " +
               FormatNumber(info.loss, 5) + ", lr " + FormatNumber(info.lr, 3) + ", grad norm " +
               FormatNumber(info.grad_norm, 3) + ", " + FormatNumber(seconds, 3) + " s");
    }
  };
  setup.train.on_evaluate = [&] {
    if (env.heartbeat) env.heartbeat();
    ReportPhase(env, "eval", 0, 0);
    log.Line("evaluating on " + std::to_string(setup.train.eval_examples) + " examples");
  };
  train::TrainResult result;
  Status status = train::TrainAndEvaluate(setup.train, setup.model, *task, *encoder, env.comm,
                                          env.stop_requested, &result, &hooks);
  output->curves = result.curves;
  output->train_seconds = result.train_seconds;
  output->eval_seconds = result.eval_seconds;
  if (result.resumed_from_step > 0) {
    log.Line("(resumed from its checkpoint at step " + std::to_string(result.resumed_from_step) +
             ")");
  }
  if (status.IsCancelled()) {
    log.Line("stopped: " + status.message());
    output->failure_class.clear();
    return status;
  }
  if (!status.ok()) {
    output->failure_class = result.failure_class.empty() ? "error" : result.failure_class;
    log.Line("failed (" + output->failure_class + "): " + status.message());
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
  if (std::isfinite(result.symbolic_error)) m["symbolic_error"] = result.symbolic_error;
  m["steps_per_second"] = result.steps_per_second;
  m["resumed_from_step"] = static_cast<double>(result.resumed_from_step);
  m["num_buckets"] = result.num_buckets;
  m["peak_rss_mb"] = PeakRssMb();
  log.Line("eval: error " + FormatNumber(result.error, 4) + " (accuracy " +
           FormatNumber(result.accuracy, 4) + ", eval loss " + FormatNumber(result.eval_loss, 4) +
           "); question-only error " + FormatNumber(baseline.qonly_error, 4) + ", majority error " +
           FormatNumber(baseline.majority_error, 4));
  log.Line("timing: train " + FormatNumber(result.train_seconds, 3) + " s (" +
           FormatNumber(result.steps_per_second, 3) + " steps/s), eval " +
           FormatNumber(result.eval_seconds, 3) + " s, peak RSS " +
           FormatNumber(m["peak_rss_mb"], 4) + " MiB");
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
    Status status =
        RunVlmTraining("finetune_eval", std::move(setup.value()), input, env, hooks, output);
    if (status.ok()) output->metrics["pretrained"] = parent != nullptr ? 1.0 : 0.0;
    return status;
  }

 private:
  const FinetuneEvalOptions options_;
};

}  // namespace

Status RunVlmTraining(const std::string& job_type, FinetuneEvalSetup setup, const JobInput& input,
                      const JobEnv& env, const train::ModelHooks& hooks, JobOutput* output) {
  try {
    return RunVlmTrainingOrThrow(job_type, std::move(setup), input, env, hooks, output);
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
