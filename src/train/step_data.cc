#include "train/step_data.h"

#include <algorithm>
#include <numeric>

#include "core/check.h"
#include "tasks/pretext.h"

namespace vlmscale::train {

namespace {

std::vector<int64_t> Iota(int64_t begin, int64_t end) {
  std::vector<int64_t> v(static_cast<size_t>(std::max<int64_t>(0, end - begin)));
  std::iota(v.begin(), v.end(), begin);
  return v;
}

}  // namespace

int CurriculumLevel(const TrainOptions& options, const tasks::Task& task, int64_t step) {
  if (step < 0 || step >= options.curriculum_steps) return 0;
  const std::vector<int>& levels = task.question_levels();
  const int top = levels.empty() ? 1 : *std::max_element(levels.begin(), levels.end());
  return 1 + static_cast<int>(step * top / options.curriculum_steps);
}

std::vector<int64_t> StepExamples(const TrainOptions& options, const tasks::Task& task,
                                  int64_t step) {
  const int64_t b = options.batch_size;
  const int level = CurriculumLevel(options, task, step);
  if (level == 0) return Iota(step * b, (step + 1) * b);
  const std::vector<int>& levels = task.question_levels();
  const int64_t templates = static_cast<int64_t>(levels.size());
  std::vector<int64_t> picked;
  picked.reserve(static_cast<size_t>(b));
  // Every level admits at least one template, drawn uniformly by the generators, so a step's
  // window of 8 * B * T examples holds about 8 * B admitted ones or more; the scan runs into the
  // next step's window only when it holds fewer than B (probability < 1e-3 for B = 1, about
  // 1e-20 for B = 32 with one template of five admitted).
  for (int64_t i = kCurriculumFirstIndex + step * kCurriculumWindow * b * templates;
       static_cast<int64_t>(picked.size()) < b; ++i) {
    const int64_t type = task.Describe(tasks::Split::kTrain, options.seed, i, nullptr).type;
    if (levels[static_cast<size_t>(type)] <= level) picked.push_back(i);
  }
  return picked;
}

torch::Tensor SymbolicPrototypes(vlm::VisionEncoder& encoder, int64_t image_size, int64_t grid_size,
                                 const torch::Device& device, int64_t images) {
  CHECK(images >= 1) << "images " << images;
  torch::NoGradGuard no_grad;
  tasks::TaskOptions task_options;
  task_options.image_size = image_size;
  const tasks::PretextBatch pretext =
      tasks::MakePretextBatch(task_options, grid_size, /*seed=*/0, Iota(0, images));
  const bool was_training = encoder->is_training();
  encoder->eval();
  torch::Tensor features = encoder->forward(pretext.images.to(device)).to(torch::kFloat);
  if (was_training) encoder->train();
  features = features.reshape({-1, features.size(-1)});  // [images * G*G, C]
  const torch::Tensor labels = pretext.labels.reshape({-1}).to(device);
  torch::Tensor sums =
      torch::zeros({tasks::kNumPretextClasses, features.size(1)}, features.options());
  sums.index_add_(0, labels, features);
  const torch::Tensor counts =
      torch::bincount(labels, {}, tasks::kNumPretextClasses).to(features.options());
  return sums / counts.clamp_min(1.0).unsqueeze(1);
}

// A symbolic batch: every patch's features are the prototype of its label (SymbolicPrototypes).
// REQUIRES: raw has patch labels of the model's grid.
CachedBatch SymbolicBatch(const tasks::Batch& raw, const torch::Tensor& prototypes,
                          const torch::Device& device) {
  CachedBatch batch;
  const torch::Tensor labels = raw.patch_labels.to(device);
  batch.features = prototypes.index_select(0, labels.reshape({-1}))
                       .reshape({labels.size(0), labels.size(1), prototypes.size(1)});
  batch.questions = raw.questions.to(device);
  batch.answers = raw.answers.to(device);
  batch.types = raw.types;
  batch.patch_labels = labels;
  return batch;
}

}  // namespace vlmscale::train
