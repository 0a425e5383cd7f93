#include "tasks/pretext.h"

#include "core/check.h"
#include "tasks/generators.h"

namespace vlmscale::tasks {

PretextBatch MakePretextBatch(const TaskOptions& options, int64_t grid_size, uint64_t seed,
                              const std::vector<int64_t>& indices) {
  CHECK(options.IsValid(nullptr)) << "invalid TaskOptions";
  const int64_t s = options.image_size;
  CHECK(grid_size >= 1 && grid_size <= s) << "grid_size " << grid_size;
  const int64_t b = static_cast<int64_t>(indices.size());
  PretextBatch batch;
  batch.images = torch::empty({b, 3, s, s}, torch::kFloat32);
  batch.labels = torch::empty({b, grid_size * grid_size}, torch::kInt64);
  float* images = batch.images.data_ptr<float>();
  int64_t* labels = batch.labels.data_ptr<int64_t>();
  std::vector<uint8_t> label_map(s * s);
  int64_t question[internal::kShapesQuestionTokens + internal::kGlyphsQuestionTokens];
  int64_t answer = 0;
  for (int64_t i = 0; i < b; ++i) {
    internal::ExampleOut out;
    out.rgb = images + i * 3 * s * s;
    out.labels = label_map.data();
    out.question = question;
    out.answer = &answer;
    const uint64_t key = internal::ExampleKey(internal::kPretextStream, seed, indices[i]);
    if (indices[i] % 2 == 0) {
      internal::GenerateShapes(key, s, out);
    } else {
      internal::GenerateGlyphs(key, s, out);
    }
    internal::PatchLabels(label_map.data(), s, grid_size, labels + i * grid_size * grid_size);
  }
  return batch;
}

namespace internal {

void PatchLabels(const uint8_t* label_map, int64_t s, int64_t grid, int64_t* out) {
  for (int64_t gy = 0; gy < grid; ++gy) {
    const int64_t y = (2 * gy + 1) * s / (2 * grid);
    for (int64_t gx = 0; gx < grid; ++gx) {
      const int64_t x = (2 * gx + 1) * s / (2 * grid);
      out[gy * grid + gx] = label_map[y * s + x];
    }
  }
}

}  // namespace internal

}  // namespace vlmscale::tasks
