// Training-speed benchmark of one finetune_eval configuration (bench/train/run.sh drives it and
// puts it side by side with torch_train_bench.py). Prints "key value" lines:
//   sgemm_gflops       measured torch::mm rate (2048^3, best of 5) at --threads
//   phase_*_ms         mean milliseconds per step of each phase of a hand-written loop over the
//                      same components (data, encoder, forward, backward, optimizer)
//   trainer_steps_per_s  train::TrainAndEvaluate's own loop (real task data, buckets, clipping)
//   model_flops_per_step, mfu    analytic training FLOPs per step and their share of sgemm rate
//   job_seconds        a whole job at --steps/--eval_examples (training + eval), when --full_job
//   peak_rss_mb        getrusage(RUSAGE_SELF).ru_maxrss
#include <sys/resource.h>
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "comm/communicator.h"
#include "config/config.h"
#include "config/sweep.h"
#include "jobs/job_type.h"
#include "tasks/task.h"
#include "train/blas_threads.h"
#include "train/malloc_tuning.h"
#include "train/trainer.h"
#include "vlm/vision_encoder.h"
#include "vlm/vlm.h"

namespace {

using Clock = std::chrono::steady_clock;
double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

struct Args {
  std::string preset = "nano";
  std::string method = "avgpool";
  std::string task = "shapes";
  int64_t visual_tokens = 16;
  int threads = 1;
  int64_t steps = 40;
  int64_t batch = 32;
  int64_t eval_examples = 512;
  bool tune_malloc = true;
  bool full_job = false;
  bool sgemm = true;
};

Args Parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const std::string v = argv[i + 1];
    if (k == "--preset")
      a.preset = v;
    else if (k == "--method")
      a.method = v;
    else if (k == "--task")
      a.task = v;
    else if (k == "--visual_tokens")
      a.visual_tokens = std::stoll(v);
    else if (k == "--threads")
      a.threads = std::stoi(v);
    else if (k == "--steps")
      a.steps = std::stoll(v);
    else if (k == "--batch")
      a.batch = std::stoll(v);
    else if (k == "--eval_examples")
      a.eval_examples = std::stoll(v);
    else if (k == "--tune_malloc")
      a.tune_malloc = v == "1";
    else if (k == "--full_job")
      a.full_job = v == "1";
    else if (k == "--sgemm")
      a.sgemm = v == "1";
    else {
      std::fprintf(stderr, "unknown flag %s\n", k.c_str());
      std::exit(2);
    }
  }
  return a;
}

double SgemmGflops() {
  const int64_t n = 2048;
  torch::Tensor a = torch::randn({n, n});
  torch::Tensor b = torch::randn({n, n});
  torch::Tensor c = torch::mm(a, b);
  double best = 1e30;
  for (int i = 0; i < 5; ++i) {
    const auto t = Clock::now();
    c = torch::mm(a, b);
    best = std::min(best, Since(t));
  }
  return 2.0 * n * n * n / best / 1e9;
}

// Forward FLOPs per sample of the encoder (convolutions and blocks; LayerNorm/GELU ignored).
double EncoderForwardFlops(const vlmscale::vlm::EncoderOptions& e) {
  const double c = e.vision_width, s = e.image_size, g = e.grid_size, p = s / g;
  const double stem = 2.0 * 3 * 9 * (c / 2) * s * s;
  const double patchify = 2.0 * (c / 2) * p * p * c * g * g;
  const double tokens = g * g;
  const double block = 2.0 * tokens * (12 * c * c) + 4.0 * tokens * tokens * c;
  return stem + patchify + e.depth * block;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace vlmscale;
  const Args args = Parse(argc, argv);
  if (args.tune_malloc) train::TuneMallocForTraining();
  torch::set_num_threads(args.threads);
  const bool blas_limited = train::LimitBlasThreads();  // As the finetune_eval job does.
  std::printf("preset %s\nthreads %d\nbatch %lld\nblas_threads_limited %d\n",
              args.preset.c_str(), args.threads, static_cast<long long>(args.batch),
              blas_limited ? 1 : 0);
  if (args.sgemm) std::printf("sgemm_gflops %.2f\n", SgemmGflops());

  auto config = jobs::ConfigFromString(
      "[sweep]\nname = bench\n[grid]\nllm = " + args.preset + "\nvisual_tokens = 16\n", "bench",
      {});
  if (!config.ok()) {
    std::fprintf(stderr, "%s\n", config.status().ToString().c_str());
    return 1;
  }
  auto llm = config::FindLlmPreset(*config, jobs::BuiltinGridFacts(), args.preset);
  if (!llm.ok()) {
    std::fprintf(stderr, "%s\n", llm.status().ToString().c_str());
    return 1;
  }
  auto task = tasks::MakeTask(args.task, tasks::TaskOptions()).value().release();
  vlm::EncoderOptions encoder_options;
  torch::manual_seed(1);
  vlm::VisionEncoder encoder(encoder_options);
  encoder->Freeze();
  vlm::VlmOptions m;
  m.width = llm->width;
  m.depth = llm->depth;
  m.heads = llm->heads;
  m.mlp_ratio = llm->mlp_ratio;
  m.vocab_size = task->vocab_size();
  m.question_tokens = task->question_tokens();
  m.num_answers = task->num_answers();
  m.method = args.method;
  m.visual_tokens = args.visual_tokens;
  std::printf("vocab_size %lld\nquestion_tokens %lld\nnum_answers %lld\n",
              static_cast<long long>(m.vocab_size), static_cast<long long>(m.question_tokens),
              static_cast<long long>(m.num_answers));

  // 1. Phases of a hand-written step over the same components.
  {
    torch::manual_seed(0);
    vlm::Vlm model(m);
    torch::optim::AdamW opt(model->parameters(),
                            torch::optim::AdamWOptions(1e-3).weight_decay(0.01));
    double t_data = 0, t_enc = 0, t_fwd = 0, t_bwd = 0, t_opt = 0;
    const int64_t warm = 5;
    for (int64_t step = 0; step < warm + args.steps; ++step) {
      if (step == warm) t_data = t_enc = t_fwd = t_bwd = t_opt = 0;
      std::vector<int64_t> idx(args.batch);
      for (int64_t i = 0; i < args.batch; ++i) idx[i] = step * args.batch + i;
      auto t = Clock::now();
      tasks::Batch batch = task->MakeBatch(tasks::Split::kTrain, 0, idx, 0);
      t_data += Since(t);
      t = Clock::now();
      torch::Tensor features = encoder->forward(batch.images);
      t_enc += Since(t);
      t = Clock::now();
      opt.zero_grad();
      torch::Tensor loss = torch::nn::functional::cross_entropy(
          model->forward(features, batch.questions), batch.answers);
      t_fwd += Since(t);
      t = Clock::now();
      loss.backward();
      t_bwd += Since(t);
      t = Clock::now();
      opt.step();
      t_opt += Since(t);
    }
    const double n = static_cast<double>(args.steps);
    std::printf(
        "phase_data_ms %.3f\nphase_encoder_ms %.3f\nphase_forward_ms %.3f\n"
        "phase_backward_ms %.3f\nphase_optimizer_ms %.3f\nphase_total_ms %.3f\n",
        1e3 * t_data / n, 1e3 * t_enc / n, 1e3 * t_fwd / n, 1e3 * t_bwd / n, 1e3 * t_opt / n,
        1e3 * (t_data + t_enc + t_fwd + t_bwd + t_opt) / n);
  }

  // 2. The trainer's loop.
  auto comm = comm::MakeSingleRankCommunicator();
  train::TrainOptions o;
  o.steps = args.steps;
  o.warmup_steps = std::min<int64_t>(o.warmup_steps, args.steps);
  o.batch_size = args.batch;
  o.eval_examples = args.full_job ? args.eval_examples : 128;
  train::TrainResult r;
  const auto job_start = Clock::now();
  Status s = train::TrainAndEvaluate(o, m, *task, encoder, comm.get(), nullptr, &r);
  const double job_seconds = Since(job_start);
  if (!s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 1;
  }
  std::printf("trainer_steps_per_s %.3f\n", r.steps_per_second);
  std::printf("llm_params %.0f\ntrainable_params %.0f\n", r.llm_params, r.trainable_params);
  // Training FLOPs per step: 3x the forward of everything trained (LLM 2N(Q+V) plus compressor),
  // 1x the frozen encoder's forward.
  const double flops = args.batch * (3.0 * (r.inference_flops + r.compressor_flops) +
                                     EncoderForwardFlops(encoder_options));
  std::printf("model_flops_per_step %.4g\n", flops);
  std::printf("achieved_gflops %.3f\n", flops * r.steps_per_second / 1e9);
  if (args.full_job) {
    std::printf("job_seconds %.2f\neval_seconds %.2f\nlatency_ms %.4f\naccuracy %.4f\n",
                job_seconds, r.eval_seconds, r.latency_ms, r.accuracy);
  }
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  std::printf("peak_rss_mb %.1f\n", usage.ru_maxrss / 1024.0);
  std::printf("user_s %.2f\nsys_s %.2f\n", usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6,
              usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6);
  return 0;
}
