// Dense pretext labels for pretraining the vision encoder (vlm/vision_encoder.h): for every
// patch of a grid_size x grid_size grid, which object (colour and shape) or which character
// covers the patch centre. Images are drawn from both tasks from a stream disjoint from the
// tasks' train and eval streams.
#ifndef VLMSCALE_TASKS_PRETEXT_H_
#define VLMSCALE_TASKS_PRETEXT_H_

#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "tasks/task.h"

namespace vlmscale::tasks {

// Class ids (kNumPretextClasses = 41, in tasks/task_facts.h): 0 = background; 1 + 4 * colour +
// shape for a shapes object (6 colours x 4 shapes); 25 + c for glyph character c (16 characters).

struct PretextBatch {
  torch::Tensor images;  // [B, 3, S, S] float32 in [0, 1].
  torch::Tensor labels;  // [B, grid_size * grid_size] int64 in [0, kNumPretextClasses), row-major.
};

// Even indices are shapes scenes, odd indices glyph images. Deterministic in (seed, index).
// REQUIRES: options.IsValid(), 1 <= grid_size <= options.image_size.
PretextBatch MakePretextBatch(const TaskOptions& options, int64_t grid_size, uint64_t seed,
                              const std::vector<int64_t>& indices);

}  // namespace vlmscale::tasks

#endif  // VLMSCALE_TASKS_PRETEXT_H_
