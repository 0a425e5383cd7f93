// Shared fixtures of the trainer tests: a small real task, a frozen (randomly initialized, not
// pretrained: pretraining is the vlm component's concern) encoder and a nano-sized Vlm.
#ifndef VLMSCALE_TESTS_TRAIN_TRAIN_TEST_UTIL_H_
#define VLMSCALE_TESTS_TRAIN_TRAIN_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "tasks/task.h"
#include "train/malloc_tuning.h"
#include "train/trainer.h"
#include "vlm/vision_encoder.h"
#include "vlm/vlm.h"

namespace vlmscale::train {

struct TestSetup {
  std::unique_ptr<tasks::Task> task;
  vlm::VisionEncoder encoder{nullptr};
  vlm::VlmOptions model;
  TrainOptions train;
};

inline TestSetup MakeTestSetup(const std::string& task_name, const std::string& method,
                               int64_t visual_tokens, int64_t steps) {
  TuneMallocForTraining();  // As the job does: several times faster steps.
  TestSetup s;
  auto task = tasks::MakeTask(task_name, tasks::TaskOptions());
  CHECK(task.ok()) << task.status().ToString();
  s.task = std::move(task.value());
  vlm::EncoderOptions encoder_options;
  encoder_options.seed = 7;
  torch::manual_seed(7);
  s.encoder = vlm::VisionEncoder(encoder_options);
  s.encoder->Freeze();
  s.model.width = 32;
  s.model.depth = 2;
  s.model.heads = 2;
  s.model.mlp_ratio = 4;
  s.model.vocab_size = s.task->vocab_size();
  s.model.question_tokens = s.task->question_tokens();
  s.model.num_answers = s.task->num_answers();
  s.model.grid_size = encoder_options.grid_size;
  s.model.vision_width = encoder_options.vision_width;
  s.model.method = method;
  s.model.visual_tokens = visual_tokens;
  s.train.steps = steps;
  s.train.batch_size = 16;
  s.train.warmup_steps = std::min<int64_t>(5, steps);
  s.train.eval_examples = 96;
  s.train.eval_batch_size = 32;
  return s;
}

inline std::vector<int64_t> CurveSteps(const std::vector<store::CurvePoint>& curves,
                                       const std::string& name) {
  std::vector<int64_t> steps;
  for (const auto& p : curves) {
    if (p.name == name) steps.push_back(p.step);
  }
  return steps;
}

inline double CurveValue(const std::vector<store::CurvePoint>& curves, const std::string& name,
                         int64_t step) {
  for (const auto& p : curves) {
    if (p.name == name && p.step == step) return p.value;
  }
  ADD_FAILURE() << "no point " << name << "@" << step;
  return 0.0;
}

// A fresh directory under the system temp dir, removed with its contents on destruction.
class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "vlmscale_train_XXXXXX").string();
    CHECK(mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace vlmscale::train

#endif  // VLMSCALE_TESTS_TRAIN_TRAIN_TEST_UTIL_H_
