#include "vlm/vision_encoder.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "tasks/task.h"

namespace vlmscale::vlm {
namespace {

namespace fs = std::filesystem;

EncoderOptions Small(int64_t steps = 40) {
  EncoderOptions o;
  o.grid_size = 8;
  o.vision_width = 32;
  o.depth = 1;
  o.pretrain_steps = steps;
  return o;
}

std::string FreshDir(const std::string& name) {
  const fs::path dir = fs::path(VLMSCALE_TEST_BINARY_DIR) / "tmp" / name;
  fs::remove_all(dir);
  return dir.string();
}

torch::Tensor Images(int64_t n) {
  auto task = tasks::MakeTask("glyphs", tasks::TaskOptions());
  std::vector<int64_t> idx;
  for (int64_t i = 0; i < n; ++i) idx.push_back(i);
  return task.value()->MakeBatch(tasks::Split::kEval, 0, idx, 0).images;
}

TEST(EncoderOptions, DefaultsAreValid) {
  std::string error;
  EXPECT_TRUE(EncoderOptions().IsValid(&error)) << error;
}

TEST(EncoderOptions, PatchesMustTileTheImage) {
  EncoderOptions o;
  o.grid_size = 7;
  std::string error;
  EXPECT_FALSE(o.IsValid(&error));
  EXPECT_NE(error.find("multiple of grid_size"), std::string::npos) << error;
  o.grid_size = 24;  // The paper's 576 tokens: 2x2-pixel patches at 48.
  EXPECT_TRUE(o.IsValid(&error)) << error;
  o.vision_width = 40;
  EXPECT_FALSE(o.IsValid(&error));
  EXPECT_NE(error.find("multiple of 16"), std::string::npos) << error;
}

TEST(VisionEncoder, EmitsAGridOfPatchFeatures) {
  for (int64_t g : {4, 8, 24}) {
    EncoderOptions o = Small();
    o.grid_size = g;
    VisionEncoder encoder(o);
    auto out = encoder->forward(Images(2));
    EXPECT_EQ(out.sizes(), (std::vector<int64_t>{2, g * g, 32}));
  }
}

TEST(VisionEncoder, FrozenEncoderReturnsFeaturesWithoutGradient) {
  VisionEncoder encoder(Small());
  EXPECT_TRUE(encoder->forward(Images(1)).requires_grad());
  encoder->Freeze();
  EXPECT_FALSE(encoder->forward(Images(1)).requires_grad());
  for (const auto& p : encoder->parameters()) EXPECT_FALSE(p.requires_grad());
}

TEST(VisionEncoder, PretrainingLearnsThePretextTask) {
  torch::manual_seed(0);
  VisionEncoder encoder(Small(60));
  PretrainSummary summary = PretrainEncoder(encoder, 1);
  std::printf("%s\n", summary.BriefReport().c_str());
  EXPECT_EQ(summary.steps, 60);
  EXPECT_LT(summary.final_loss, 0.6 * summary.initial_loss);
  EXPECT_GT(summary.eval_accuracy, 0.6);
  EXPECT_TRUE(encoder->frozen());
}

TEST(VisionEncoder, SecondLoadComesFromTheCacheAndGivesIdenticalOutputs) {
  const std::string dir = FreshDir("encoder_cache");
  torch::manual_seed(123);
  const auto rng_before = torch::rand({4});
  torch::manual_seed(123);
  LoadInfo first_info, second_info;
  auto first = LoadOrPretrainEncoder(Small(), dir, 1, &first_info);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  // Loading or pretraining leaves the global RNG where it was.
  EXPECT_TRUE(torch::rand({4}).equal(rng_before));
  EXPECT_TRUE(first_info.pretrained);
  EXPECT_TRUE(fs::exists(first_info.path));
  EXPECT_EQ(first_info.path, EncoderCachePath(Small(), dir));
  auto second = LoadOrPretrainEncoder(Small(), dir, 1, &second_info);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_FALSE(second_info.pretrained);
  EXPECT_LT(second_info.seconds, first_info.seconds);
  EXPECT_TRUE((*second)->frozen());
  auto images = Images(3);
  EXPECT_TRUE((*first)->forward(images).equal((*second)->forward(images)));
  // Different options get a different file.
  EncoderOptions other = Small();
  other.seed = 1;
  EXPECT_NE(EncoderCachePath(other, dir), first_info.path);
}

TEST(VisionEncoder, ConcurrentCallersPretrainOnce) {
  const std::string dir = FreshDir("encoder_cache_concurrent");
  LoadInfo infos[2];
  std::optional<Result<VisionEncoder>> results[2];
  std::vector<std::thread> threads;
  for (int i = 0; i < 2; ++i) {
    threads.emplace_back(
        [&, i] { results[i].emplace(LoadOrPretrainEncoder(Small(20), dir, 1, &infos[i])); });
  }
  for (auto& t : threads) t.join();
  ASSERT_TRUE(results[0]->ok()) << results[0]->status().ToString();
  ASSERT_TRUE(results[1]->ok()) << results[1]->status().ToString();
  EXPECT_EQ(infos[0].pretrained + infos[1].pretrained, 1);
  auto images = Images(2);
  EXPECT_TRUE((*results[0]).value()->forward(images).equal((*results[1]).value()->forward(images)));
  int files = 0;
  for (const auto& entry : fs::directory_iterator(dir)) files += entry.path().extension() == ".pt";
  EXPECT_EQ(files, 1);  // No temporary files left behind.
}

TEST(VisionEncoder, InvalidOptionsAndUnwritableCacheAreReported) {
  EncoderOptions bad = Small();
  bad.grid_size = 5;
  auto invalid = LoadOrPretrainEncoder(bad, FreshDir("unused"), 1);
  ASSERT_FALSE(invalid.ok());
  EXPECT_TRUE(invalid.status().IsInvalidInput());
  const std::string file = FreshDir("not_a_dir");
  fs::create_directories(fs::path(file).parent_path());
  std::ofstream(file) << "x";
  auto unwritable = LoadOrPretrainEncoder(Small(), file + "/cache", 1);
  ASSERT_FALSE(unwritable.ok());
  EXPECT_EQ(unwritable.status().code(), Status::Code::kIOError);
  EXPECT_NE(unwritable.status().message().find("model.cache_dir"), std::string::npos);
}

}  // namespace
}  // namespace vlmscale::vlm
