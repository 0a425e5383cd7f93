// What a training step reads besides the plain stream of examples (issue 17, item 4): the
// curriculum over the task's question levels and the symbolic scenes, whose vocabulary is the
// frozen encoder's class prototypes. train/trainer.cc draws every step's batch through them.
#ifndef VLMSCALE_TRAIN_STEP_DATA_H_
#define VLMSCALE_TRAIN_STEP_DATA_H_

#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "tasks/task.h"
#include "train/feature_cache.h"
#include "train/train_options.h"
#include "vlm/vision_encoder.h"

namespace vlmscale::train {

// The curriculum level in effect at 0-based `step` (TrainOptions::curriculum_steps): k in
// [1, L] during the curriculum (L = the task's highest question level), 0 after it (every
// template).
int CurriculumLevel(const TrainOptions& options, const tasks::Task& task, int64_t step);

// The train-split example indices of the global batch at 0-based `step`, in order (rank r takes
// the ShardRange slice of them). Outside the curriculum: [step*B, (step+1)*B). During it: the
// first B examples, scanning up from kCurriculumFirstIndex + step*kCurriculumWindow*B*T (T = the
// task's template count), whose template's level is <= CurriculumLevel; a stream disjoint from
// the other steps' examples for any realistic run (< 2^37 / (B*T) steps).
inline constexpr int64_t kCurriculumFirstIndex = int64_t{1} << 40;
inline constexpr int64_t kCurriculumWindow = 8;
std::vector<int64_t> StepExamples(const TrainOptions& options, const tasks::Task& task,
                                  int64_t step);

// The symbolic scene's vocabulary in the frozen encoder's feature space: row c of the result
// ([tasks::kNumPretextClasses, vision_width], float32 on `device`) is the mean feature of the
// encoder patches whose centre class is c over `images` pretext images (tasks/pretext.h, seed 0,
// both tasks), zero for a class that never occurs. Deterministic. REQUIRES: images >= 1.
torch::Tensor SymbolicPrototypes(vlm::VisionEncoder& encoder, int64_t image_size, int64_t grid_size,
                                 const torch::Device& device, int64_t images = 512);

// A symbolic batch: every patch's features are the prototype of its label (SymbolicPrototypes), on
// `device`, with its questions, answers, types and labels. REQUIRES: raw has patch labels.
CachedBatch SymbolicBatch(const tasks::Batch& raw, const torch::Tensor& prototypes,
                          const torch::Device& device);

}  // namespace vlmscale::train

#endif  // VLMSCALE_TRAIN_STEP_DATA_H_
