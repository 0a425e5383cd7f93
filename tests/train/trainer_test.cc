#include "train/trainer.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "comm/communicator.h"
#include "tasks/pretext.h"
#include "tests/train/train_test_util.h"
#include "train/feature_cache.h"

namespace vlmscale::train {
namespace {

TEST(TrainOptions, DefaultsAreValid) {
  std::string error;
  EXPECT_TRUE(TrainOptions().IsValid(&error)) << error;
}

TEST(TrainOptions, InvalidFieldsAreNamed) {
  TrainOptions o;
  o.warmup_steps = o.steps + 1;
  std::string error;
  EXPECT_FALSE(o.IsValid(&error));
  EXPECT_NE(error.find("warmup_steps"), std::string::npos) << error;
  o = TrainOptions();
  o.lr = 0.0;
  EXPECT_FALSE(o.IsValid(&error));
  EXPECT_NE(error.find("lr"), std::string::npos) << error;
  o = TrainOptions();
  o.log_every = 0;
  EXPECT_FALSE(o.IsValid(&error));
  EXPECT_NE(error.find("log_every"), std::string::npos) << error;
}

TEST(TrainOptions, LearningRateScalesWithWidthByTheExponent) {
  TrainOptions o;
  o.lr = 0.001;
  EXPECT_EQ(ScaledLearningRate(o, 96), 0.001);  // Exponent 0: every width uses lr.
  o.lr_width_exponent = 1.0;
  o.lr_reference_width = 32;
  EXPECT_DOUBLE_EQ(ScaledLearningRate(o, 32), 0.001);
  EXPECT_DOUBLE_EQ(ScaledLearningRate(o, 16), 0.002);
  EXPECT_DOUBLE_EQ(ScaledLearningRate(o, 96), 0.001 / 3.0);
  o.lr_width_exponent = 0.5;
  EXPECT_DOUBLE_EQ(ScaledLearningRate(o, 128), 0.0005);
  EXPECT_EQ(ScaledLearningRate(o, 0), 0.001);  // A model without a width (external): lr.
  std::string error, field;
  o.lr_width_exponent = 2.5;
  EXPECT_FALSE(o.IsValid(&error, &field));
  EXPECT_EQ(field, "lr_width_exponent") << error;
  o.lr_width_exponent = 1.0;
  o.lr_reference_width = 0;
  EXPECT_FALSE(o.IsValid(&error, &field));
  EXPECT_EQ(field, "lr_reference_width") << error;
}

TEST(Trainer, LearningRateWarmsUpLinearlyThenDecaysByCosineToZero) {
  TrainOptions o;
  o.steps = 100;
  o.warmup_steps = 10;
  o.lr = 0.01;
  EXPECT_DOUBLE_EQ(LearningRateAt(o, 0), 0.001);
  EXPECT_DOUBLE_EQ(LearningRateAt(o, 4), 0.005);
  EXPECT_DOUBLE_EQ(LearningRateAt(o, 9), 0.01);
  EXPECT_DOUBLE_EQ(LearningRateAt(o, 10), 0.01);
  EXPECT_NEAR(LearningRateAt(o, 55), 0.005, 1e-12);  // Half way through the decay.
  for (int64_t s = 11; s < 100; ++s) EXPECT_LT(LearningRateAt(o, s), LearningRateAt(o, s - 1));
  EXPECT_LT(LearningRateAt(o, 99), 0.01 * 0.01);
}

TEST(Trainer, ShardsAreDisjointAndCoverTheBatch) {
  for (int size : {1, 2, 3, 4}) {
    for (int64_t total : {4, 7, 32, 33}) {
      int64_t expected_begin = 0;
      for (int r = 0; r < size; ++r) {
        int64_t begin = 0;
        int64_t end = 0;
        ShardRange(total, r, size, &begin, &end);
        EXPECT_EQ(begin, expected_begin) << total << " over " << size;
        EXPECT_LE(end - begin, (total + size - 1) / size);
        EXPECT_GE(end - begin, total / size);
        expected_begin = end;
      }
      EXPECT_EQ(expected_begin, total);
    }
  }
}

TEST(Trainer, TrainingLowersTheLossAndBeatsChance) {
  TestSetup setup = MakeTestSetup("shapes", "avgpool", 16, /*steps=*/80);
  auto comm = comm::MakeSingleRankCommunicator();
  TrainResult result;
  Status s = TrainAndEvaluate(setup.train, setup.model, *setup.task, setup.encoder, comm.get(),
                              nullptr, &result);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(result.steps_done, 80);
  EXPECT_EQ(result.failure_class, "");
  const double first_loss = CurveValue(result.curves, "train_loss", 0);
  EXPECT_LT(result.final_train_loss, first_loss);
  EXPECT_GT(result.accuracy, 1.5 / setup.model.num_answers);
  EXPECT_DOUBLE_EQ(result.error, 1.0 - result.accuracy);
  EXPECT_TRUE(std::isfinite(result.eval_loss));
  // One accuracy per question template; weighted by the templates' eval counts they give the
  // overall accuracy.
  ASSERT_EQ(result.type_accuracy.size(), setup.task->question_types().size());
  tasks::Batch eval = setup.task->MakeBatch(tasks::Split::kEval, setup.train.eval_seed, [&] {
    std::vector<int64_t> v;
    for (int64_t i = 0; i < setup.train.eval_examples; ++i) v.push_back(i);
    return v;
  }(), 0);
  auto counts = torch::bincount(eval.types, {}, result.type_accuracy.size());
  double weighted = 0.0;
  for (size_t t = 0; t < setup.task->question_types().size(); ++t) {
    const double acc = result.type_accuracy.at(setup.task->question_types()[t]);
    const int64_t n = counts[t].item<int64_t>();
    if (n == 0) {
      EXPECT_TRUE(std::isnan(acc));
    } else {
      EXPECT_GE(acc, 0.0);
      EXPECT_LE(acc, 1.0);
      weighted += acc * static_cast<double>(n);
    }
  }
  EXPECT_NEAR(weighted / setup.train.eval_examples, result.accuracy, 1e-9);
  EXPECT_GT(result.latency_ms, 0.0);
  EXPECT_DOUBLE_EQ(result.inference_flops,
                   2.0 * result.llm_params * (setup.model.question_tokens + 16));
  EXPECT_GT(result.compressor_flops, 0.0);
  EXPECT_GE(result.num_buckets, 1);
  // log_every = 10 over 80 steps: steps 0, 10, ..., 70 and the last step 79.
  EXPECT_EQ(CurveSteps(result.curves, "train_loss").size(), 9u);
  EXPECT_EQ(CurveSteps(result.curves, "lr").size(), 9u);
  EXPECT_EQ(CurveSteps(result.curves, "eval_accuracy"), std::vector<int64_t>{80});
}

TEST(Trainer, TheSameJobTwiceGivesBitwiseTheSameResult) {
  TestSetup setup = MakeTestSetup("glyphs", "tokenpacker", 16, /*steps=*/25);
  auto comm = comm::MakeSingleRankCommunicator();
  TrainResult a;
  TrainResult b;
  ASSERT_TRUE(TrainAndEvaluate(setup.train, setup.model, *setup.task, setup.encoder, comm.get(),
                               nullptr, &a)
                  .ok());
  ASSERT_TRUE(TrainAndEvaluate(setup.train, setup.model, *setup.task, setup.encoder, comm.get(),
                               nullptr, &b)
                  .ok());
  EXPECT_EQ(a.parameter_checksum, b.parameter_checksum);
  EXPECT_EQ(a.eval_loss, b.eval_loss);
  EXPECT_EQ(a.accuracy, b.accuracy);
  ASSERT_EQ(a.curves.size(), b.curves.size());
  for (size_t i = 0; i < a.curves.size(); ++i) EXPECT_EQ(a.curves[i].value, b.curves[i].value);
  // A different seed is a different job.
  setup.train.seed = 1;
  TrainResult c;
  ASSERT_TRUE(TrainAndEvaluate(setup.train, setup.model, *setup.task, setup.encoder, comm.get(),
                               nullptr, &c)
                  .ok());
  EXPECT_NE(a.parameter_checksum, c.parameter_checksum);
}

TEST(Trainer, TheAlignmentPhaseTrainsOnlyTheVisualPathway) {
  TestSetup setup = MakeTestSetup("shapes", "tokenpacker", 16, /*steps=*/6);
  auto comm = comm::MakeSingleRankCommunicator();
  // Snapshots of every parameter after initialization and after training.
  std::map<std::string, torch::Tensor> before, after;
  ModelHooks hooks;
  hooks.initialize = [&](vlm::VlmImpl& m) {
    for (const auto& p : m.named_parameters()) before[p.key()] = p.value().detach().clone();
    return Status::OK();
  };
  hooks.trained = [&](vlm::VlmImpl& m) {
    for (const auto& p : m.named_parameters()) after[p.key()] = p.value().detach().clone();
    return Status::OK();
  };
  auto changed = [&](const std::string& name) { return !torch::equal(before[name], after[name]); };
  // Aligning for every step: the LLM never moves, the visual pathway does.
  setup.train.align_steps = setup.train.steps;
  TrainResult aligned;
  ASSERT_TRUE(TrainAndEvaluate(setup.train, setup.model, *setup.task, setup.encoder, comm.get(),
                               nullptr, &aligned, &hooks)
                  .ok());
  int visual = 0, llm = 0;
  for (const auto& [name, tensor] : before) {
    if (vlm::VlmImpl::IsVisualPathway(name)) {
      visual += changed(name);
    } else {
      EXPECT_FALSE(changed(name)) << name << " moved while aligning";
      ++llm;
    }
  }
  EXPECT_GT(visual, 2);
  EXPECT_GT(llm, 5);
  // Aligning for 3 of 6 steps: then the LLM trains too.
  setup.train.align_steps = 3;
  TrainResult mixed;
  ASSERT_TRUE(TrainAndEvaluate(setup.train, setup.model, *setup.task, setup.encoder, comm.get(),
                               nullptr, &mixed, &hooks)
                  .ok());
  EXPECT_TRUE(changed("head.weight"));
  EXPECT_NE(mixed.parameter_checksum, aligned.parameter_checksum);
}

TEST(Trainer, TheAlignmentLossTeachesTheVisualTokensToReadThePatches) {
  TestSetup setup = MakeTestSetup("shapes", "quecc", 16, /*steps=*/24);
  auto comm = comm::MakeSingleRankCommunicator();
  setup.train.align_steps = 20;
  setup.train.log_every = 5;
  TrainResult plain;
  ASSERT_TRUE(TrainAndEvaluate(setup.train, setup.model, *setup.task, setup.encoder, comm.get(),
                               nullptr, &plain)
                  .ok());
  setup.train.align_aux_weight = 1.0;
  setup.model.align_classes = tasks::kNumPretextClasses;
  TrainResult aligned;
  ASSERT_TRUE(TrainAndEvaluate(setup.train, setup.model, *setup.task, setup.encoder, comm.get(),
                               nullptr, &aligned)
                  .ok());
  std::vector<std::pair<int64_t, double>> align_loss;
  for (const auto& p : aligned.curves) {
    if (p.name == "align_loss") align_loss.emplace_back(p.step, p.value);
  }
  for (const auto& p : plain.curves) EXPECT_NE(p.name, "align_loss");
  // Logged in the alignment phase only (steps 0, 5, 10, 15 of 20).
  ASSERT_EQ(align_loss.size(), 4u);
  EXPECT_EQ(align_loss.back().first, 15);
  // From about ln(41) = 3.7 (uniform over the patch classes) down by a clear margin.
  EXPECT_GT(align_loss.front().second, 3.0);
  EXPECT_LT(align_loss.back().second, align_loss.front().second - 0.5);
  EXPECT_NE(aligned.parameter_checksum, plain.parameter_checksum);
}

TEST(Trainer, AVisualLearningRateMovesOnlyTheVisualPathwaysSteps) {
  TestSetup setup = MakeTestSetup("shapes", "avgpool", 16, /*steps=*/6);
  auto comm = comm::MakeSingleRankCommunicator();
  auto run = [&](double visual_lr) {
    setup.train.visual_lr = visual_lr;
    TrainResult r;
    EXPECT_TRUE(TrainAndEvaluate(setup.train, setup.model, *setup.task, setup.encoder, comm.get(),
                                 nullptr, &r)
                    .ok());
    return r.parameter_checksum;
  };
  const double same = run(0.0);
  // AdamW updates every parameter on its own: the visual pathway in a group of its own at the
  // LLM's rate gives bitwise the same model; another rate does not.
  EXPECT_EQ(run(setup.train.lr), same);
  EXPECT_NE(run(3.0 * setup.train.lr), same);
  setup.train.visual_lr = -1.0;
  std::string error, field;
  EXPECT_FALSE(setup.train.IsValid(&error, &field));
  EXPECT_EQ(field, "visual_lr");
  setup.train.visual_lr = 0.0;
  setup.train.align_aux_weight = 1.0;  // Without an alignment phase.
  EXPECT_FALSE(setup.train.IsValid(&error, &field));
  EXPECT_EQ(field, "align_aux_weight");
}

TEST(Curriculum, EachPhaseDrawsOnlyTheTemplatesOfItsLevel) {
  auto task = tasks::MakeTask("shapes", tasks::TaskOptions());
  ASSERT_TRUE(task.ok());
  const std::vector<int>& levels = (*task)->question_levels();
  ASSERT_EQ(levels.size(), (*task)->question_types().size());
  TrainOptions o;
  o.steps = 40;
  o.batch_size = 16;
  o.curriculum_steps = 30;  // shapes has 3 levels: steps 0-9, 10-19, 20-29.
  std::set<int64_t> seen;
  for (int64_t step = 0; step < 40; ++step) {
    const int level = CurriculumLevel(o, **task, step);
    EXPECT_EQ(level, step < 30 ? 1 + static_cast<int>(step / 10) : 0) << step;
    const std::vector<int64_t> examples = StepExamples(o, **task, step);
    ASSERT_EQ(examples.size(), 16u);
    std::set<int64_t> types;
    for (int64_t i : examples) {
      EXPECT_TRUE(seen.insert(i).second) << "example " << i << " drawn twice";
      const int64_t type = (*task)->Describe(tasks::Split::kTrain, o.seed, i, nullptr).type;
      types.insert(type);
      if (level > 0) {
        EXPECT_GE(i, kCurriculumFirstIndex);
        EXPECT_LE(levels[type], level) << "step " << step;
      }
    }
    if (level == 1) EXPECT_EQ(types.size(), 1u);  // count_attribute alone.
    if (step >= 30) EXPECT_EQ(examples.front(), step * 16);  // The plain stream after it.
  }
  // The last phase admits every template.
  std::set<int64_t> last_phase;
  for (int64_t step = 20; step < 30; ++step) {
    for (int64_t i : StepExamples(o, **task, step)) {
      last_phase.insert((*task)->Describe(tasks::Split::kTrain, o.seed, i, nullptr).type);
    }
  }
  EXPECT_EQ(last_phase.size(), levels.size());
  o.curriculum_steps = 41;
  std::string error, field;
  EXPECT_FALSE(o.IsValid(&error, &field));
  EXPECT_EQ(field, "curriculum_steps") << error;
  o.curriculum_steps = 0;
  o.symbolic_steps = -1;
  EXPECT_FALSE(o.IsValid(&error, &field));
  EXPECT_EQ(field, "symbolic_steps") << error;
}

TEST(SymbolicPrototypes, AreTheClassMeansOfTheEncoderFeatures) {
  TestSetup setup = MakeTestSetup("shapes", "avgpool", 16, /*steps=*/1);
  const torch::Device cpu(torch::kCPU);
  const int64_t grid = setup.model.grid_size;
  // Index 0 is a shapes scene: no glyph class occurs in one image.
  torch::Tensor one = SymbolicPrototypes(setup.encoder, 48, grid, cpu, /*images=*/1);
  ASSERT_EQ(one.sizes(), (std::vector<int64_t>{tasks::kNumPretextClasses,
                                               setup.model.vision_width}));
  EXPECT_EQ(one.slice(0, 25).abs().sum().item<double>(), 0.0);
  tasks::TaskOptions options;
  const tasks::PretextBatch pretext = tasks::MakePretextBatch(options, grid, 0, {0, 1, 2, 3});
  torch::Tensor features;
  {
    torch::NoGradGuard no_grad;
    features = setup.encoder->forward(pretext.images).reshape({-1, setup.model.vision_width});
  }
  const torch::Tensor labels = pretext.labels.reshape({-1});
  torch::Tensor four = SymbolicPrototypes(setup.encoder, 48, grid, cpu, /*images=*/4);
  int classes = 0;
  for (int64_t c = 0; c < tasks::kNumPretextClasses; ++c) {
    const torch::Tensor mask = labels.eq(c);
    if (mask.sum().item<int64_t>() == 0) continue;
    ++classes;
    const torch::Tensor mean = features.index({mask}).to(torch::kFloat).mean(0);
    EXPECT_TRUE(torch::allclose(four[c], mean, 1e-4, 1e-5)) << "class " << c;
  }
  EXPECT_GT(classes, 5);  // Background, objects and glyphs (odd indices are glyph images).
  EXPECT_TRUE(torch::equal(four, SymbolicPrototypes(setup.encoder, 48, grid, cpu, 4)));
}

TEST(Trainer, SymbolicAndCurricularStepsTrainAnotherModelAndResumeExactly) {
  TestSetup setup = MakeTestSetup("shapes", "avgpool", 16, /*steps=*/12);
  auto comm = comm::MakeSingleRankCommunicator();
  TrainResult plain;
  ASSERT_TRUE(TrainAndEvaluate(setup.train, setup.model, *setup.task, setup.encoder, comm.get(),
                               nullptr, &plain)
                  .ok());
  setup.train.curriculum_steps = 6;
  TrainResult curricular;
  ASSERT_TRUE(TrainAndEvaluate(setup.train, setup.model, *setup.task, setup.encoder, comm.get(),
                               nullptr, &curricular)
                  .ok());
  EXPECT_NE(curricular.parameter_checksum, plain.parameter_checksum);
  setup.train.symbolic_steps = 8;
  TrainResult uninterrupted;
  ASSERT_TRUE(TrainAndEvaluate(setup.train, setup.model, *setup.task, setup.encoder, comm.get(),
                               nullptr, &uninterrupted)
                  .ok());
  EXPECT_NE(uninterrupted.parameter_checksum, curricular.parameter_checksum);
  EXPECT_TRUE(std::isfinite(uninterrupted.eval_loss));
  // Scored on symbolic scenes too, only when it read them.
  EXPECT_TRUE(std::isnan(curricular.symbolic_error));
  EXPECT_GE(uninterrupted.symbolic_error, 0.0);
  EXPECT_LE(uninterrupted.symbolic_error, 1.0);

  TempDir dir;
  setup.train.checkpoint_path = dir.path() + "/checkpoint.pt";
  std::atomic<bool> stop{false};
  setup.train.on_step = [&stop](const StepInfo& info) {
    if (info.step == 3) stop = true;  // Inside both the curriculum and the symbolic steps.
  };
  TrainResult first;
  EXPECT_TRUE(TrainAndEvaluate(setup.train, setup.model, *setup.task, setup.encoder, comm.get(),
                               &stop, &first)
                  .IsCancelled());
  stop = false;
  setup.train.on_step = nullptr;
  TrainResult resumed;
  ASSERT_TRUE(TrainAndEvaluate(setup.train, setup.model, *setup.task, setup.encoder, comm.get(),
                               &stop, &resumed)
                  .ok());
  EXPECT_EQ(resumed.resumed_from_step, 5);
  EXPECT_EQ(resumed.parameter_checksum, uninterrupted.parameter_checksum);
  EXPECT_EQ(resumed.accuracy, uninterrupted.accuracy);
  EXPECT_EQ(resumed.symbolic_error, uninterrupted.symbolic_error);
}

TEST(Trainer, BucketSizeDoesNotChangeTheResult) {
  TestSetup setup = MakeTestSetup("shapes", "quecc", 4, /*steps=*/12);
  auto comm = comm::MakeSingleRankCommunicator();
  TrainResult one;
  ASSERT_TRUE(TrainAndEvaluate(setup.train, setup.model, *setup.task, setup.encoder, comm.get(),
                               nullptr, &one)
                  .ok());
  setup.train.bucket_bytes = 4096;  // Many buckets.
  TrainResult many;
  ASSERT_TRUE(TrainAndEvaluate(setup.train, setup.model, *setup.task, setup.encoder, comm.get(),
                               nullptr, &many)
                  .ok());
  EXPECT_EQ(one.num_buckets, 1);
  EXPECT_GT(many.num_buckets, 3);
  // Only the float summation order of the gradient norm differs.
  EXPECT_NEAR(one.parameter_checksum, many.parameter_checksum,
              1e-5 * std::abs(one.parameter_checksum));
  EXPECT_NEAR(one.eval_loss, many.eval_loss, 1e-4 * one.eval_loss);
}

TEST(Trainer, CachedEncoderFeaturesGiveBitwiseTheSameResult) {
  TestSetup setup = MakeTestSetup("glyphs", "avgpool", 16, /*steps=*/12);
  auto comm = comm::MakeSingleRankCommunicator();
  TrainResult plain;
  ASSERT_TRUE(TrainAndEvaluate(setup.train, setup.model, *setup.task, setup.encoder, comm.get(),
                               nullptr, &plain)
                  .ok());
  EXPECT_EQ(plain.feature_cache_hits, 0);
  FeatureCache::Process().Clear();
  setup.train.feature_cache_key = "test-encoder-seed-7";
  TrainResult filling;
  ASSERT_TRUE(TrainAndEvaluate(setup.train, setup.model, *setup.task, setup.encoder, comm.get(),
                               nullptr, &filling)
                  .ok());
  EXPECT_EQ(filling.feature_cache_hits, 0);
  // Another LLM size on the same data: every training batch and every eval batch but the first
  // (timed from images for the latency) comes from the cache.
  const int64_t eval_batches =
      (setup.train.eval_examples + setup.train.eval_batch_size - 1) / setup.train.eval_batch_size;
  ASSERT_GE(eval_batches, 2);
  // Features are stored in half precision (2 bytes per value); questions, answers and template
  // ids as int64. Stored: the 12 training batches and every eval batch but the timed first one.
  {
    const int64_t stored_examples = 12 * setup.train.batch_size + setup.train.eval_examples -
                                    std::min(setup.train.eval_examples, setup.train.eval_batch_size);
    const int64_t g = setup.model.grid_size;
    const int64_t per_example =
        g * g * setup.model.vision_width * 2 + (setup.model.question_tokens + 2) * 8;
    EXPECT_EQ(FeatureCache::Process().bytes(), stored_examples * per_example);
  }
  setup.model.width = 48;
  setup.model.heads = 3;
  TrainResult other_size;
  ASSERT_TRUE(TrainAndEvaluate(setup.train, setup.model, *setup.task, setup.encoder, comm.get(),
                               nullptr, &other_size)
                  .ok());
  EXPECT_EQ(other_size.feature_cache_hits, 12 + eval_batches - 1);
  setup.model.width = 32;
  setup.model.heads = 2;
  TrainResult cached;
  ASSERT_TRUE(TrainAndEvaluate(setup.train, setup.model, *setup.task, setup.encoder, comm.get(),
                               nullptr, &cached)
                  .ok());
  EXPECT_EQ(cached.feature_cache_hits, 12 + eval_batches - 1);
  EXPECT_EQ(cached.parameter_checksum, plain.parameter_checksum);
  EXPECT_EQ(cached.eval_loss, plain.eval_loss);
  EXPECT_EQ(cached.type_accuracy, plain.type_accuracy);
  // A zero budget stores nothing.
  FeatureCache::Process().Clear();
  setup.train.feature_cache_bytes = 0;
  TrainResult unbudgeted;
  ASSERT_TRUE(TrainAndEvaluate(setup.train, setup.model, *setup.task, setup.encoder, comm.get(),
                               nullptr, &unbudgeted)
                  .ok());
  EXPECT_EQ(FeatureCache::Process().bytes(), 0);
  FeatureCache::Process().Clear();
}

TEST(Trainer, AStoppedJobResumesToTheSameResultAsAnUninterruptedOne) {
  TestSetup setup = MakeTestSetup("shapes", "topk", 8, /*steps=*/30);
  auto comm = comm::MakeSingleRankCommunicator();
  TrainResult uninterrupted;
  ASSERT_TRUE(TrainAndEvaluate(setup.train, setup.model, *setup.task, setup.encoder, comm.get(),
                               nullptr, &uninterrupted)
                  .ok());

  TempDir dir;
  setup.train.checkpoint_path = dir.path() + "/checkpoint.pt";
  std::atomic<bool> stop{false};
  setup.train.on_step = [&stop](const StepInfo& info) {
    if (info.step == 11) stop = true;
  };
  TrainResult first;
  Status s = TrainAndEvaluate(setup.train, setup.model, *setup.task, setup.encoder, comm.get(),
                              &stop, &first);
  EXPECT_TRUE(s.IsCancelled()) << s.ToString();
  EXPECT_EQ(first.steps_done, 13);  // The flag is seen by the step after the one that set it.
  EXPECT_TRUE(std::filesystem::exists(setup.train.checkpoint_path));
  EXPECT_FALSE(std::filesystem::exists(setup.train.checkpoint_path + ".tmp"));

  stop = false;
  setup.train.on_step = nullptr;
  TrainResult resumed;
  s = TrainAndEvaluate(setup.train, setup.model, *setup.task, setup.encoder, comm.get(), &stop,
                       &resumed);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(resumed.resumed_from_step, 13);
  EXPECT_EQ(resumed.steps_done, 30);
  EXPECT_EQ(resumed.parameter_checksum, uninterrupted.parameter_checksum);
  EXPECT_EQ(resumed.eval_loss, uninterrupted.eval_loss);
  EXPECT_EQ(resumed.accuracy, uninterrupted.accuracy);
  ASSERT_EQ(resumed.curves.size(), uninterrupted.curves.size());
  for (size_t i = 0; i < resumed.curves.size(); ++i) {
    EXPECT_EQ(resumed.curves[i].name, uninterrupted.curves[i].name);
    EXPECT_EQ(resumed.curves[i].step, uninterrupted.curves[i].step);
    EXPECT_EQ(resumed.curves[i].value, uninterrupted.curves[i].value) << resumed.curves[i].name;
  }
}

TEST(Trainer, ACheckpointOfOtherSettingsIsIgnored) {
  TestSetup setup = MakeTestSetup("shapes", "avgpool", 4, /*steps=*/10);
  auto comm = comm::MakeSingleRankCommunicator();
  TempDir dir;
  setup.train.checkpoint_path = dir.path() + "/checkpoint.pt";
  std::atomic<bool> stop{true};
  TrainResult first;
  EXPECT_TRUE(TrainAndEvaluate(setup.train, setup.model, *setup.task, setup.encoder, comm.get(),
                               &stop, &first)
                  .IsCancelled());
  EXPECT_EQ(first.steps_done, 1);
  setup.train.lr *= 0.5;
  TrainResult other;
  ASSERT_TRUE(TrainAndEvaluate(setup.train, setup.model, *setup.task, setup.encoder, comm.get(),
                               nullptr, &other)
                  .ok());
  EXPECT_EQ(other.resumed_from_step, 0);
}

TEST(Trainer, ANonFiniteLossIsClassifiedAsDiverged) {
  TestSetup setup = MakeTestSetup("shapes", "avgpool", 4, /*steps=*/20);
  setup.train.lr = 1e30;
  setup.train.warmup_steps = 0;
  setup.train.grad_clip = 0.0;
  auto comm = comm::MakeSingleRankCommunicator();
  TrainResult result;
  Status s = TrainAndEvaluate(setup.train, setup.model, *setup.task, setup.encoder, comm.get(),
                              nullptr, &result);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(result.failure_class, "diverged") << s.ToString();
  EXPECT_NE(s.message().find("diverged"), std::string::npos) << s.message();
}

TEST(Trainer, ALibtorchErrorBecomesAStatusNotAnException) {
  if (torch::cuda::is_available()) GTEST_SKIP() << "needs a libtorch without CUDA devices";
  TestSetup setup = MakeTestSetup("shapes", "avgpool", 4, /*steps=*/5);
  setup.train.device = 0;  // A CUDA device this libtorch cannot use: c10::Error inside.
  auto comm = comm::MakeSingleRankCommunicator();
  TrainResult result;
  Status s = TrainAndEvaluate(setup.train, setup.model, *setup.task, setup.encoder, comm.get(),
                              nullptr, &result);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(result.failure_class, "error");
  EXPECT_NE(s.message().find("libtorch"), std::string::npos) << s.message();
}

TEST(Trainer, InvalidOptionsAreRejectedBeforeTraining) {
  TestSetup setup = MakeTestSetup("shapes", "avgpool", 4, /*steps=*/5);
  setup.model.visual_tokens = 5;  // avgpool needs a square count.
  auto comm = comm::MakeSingleRankCommunicator();
  TrainResult result;
  Status s = TrainAndEvaluate(setup.train, setup.model, *setup.task, setup.encoder, comm.get(),
                              nullptr, &result);
  EXPECT_TRUE(s.IsInvalidInput()) << s.ToString();
  EXPECT_EQ(result.steps_done, 0);
}

}  // namespace
}  // namespace vlmscale::train

namespace vlmscale::train {
namespace {

TEST(MallocTuning, GlibcAcceptsTheDefaults) { EXPECT_TRUE(TuneMallocForTraining()); }

TEST(FeatureCache, StoresWithinTheBudgetOnly) {
  FeatureCache cache;
  CachedBatch batch{torch::ones({2, 4, 8}), torch::zeros({2, 3}, torch::kInt64),
                    torch::zeros({2}, torch::kInt64)};
  const int64_t size = 2 * 4 * 8 * 4 + 2 * 3 * 8 + 2 * 8;
  EXPECT_FALSE(cache.Put("a", batch, size - 1));
  EXPECT_TRUE(cache.Put("a", batch, size));
  EXPECT_EQ(cache.bytes(), size);
  EXPECT_FALSE(cache.Put("b", batch, 2 * size - 1));
  CachedBatch got;
  EXPECT_TRUE(cache.Get("a", &got));
  EXPECT_TRUE(torch::equal(got.features, batch.features));
  EXPECT_FALSE(cache.Get("b", &got));
  cache.Clear();
  EXPECT_EQ(cache.bytes(), 0);
  EXPECT_FALSE(cache.Get("a", &got));
}

}  // namespace
}  // namespace vlmscale::train
