// The pretrain_llm job type and finetune_eval starting from its llm.pt, planned as a two-stage
// study and run in process on one rank.
#include "jobs/pretrain_llm/pretrain_llm_job.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <atomic>
#include <filesystem>
#include <fstream>

#include "comm/communicator.h"
#include "config/config.h"
#include "config/sweep.h"
#include "jobs/finetune_eval/finetune_eval_type.h"
#include "jobs/job_type.h"
#include "jobs/torch_jobs/torch_jobs_impl.h"
#include "tests/train/train_test_util.h"
#include "vlm/llm_checkpoint.h"
#include "vlm/vlm.h"

namespace vlmscale::jobs {
namespace {

using train::TempDir;

// The jobs are linked into this test (vlmscale_torch_jobs_impl) instead of loaded as the plugin.
[[maybe_unused]] const bool kTorchJobsInstalled = (InstallTorchJobs(TorchJobsImpl()), true);

// Pretraining on the finetuning task (shapes), so llm.pt's head fits too; finetuning is one step
// at a learning rate too small to move the weights: its eval loss is its starting point's.
config::Config MakeStagedConfig(const std::string& cache_dir, int pretrain_steps = 100,
                                const std::string& projector_init = "fresh") {
  const std::string text =
      "[sweep]\nname = pretraintest\n"
      "[grid]\nllm = nano\nvisual_tokens = 4\nmethod = avgpool\ntask = shapes\n"
      "[model]\nencoder_pretrain_steps = 10\ncache_dir = " +
      cache_dir +
      "\n"
      "[pretrain_llm]\ntask = shapes\nvisual_tokens = 4\nsteps = " +
      std::to_string(pretrain_steps) +
      "\nbatch_size = 32\n"
      "warmup_steps = 10\neval_examples = 128\nlog_every = 10\n"
      "[train]\nsteps = 1\nbatch_size = 8\nwarmup_steps = 0\nlr = 1e-9\nprojector_init = " +
      projector_init +
      "\n"
      "[eval]\nexamples = 128\nbatch_size = 64\n"
      "[stage.pretrain]\ntype = pretrain_llm\nover = llm\n"
      "[stage.finetune]\ntype = finetune_eval\nneeds = pretrain\n";
  auto config = ConfigFromString(text, "pretraintest.ini", {});
  CHECK(config.ok()) << config.status().ToString();
  return config.value();
}

struct Runner {
  std::unique_ptr<comm::Communicator> comm = comm::MakeSingleRankCommunicator();
  std::atomic<bool> stop{false};
  int heartbeats = 0;
  JobEnv env;
  Runner() {
    env.comm = comm.get();
    env.threads = 2;
    env.stop_requested = &stop;
    env.heartbeat = [this] { ++heartbeats; };
  }
  // Runs job `index` of `sweep` with job_dir `dir` and `parents`.
  Status Run(const config::Config& config, const config::Sweep& sweep, size_t index,
             const std::string& dir, std::vector<ParentArtifact> parents, JobOutput* output) {
    JobInput input;
    input.config = &config;
    input.sweep = &sweep;
    input.spec = &sweep.jobs[index];
    input.run_dir = dir;
    input.job_dir = dir;
    input.parents = std::move(parents);
    std::filesystem::create_directories(dir);
    return CreateJob(sweep, sweep.jobs[index])->Run(input, env, output);
  }
};

// A Vlm of the finetune job's model, initialized from `seed`.
vlm::Vlm FinetuneModel(const config::Config& config, const config::Sweep& sweep, uint64_t seed) {
  auto setup =
      MakeFinetuneEvalSetup(ReadFinetuneEvalOptions(config, sweep.output), sweep.jobs[1], "");
  CHECK(setup.ok()) << setup.status().ToString();
  torch::manual_seed(seed);
  return vlm::Vlm(setup->model);
}

torch::Tensor Parameter(vlm::Vlm& model, const std::string& name) {
  for (const auto& item : model->named_parameters()) {
    if (item.key() == name) return item.value().detach().clone();
  }
  ADD_FAILURE() << "no parameter " << name;
  return {};
}

TEST(PretrainLlmJob, PlansOneJobPerLlmThatFinetuneJobsNeed) {
  config::Config config = MakeStagedConfig("");
  auto sweep = PlanSweep(config);
  ASSERT_TRUE(sweep.ok()) << sweep.status().ToString();
  ASSERT_EQ(sweep->stages.size(), 2u);
  ASSERT_EQ(sweep->jobs.size(), 2u);
  EXPECT_EQ(sweep->stage_of(sweep->jobs[0]).job_type, "pretrain_llm");
  EXPECT_EQ(sweep->jobs[0].point.llm, "nano");
  EXPECT_EQ(sweep->jobs[0].text_tokens, 8);                     // Its own task's Q.
  // Its own V, as its record has it (the point has no V: the stage is over llm only).
  EXPECT_EQ(sweep->jobs[0].point.visual_tokens, 0);
  EXPECT_DOUBLE_EQ(sweep->jobs[0].inference_flops,
                   2.0 * sweep->jobs[0].point.n_params *
                       static_cast<double>(8 + config.GetInt("pretrain_llm.visual_tokens")));
  EXPECT_GT(sweep->jobs[0].est_cost, sweep->jobs[1].est_cost);  // 100 x 32 vs 1 x 8 examples.
  EXPECT_EQ(sweep->jobs[1].parents, std::vector<int64_t>{0});
  // A setting of the pretraining changes its id and its child's.
  auto changed_config = ConfigFromString(
      "[sweep]\nname = pretraintest\n[grid]\nllm = nano\nvisual_tokens = 4\nmethod = avgpool\n"
      "task = shapes\n[pretrain_llm]\nsteps = 101\n[stage.pretrain]\ntype = pretrain_llm\n"
      "over = llm\n[stage.finetune]\ntype = finetune_eval\nneeds = pretrain\n",
      "b.ini", {});
  ASSERT_TRUE(changed_config.ok()) << changed_config.status().ToString();
  auto base_config = ConfigFromString(
      "[sweep]\nname = pretraintest\n[grid]\nllm = nano\nvisual_tokens = 4\nmethod = avgpool\n"
      "task = shapes\n[stage.pretrain]\ntype = pretrain_llm\nover = llm\n[stage.finetune]\n"
      "type = finetune_eval\nneeds = pretrain\n",
      "a.ini", {});
  ASSERT_TRUE(base_config.ok());
  auto a = PlanSweep(*base_config);
  auto b = PlanSweep(*changed_config);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->jobs[0].id, b->jobs[0].id);
  EXPECT_NE(a->jobs[1].id, b->jobs[1].id);
}

// lr_width_exponent: each job trains with its width's rate; at its default the key leaves job ids
// as they were before it existed, set it renames the jobs.
TEST(PretrainLlmJob, LearningRatePerWidthReachesBothStagesAndTheIds) {
  const std::string base =
      "[sweep]\nname = lrw\n[grid]\nllm = nano, mini\nvisual_tokens = 4\nmethod = avgpool\n"
      "task = shapes\n[stage.pretrain]\ntype = pretrain_llm\nover = llm\n[stage.finetune]\n"
      "type = finetune_eval\nneeds = pretrain\n";
  auto plain = ConfigFromString(base, "a.ini", {});
  auto zero = ConfigFromString(base, "b.ini", {"train.lr_width_exponent=0",
                                               "pretrain_llm.lr_reference_width=32"});
  auto scaled = ConfigFromString(
      base + "[train]\nlr = 0.001\nlr_width_exponent = 1\n[pretrain_llm]\nlr = 0.002\n"
             "lr_width_exponent = 1\nlr_reference_width = 64\n",
      "c.ini", {});
  ASSERT_TRUE(plain.ok() && zero.ok()) << zero.status().ToString();
  ASSERT_TRUE(scaled.ok()) << scaled.status().ToString();
  auto a = PlanSweep(*plain);
  auto b = PlanSweep(*zero);
  auto c = PlanSweep(*scaled);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  ASSERT_EQ(a->jobs.size(), 4u);  // 2 pretrain (nano, mini), then 2 finetune.
  for (size_t i = 0; i < a->jobs.size(); ++i) {
    EXPECT_EQ(a->jobs[i].id, b->jobs[i].id) << "defaults spelled out change no id";
    EXPECT_NE(a->jobs[i].id, c->jobs[i].id);
  }
  // nano is 32 wide, mini 64: pretraining (reference 64) 0.004 and 0.002; finetuning
  // (reference 32) 0.001 and 0.0005.
  const PretrainLlmOptions pre = ReadPretrainLlmOptions(*scaled, c->output);
  const FinetuneEvalOptions fin = ReadFinetuneEvalOptions(*scaled, c->output);
  const double expected[4] = {0.004, 0.002, 0.001, 0.0005};
  for (size_t i = 0; i < 4; ++i) {
    const config::JobSpec& job = c->jobs[i];
    Result<FinetuneEvalSetup> setup = i < 2 ? MakePretrainLlmSetup(pre, job, "")
                                            : MakeFinetuneEvalSetup(fin, job, "");
    ASSERT_TRUE(setup.ok()) << setup.status().ToString();
    EXPECT_DOUBLE_EQ(setup->train.lr, expected[i]) << job.point.llm;
  }
}

TEST(PretrainLlmJob, SymbolicScenesAndTheCurriculumReachTheTrainerAndTheIds) {
  const std::string base =
      "[sweep]\nname = sym\n[grid]\nllm = nano\nvisual_tokens = 4\nmethod = avgpool\n"
      "task = shapes\n[pretrain_llm]\nsteps = 30\n[stage.pretrain]\ntype = pretrain_llm\n"
      "over = llm\n[stage.finetune]\ntype = finetune_eval\nneeds = pretrain\n";
  auto plain = ConfigFromString(base, "a.ini", {});
  auto spelled = ConfigFromString(
      base, "b.ini", {"pretrain_llm.symbolic_steps=0", "pretrain_llm.curriculum_steps=0"});
  auto symbolic = ConfigFromString(
      base, "c.ini", {"pretrain_llm.symbolic_steps=20", "pretrain_llm.curriculum_steps=15"});
  ASSERT_TRUE(plain.ok() && spelled.ok() && symbolic.ok());
  auto a = PlanSweep(*plain);
  auto b = PlanSweep(*spelled);
  auto c = PlanSweep(*symbolic);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok()) << c.status().ToString();
  ASSERT_EQ(a->jobs.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(a->jobs[i].id, b->jobs[i].id) << "defaults spelled out change no id";
    EXPECT_NE(a->jobs[i].id, c->jobs[i].id) << "the finetune job starts from another llm.pt";
  }
  const PretrainLlmOptions pre = ReadPretrainLlmOptions(*symbolic, c->output);
  Result<FinetuneEvalSetup> setup = MakePretrainLlmSetup(pre, c->jobs[0], "");
  ASSERT_TRUE(setup.ok());
  EXPECT_EQ(setup->train.symbolic_steps, 20);
  EXPECT_EQ(setup->train.curriculum_steps, 15);
  for (const char* key : {"pretrain_llm.symbolic_steps", "pretrain_llm.curriculum_steps"}) {
    auto bad = ConfigFromString(base, "d.ini", {std::string(key) + "=31"});
    ASSERT_TRUE(bad.ok());
    auto sweep = PlanSweep(*bad);
    ASSERT_FALSE(sweep.ok()) << key;
    EXPECT_TRUE(sweep.status().IsInvalidInput());
    EXPECT_NE(sweep.status().message().find(key), std::string::npos) << sweep.status().ToString();
  }
}

TEST(PretrainLlmJob, PlanTimeChecksNameTheKey) {
  // avgpool cannot make 5 tokens from an 8x8 grid.
  auto config = ConfigFromString(
      "[sweep]\nname = t\n[grid]\nllm = nano\nvisual_tokens = 4\n"
      "[pretrain_llm]\nvisual_tokens = 5\n"
      "[stage.pretrain]\ntype = pretrain_llm\nover = llm\n",
      "t.ini", {});
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  Result<config::Sweep> sweep = PlanSweep(*config);
  ASSERT_FALSE(sweep.ok());
  EXPECT_TRUE(sweep.status().IsInvalidInput());
  EXPECT_NE(sweep.status().message().find("pretrain_llm.visual_tokens"), std::string::npos)
      << sweep.status().ToString();
  config = ConfigFromString(
      "[sweep]\nname = t\n[grid]\nllm = nano\nvisual_tokens = 4\n"
      "[pretrain_llm]\nsteps = 5\nwarmup_steps = 9\n"
      "[stage.pretrain]\ntype = pretrain_llm\nover = llm\n",
      "t.ini", {});
  ASSERT_TRUE(config.ok());
  sweep = PlanSweep(*config);
  ASSERT_FALSE(sweep.ok());
  EXPECT_NE(sweep.status().message().find("pretrain_llm.warmup_steps"), std::string::npos)
      << sweep.status().ToString();
}

TEST(PretrainLlmJob, FinetuneStartsFromThePretrainedLlm) {
  TempDir dir;
  config::Config config = MakeStagedConfig(dir.path() + "/cache");
  auto sweep = PlanSweep(config);
  ASSERT_TRUE(sweep.ok()) << sweep.status().ToString();
  Runner runner;

  // 1. Pretrain: llm.pt and the pretraining task's metrics.
  const std::string pretrain_dir = dir.path() + "/pretrain";
  JobOutput pretrain;
  Status s = runner.Run(config, *sweep, 0, pretrain_dir, {}, &pretrain);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(pretrain.failure_class, "");
  for (const char* name : {"error", "accuracy", "eval_loss", "final_train_loss", "llm_params"}) {
    EXPECT_EQ(pretrain.metrics.count(name), 1u) << name;
  }
  EXPECT_FALSE(pretrain.curves.empty());
  EXPECT_GE(runner.heartbeats, 100);
  const std::string llm_pt = pretrain_dir + "/llm.pt";
  ASSERT_TRUE(std::filesystem::exists(llm_pt));
  EXPECT_FALSE(std::filesystem::exists(llm_pt + ".tmp"));

  // 2. llm.pt loads into the finetune job's model: every LLM tensor is replaced, the same for
  // models of different seeds; the projector only when asked.
  vlm::Vlm a = FinetuneModel(config, *sweep, 1);
  vlm::Vlm b = FinetuneModel(config, *sweep, 2);
  const std::string block = "blocks.0.fc1.weight";
  ASSERT_FALSE(torch::equal(Parameter(a, block), Parameter(b, block)));
  vlm::LlmLoadInfo info;
  ASSERT_TRUE(vlm::LoadLlmCheckpoint(llm_pt, "shapes", {}, *a, &info).ok());
  ASSERT_TRUE(vlm::LoadLlmCheckpoint(llm_pt, "shapes", {}, *b, nullptr).ok());
  EXPECT_TRUE(info.head_loaded);
  EXPECT_FALSE(info.projector_loaded);
  EXPECT_TRUE(info.question_positions_loaded);
  EXPECT_EQ(info.task, "shapes");
  for (const std::string name : {block, std::string("token_embedding.weight"),
                                 std::string("head.weight"), std::string("final_norm.bias")}) {
    EXPECT_TRUE(torch::equal(Parameter(a, name), Parameter(b, name))) << name;
  }
  EXPECT_FALSE(
      torch::equal(Parameter(a, "projector.0.weight"), Parameter(b, "projector.0.weight")));
  vlm::LlmLoadOptions with_projector;
  with_projector.projector = true;
  ASSERT_TRUE(vlm::LoadLlmCheckpoint(llm_pt, "shapes", with_projector, *a, &info).ok());
  ASSERT_TRUE(vlm::LoadLlmCheckpoint(llm_pt, "shapes", with_projector, *b, nullptr).ok());
  EXPECT_TRUE(info.projector_loaded);
  for (const char* name : {"projector.0.weight", "projector.0.bias", "projector.2.weight",
                           "projector.2.bias"}) {
    EXPECT_TRUE(torch::equal(Parameter(a, name), Parameter(b, name))) << name;
  }
  // Another task keeps the fresh head.
  vlm::Vlm c = FinetuneModel(config, *sweep, 3);
  const torch::Tensor fresh_head = Parameter(c, "head.weight");
  ASSERT_TRUE(vlm::LoadLlmCheckpoint(llm_pt, "glyphs", {}, *c, &info).ok());
  EXPECT_FALSE(info.head_loaded);
  EXPECT_TRUE(torch::equal(Parameter(c, "head.weight"), fresh_head));

  // 3. Finetune (one step at lr 1e-9) from scratch and from the parent: the pretrained start
  // scores near the pretrained model, the scratch one near chance (ln 21 = 3.04).
  const ParentArtifact parent{"pretrain", sweep->jobs[0].id, pretrain_dir, pretrain.metrics};
  JobOutput scratch, pretrained;
  s = runner.Run(config, *sweep, 1, dir.path() + "/scratch", {}, &scratch);
  ASSERT_TRUE(s.ok()) << s.ToString();
  s = runner.Run(config, *sweep, 1, dir.path() + "/finetune", {parent}, &pretrained);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(scratch.metrics["pretrained"], 0.0);
  EXPECT_EQ(pretrained.metrics["pretrained"], 1.0);
  const double pretrain_loss = pretrain.metrics["eval_loss"];
  const double scratch_loss = scratch.metrics["eval_loss"];
  const double pretrained_loss = pretrained.metrics["eval_loss"];
  std::printf("eval_loss: pretrain_llm %.4f, finetune from scratch %.4f, from llm.pt %.4f\n",
              pretrain_loss, scratch_loss, pretrained_loss);
  EXPECT_LT(pretrain_loss, scratch_loss - 0.3);  // Pretraining learned something.
  // Closer to the pretrained model than to a fresh one (only the projector and the visual
  // positions start fresh).
  EXPECT_LT(pretrained_loss, 0.5 * (pretrain_loss + scratch_loss));

  // 4. train.projector_init = pretrained: the job also starts from the pretraining's projector,
  // closer still to the pretrained model (only the visual positions start fresh).
  config::Config with_projector_config =
      MakeStagedConfig(dir.path() + "/cache", 100, "pretrained");
  auto with_projector_sweep = PlanSweep(with_projector_config);
  ASSERT_TRUE(with_projector_sweep.ok()) << with_projector_sweep.status().ToString();
  EXPECT_NE(with_projector_sweep->jobs[1].id, sweep->jobs[1].id);  // Part of the job id.
  EXPECT_EQ(with_projector_sweep->jobs[0].id, sweep->jobs[0].id);  // Not of the pretraining's.
  JobOutput from_projector;
  s = runner.Run(with_projector_config, *with_projector_sweep, 1, dir.path() + "/projector",
                 {parent}, &from_projector);
  ASSERT_TRUE(s.ok()) << s.ToString();
  const double projector_loss = from_projector.metrics["eval_loss"];
  std::printf("eval_loss: finetune from llm.pt with its projector %.4f\n", projector_loss);
  EXPECT_LT(projector_loss, pretrained_loss);
}

// A file as the pretrain_llm jobs wrote it before the projector was saved (format v1, the LLM
// parameters only).
void WriteLlmCheckpointWithoutProjector(vlm::Vlm& model, const std::string& path) {
  const vlm::VlmOptions& o = model->options();
  torch::serialize::OutputArchive archive;
  archive.write("format", c10::IValue(std::string("vlmscale.llm.v1")));
  const std::pair<const char*, int64_t> fields[] = {
      {"width", o.width},           {"depth", o.depth},
      {"heads", o.heads},           {"mlp_ratio", o.mlp_ratio},
      {"vocab_size", o.vocab_size}, {"num_answers", o.num_answers},
      {"question_tokens", o.question_tokens}};
  for (const auto& [name, value] : fields) archive.write(name, c10::IValue(value));
  archive.write("task", c10::IValue(std::string("shapes")));
  std::string names;
  int64_t index = 0;
  for (const auto& item : model->named_parameters()) {
    if (!vlm::IsLlmParameter(item.key())) continue;
    names += item.key() + "\n";
    archive.write("p" + std::to_string(index++), item.value().detach().clone());
  }
  archive.write("names", c10::IValue(names));
  const torch::Tensor positions = Parameter(model, "positions");
  archive.write("question_positions",
                positions.slice(1, o.visual_tokens, o.visual_tokens + o.question_tokens).clone());
  archive.save_to(path);
}

TEST(PretrainLlmJob, AnLlmCheckpointWithoutAProjectorLoadsOnlyWithAFreshProjector) {
  TempDir dir;
  config::Config config = MakeStagedConfig(dir.path() + "/cache", /*pretrain_steps=*/12);
  auto sweep = PlanSweep(config);
  ASSERT_TRUE(sweep.ok());
  vlm::Vlm source = FinetuneModel(config, *sweep, 1);
  const std::string path = dir.path() + "/llm.pt";
  WriteLlmCheckpointWithoutProjector(source, path);

  vlm::Vlm model = FinetuneModel(config, *sweep, 2);
  vlm::LlmLoadInfo info;
  Status s = vlm::LoadLlmCheckpoint(path, "shapes", {}, *model, &info);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_FALSE(info.projector_loaded);
  EXPECT_TRUE(torch::equal(Parameter(model, "head.weight"), Parameter(source, "head.weight")));

  vlm::Vlm other = FinetuneModel(config, *sweep, 3);
  const torch::Tensor before = Parameter(other, "blocks.0.fc1.weight");
  vlm::LlmLoadOptions with_projector;
  with_projector.projector = true;
  s = vlm::LoadLlmCheckpoint(path, "shapes", with_projector, *other, nullptr);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(s.IsInvalidInput()) << s.ToString();
  EXPECT_NE(s.message().find(path), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("has no projector"), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("train.projector_init = fresh"), std::string::npos) << s.ToString();
  EXPECT_TRUE(torch::equal(Parameter(other, "blocks.0.fc1.weight"), before));  // Unchanged.
}

TEST(PretrainLlmJob, AStopRequestCheckpointsAndTheNextAttemptResumesAndSaves) {
  TempDir dir;
  config::Config config = MakeStagedConfig(dir.path() + "/cache", /*pretrain_steps=*/12);
  auto sweep = PlanSweep(config);
  ASSERT_TRUE(sweep.ok());
  Runner runner;
  runner.stop = true;  // Already requested: one step, then checkpoint.
  JobOutput first;
  Status s = runner.Run(config, *sweep, 0, dir.path() + "/job", {}, &first);
  EXPECT_TRUE(s.IsCancelled()) << s.ToString();
  EXPECT_EQ(first.failure_class, "");
  EXPECT_TRUE(std::filesystem::exists(dir.path() + "/job/checkpoint.pt"));
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/job/llm.pt"));
  runner.stop = false;
  JobOutput second;
  s = runner.Run(config, *sweep, 0, dir.path() + "/job", {}, &second);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(second.metrics["resumed_from_step"], 1.0);
  EXPECT_TRUE(std::filesystem::exists(dir.path() + "/job/llm.pt"));
}

TEST(PretrainLlmJob, ADamagedOrMismatchedLlmCheckpointFailsNamingTheFile) {
  TempDir dir;
  config::Config config = MakeStagedConfig(dir.path() + "/cache", /*pretrain_steps=*/12);
  auto sweep = PlanSweep(config);
  ASSERT_TRUE(sweep.ok());
  Runner runner;

  // Damaged: the finetune job fails (an attempt, failure_class "error") naming the file.
  const std::string bad_dir = dir.path() + "/bad";
  std::filesystem::create_directories(bad_dir);
  { std::ofstream(bad_dir + "/llm.pt") << "not a torch archive"; }
  JobOutput output;
  Status s = runner.Run(config, *sweep, 1, dir.path() + "/finetune",
                        {ParentArtifact{"pretrain", sweep->jobs[0].id, bad_dir, {}}}, &output);
  ASSERT_FALSE(s.ok());
  EXPECT_FALSE(s.IsCancelled());
  EXPECT_EQ(output.failure_class, "error");
  EXPECT_NE(s.message().find(bad_dir + "/llm.pt"), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("damaged"), std::string::npos) << s.ToString();

  // A pretrain_llm parent without llm.pt fails too (rather than silently starting from scratch).
  const std::string empty_dir = dir.path() + "/empty";
  std::filesystem::create_directories(empty_dir);
  s = runner.Run(config, *sweep, 1, dir.path() + "/finetune2",
                 {ParentArtifact{"pretrain", sweep->jobs[0].id, empty_dir, {}}}, &output);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("does not exist"), std::string::npos) << s.ToString();

  // Mismatched: a nano llm.pt does not load into a micro model, naming what differs.
  auto setup =
      MakeFinetuneEvalSetup(ReadFinetuneEvalOptions(config, sweep->output), sweep->jobs[1], "");
  ASSERT_TRUE(setup.ok());
  torch::manual_seed(0);
  vlm::Vlm nano(setup->model);
  const std::string path = dir.path() + "/llm.pt";
  ASSERT_TRUE(vlm::SaveLlmCheckpoint(*nano, "shapes", path).ok());
  vlm::VlmOptions micro = setup->model;
  micro.width = 48;
  micro.depth = 3;
  micro.heads = 3;
  vlm::Vlm model(micro);
  const torch::Tensor before = Parameter(model, "blocks.0.fc1.weight");
  s = vlm::LoadLlmCheckpoint(path, "shapes", {}, *model, nullptr);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(path), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("width 32 in the file vs 48 in the model"), std::string::npos)
      << s.ToString();
  EXPECT_NE(s.message().find("depth 2 in the file vs 3"), std::string::npos) << s.ToString();
  EXPECT_TRUE(torch::equal(Parameter(model, "blocks.0.fc1.weight"), before));  // Unchanged.
}

}  // namespace
}  // namespace vlmscale::jobs
