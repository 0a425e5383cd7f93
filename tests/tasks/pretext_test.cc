#include "tasks/pretext.h"

#include <gtest/gtest.h>

namespace vlmscale::tasks {
namespace {

TEST(Pretext, LabelsCoverObjectsCharactersAndBackground) {
  std::vector<int64_t> indices;
  for (int64_t i = 0; i < 64; ++i) indices.push_back(i);
  PretextBatch b = MakePretextBatch(TaskOptions(), 8, 0, indices);
  ASSERT_EQ(b.images.sizes(), (std::vector<int64_t>{64, 3, 48, 48}));
  ASSERT_EQ(b.labels.sizes(), (std::vector<int64_t>{64, 64}));
  EXPECT_GE(b.labels.min().item<int64_t>(), 0);
  EXPECT_LT(b.labels.max().item<int64_t>(), kNumPretextClasses);
  // Even indices are shapes scenes (labels 0..24), odd ones glyphs (0 or 25..40).
  auto shapes = b.labels.index({torch::indexing::Slice(0, 64, 2)});
  auto glyphs = b.labels.index({torch::indexing::Slice(1, 64, 2)});
  EXPECT_LE(shapes.max().item<int64_t>(), 24);
  EXPECT_TRUE(glyphs.eq(0).logical_or(glyphs.ge(25)).all().item<bool>());
  // Every class occurs somewhere in a larger sample.
  indices.clear();
  for (int64_t i = 0; i < 1024; ++i) indices.push_back(i);
  auto counts = torch::bincount(MakePretextBatch(TaskOptions(), 8, 0, indices).labels.flatten(), {},
                                kNumPretextClasses);
  EXPECT_TRUE(counts.gt(0).all().item<bool>()) << counts;
}

TEST(Pretext, EveryGlyphIsCoveredByAPatchCentreAtGridEight) {
  // 18 chars at most; each char cell (6x9 px) contains >= 1 patch centre of a 6 px grid.
  std::vector<int64_t> indices;
  for (int64_t i = 1; i < 200; i += 2) indices.push_back(i);
  PretextBatch b = MakePretextBatch(TaskOptions(), 8, 5, indices);
  auto per_image = b.labels.ge(25).sum(1);
  EXPECT_GE(per_image.min().item<int64_t>(), 9);  // >= 3 lines x 3 chars.
}

TEST(Pretext, IsDeterministic) {
  PretextBatch a = MakePretextBatch(TaskOptions(), 4, 9, {3, 4});
  PretextBatch b = MakePretextBatch(TaskOptions(), 4, 9, {3, 4});
  EXPECT_TRUE(a.images.equal(b.images));
  EXPECT_TRUE(a.labels.equal(b.labels));
}

}  // namespace
}  // namespace vlmscale::tasks
