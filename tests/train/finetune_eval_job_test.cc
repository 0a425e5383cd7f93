#include "jobs/finetune_eval/finetune_eval_job.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>

#include "comm/communicator.h"
#include "config/config.h"
#include "config/sweep.h"
#include "jobs/job_type.h"
#include "jobs/torch_jobs/torch_jobs_impl.h"
#include "tests/train/train_test_util.h"

namespace vlmscale::jobs {
namespace {

using train::TempDir;

// The jobs are linked into this test (vlmscale_torch_jobs_impl) instead of loaded as the plugin.
[[maybe_unused]] const bool kTorchJobsInstalled = (InstallTorchJobs(TorchJobsImpl()), true);

config::Config MakeConfig(const std::string& cache_dir, const std::string& extra = "",
                          const std::string& model_extra = "") {
  const std::string text =
      "[sweep]\nname = jobtest\n"
      "[grid]\nllm = nano\nvisual_tokens = 4\nmethod = quecc\ntask = glyphs\n"
      "[model]\n" +
      model_extra + "encoder_pretrain_steps = 10\ncache_dir = " + cache_dir +
      "\n"
      "[train]\nsteps = 20\nbatch_size = 16\nwarmup_steps = 4\nlog_every = 5\n"
      "[eval]\nexamples = 64\nbatch_size = 32\n" +
      extra;
  auto config = ConfigFromString(text, "jobtest.ini", {});
  CHECK(config.ok()) << config.status().ToString();
  return config.value();
}

TEST(FinetuneEvalJob, RunsAGridPointAndReportsEveryMetric) {
  TempDir dir;
  config::Config config = MakeConfig(dir.path() + "/cache");
  auto sweep = PlanSweep(config);
  ASSERT_TRUE(sweep.ok()) << sweep.status().ToString();
  ASSERT_EQ(sweep->jobs.size(), 1u);
  const config::JobSpec& spec = sweep->jobs[0];

  JobInput input;
  input.config = &config;
  input.spec = &spec;
  input.run_dir = dir.path();
  input.job_dir = dir.path();
  auto comm = comm::MakeSingleRankCommunicator();
  std::atomic<bool> stop{false};
  JobEnv env;
  env.comm = comm.get();
  env.threads = 1;
  env.stop_requested = &stop;
  JobOutput output;
  auto job = CreateJob(*sweep);
  Status s = job->Run(input, env, &output);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(output.failure_class, "");
  for (const char* name : {"error", "accuracy", "eval_loss", "inference_flops", "compressor_flops",
                           "latency_ms", "peak_rss_mb", "steps_per_second"}) {
    EXPECT_EQ(output.metrics.count(name), 1u) << name;
  }
  EXPECT_DOUBLE_EQ(output.metrics["error"], 1.0 - output.metrics["accuracy"]);
  // The image-blind baselines sit next to the measured accuracy of every template.
  for (const auto& [name, value] : output.metrics) {
    if (name.rfind("accuracy.", 0) != 0) continue;
    const std::string type = name.substr(9);
    ASSERT_EQ(output.metrics.count("qonly_accuracy." + type), 1u) << type;
    EXPECT_GT(output.metrics["qonly_accuracy." + type], 0.0) << type;
    EXPECT_LT(output.metrics["qonly_accuracy." + type], 0.6) << type;  // At chance (<= 0.5 + se).
  }
  EXPECT_GT(output.metrics["qonly_error"], 0.5);
  EXPECT_GT(output.metrics["majority_error"], 0.75);
  // The job's FLOPs agree with the planner's 2*N*(Q+V) for the point.
  EXPECT_DOUBLE_EQ(output.metrics["inference_flops"], spec.inference_flops);
  EXPECT_GT(output.metrics["compressor_flops"], 0.0);  // quecc runs the LLM over the question.
  EXPECT_GT(output.train_seconds, 0.0);
  EXPECT_FALSE(output.curves.empty());
  // The encoder was pretrained and cached where [model] cache_dir says.
  EXPECT_FALSE(std::filesystem::is_empty(dir.path() + "/cache"));
}

TEST(FinetuneEvalJob, AStopRequestCheckpointsAndTheNextRunResumes) {
  TempDir dir;
  config::Config config = MakeConfig(dir.path() + "/cache");
  auto sweep = PlanSweep(config);
  ASSERT_TRUE(sweep.ok());
  JobInput input;
  input.config = &config;
  input.spec = &sweep->jobs[0];
  input.run_dir = dir.path();
  input.job_dir = dir.path();
  auto comm = comm::MakeSingleRankCommunicator();
  std::atomic<bool> stop{true};  // Already requested: one step, then checkpoint.
  JobEnv env;
  env.comm = comm.get();
  env.stop_requested = &stop;
  JobOutput first;
  Status s = CreateJob(*sweep)->Run(input, env, &first);
  EXPECT_TRUE(s.IsCancelled()) << s.ToString();
  EXPECT_EQ(first.failure_class, "");
  EXPECT_TRUE(std::filesystem::exists(dir.path() + "/checkpoint.pt"));

  stop = false;
  input.attempt = 2;
  JobOutput second;
  s = CreateJob(*sweep)->Run(input, env, &second);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(second.metrics["resumed_from_step"], 1.0);
}

TEST(FinetuneEvalJob, SetupReadsTheConfigAndThePoint) {
  TempDir dir;
  config::Config config = MakeConfig("");
  auto sweep = PlanSweep(config);
  ASSERT_TRUE(sweep.ok());
  const FinetuneEvalOptions options =
      ReadFinetuneEvalOptions(config, sweep->output);
  auto setup = MakeFinetuneEvalSetup(options, sweep->jobs[0], dir.path());
  ASSERT_TRUE(setup.ok()) << setup.status().ToString();
  EXPECT_EQ(setup->task, "glyphs");
  EXPECT_EQ(setup->model.width, 32);  // nano.
  EXPECT_EQ(setup->model.method, "quecc");
  EXPECT_EQ(setup->model.visual_tokens, 4);
  EXPECT_EQ(setup->model.question_tokens, 8);  // The glyphs task's Q, filled without libtorch.
  EXPECT_EQ(setup->train.steps, 20);
  EXPECT_EQ(setup->train.eval_examples, 64);
  EXPECT_EQ(setup->encoder.pretrain_steps, 10);
  EXPECT_EQ(setup->train.checkpoint_path, dir.path() + "/checkpoint.pt");
  // Empty cache_dir: <directory of sweep.output>/cache, sweep.output defaulting to
  // results/<name>.h5.
  EXPECT_EQ(setup->cache_dir, (std::filesystem::absolute("results") / "cache").string());
  EXPECT_EQ(setup->model.quecc_init, "random");
}

TEST(FinetuneEvalJob, QueccInitReachesTheModelAndEntersTheIdOnlyWhenSet) {
  auto plan = [](const std::string& model_extra) {
    auto sweep = PlanSweep(MakeConfig("", "", model_extra));
    CHECK(sweep.ok()) << sweep.status().ToString();
    return sweep.value();
  };
  const auto unset = plan(""), random = plan("quecc_init = random\n"),
             pooled = plan("quecc_init = avgpool\n");
  // Left at its default the key leaves the ids of earlier results unchanged.
  EXPECT_EQ(unset.jobs[0].id, random.jobs[0].id);
  EXPECT_NE(unset.jobs[0].id, pooled.jobs[0].id);
  const auto options =
      ReadFinetuneEvalOptions(MakeConfig("", "", "quecc_init = avgpool\n"), pooled.output);
  TempDir dir;
  auto setup = MakeFinetuneEvalSetup(options, pooled.jobs[0], dir.path());
  ASSERT_TRUE(setup.ok()) << setup.status().ToString();
  EXPECT_EQ(setup->model.quecc_init, "avgpool");

  auto bad = ConfigFromString(
      "[sweep]\nname = jobtest\n[grid]\nllm = nano\nvisual_tokens = 4\nmethod = quecc\n"
      "task = glyphs\n[model]\nquecc_init = zero\n",
      "bad.ini", {});
  Status status = bad.ok() ? PlanSweep(bad.value()).status() : bad.status();
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("model.quecc_init"), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("avgpool"), std::string::npos) << status.message();
}

}  // namespace
}  // namespace vlmscale::jobs
