// Example generators behind the tasks (internal to src/tasks). Each generator is a pure function
// of a 64-bit example key. It draws the question template and question first, then the answer
// uniformly over the answers that question allows, then a scene that fits (so the question text
// alone predicts the answer no better than chance; tests/tasks/question_only_test.py), and
// finally renders it, optionally with a per-pixel pretext label map.
#ifndef VLMSCALE_TASKS_GENERATORS_H_
#define VLMSCALE_TASKS_GENERATORS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "tasks/scene.h"

namespace vlmscale::tasks::internal {

// SplitMix64 (Steele, Lea, Flood 2014): small, fast and good enough for scene generation.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n). REQUIRES: n >= 1.
  int64_t Uniform(int64_t n) { return static_cast<int64_t>(Next() % static_cast<uint64_t>(n)); }
  // Uniform in [lo, hi]. REQUIRES: lo <= hi.
  int64_t Range(int64_t lo, int64_t hi) { return lo + Uniform(hi - lo + 1); }
  // Uniform in [0, 1).
  double Unit() { return static_cast<double>(Next() >> 11) * (1.0 / 9007199254740992.0); }
  bool Bernoulli(double p) { return Unit() < p; }

 private:
  uint64_t state_;
};

// Stream tags: train, eval and pretext examples hash their (seed, index) under different tags,
// so the three streams are disjoint.
constexpr uint64_t kTrainStream = 0x747261696e2d3031ULL;    // "train-01"
constexpr uint64_t kEvalStream = 0x6576616c2d2d3032ULL;     // "eval--02"
constexpr uint64_t kPretextStream = 0x7072657478742d33ULL;  // "pretxt-3"

// The key of example `index` of stream `stream` under `seed`.
inline uint64_t ExampleKey(uint64_t stream, uint64_t seed, int64_t index) {
  Rng a(stream ^ 0x243F6A8885A308D3ULL);
  Rng b(a.Next() ^ seed);
  Rng c(b.Next() ^ static_cast<uint64_t>(index));
  return c.Next();
}

using tasks::Scene;
using tasks::SceneObject;

// Where a generator writes. rgb: 3*S*S floats, channel-major (CHW), every pixel written, or
// nullptr to skip rendering (question, answer and scene are the same either way). labels: S*S
// bytes of pretext class ids (tasks/pretext.h) or nullptr. question: Q int64 ids, every slot
// written (0 = padding). answer: one int64.
struct ExampleOut {
  float* rgb = nullptr;
  uint8_t* labels = nullptr;
  int64_t* question = nullptr;
  int64_t* answer = nullptr;
  int64_t* type = nullptr;  // The question template's index (Task::question_types()), or nullptr.
  Scene* scene = nullptr;   // Filled (replaced) when non-null.
};

// Shapes: Q = 8, vocabulary 32, 21 answers. Glyphs: Q = 8, vocabulary 32, 26 answers.
constexpr int64_t kShapesQuestionTokens = 8;
constexpr int64_t kShapesVocabSize = 32;
constexpr int64_t kShapesNumAnswers = 21;
constexpr int64_t kGlyphsQuestionTokens = 8;
constexpr int64_t kGlyphsVocabSize = 32;
constexpr int64_t kGlyphsNumAnswers = 26;

// The label of each patch of a grid x grid grid over an s x s pixel label map: the label at the
// patch centre, row-major into out[grid * grid]. REQUIRES: 1 <= grid <= s.
void PatchLabels(const uint8_t* label_map, int64_t s, int64_t grid, int64_t* out);

// REQUIRES: image_size >= 48.
void GenerateShapes(uint64_t key, int64_t image_size, const ExampleOut& out);
void GenerateGlyphs(uint64_t key, int64_t image_size, const ExampleOut& out);

// Names of the question templates, indexed by ExampleOut::type.
const std::vector<std::string>& ShapesQuestionTypes();
const std::vector<std::string>& GlyphsQuestionTypes();
// Each template's step of difficulty (Task::question_levels()), in the same order.
const std::vector<int>& ShapesQuestionLevels();
const std::vector<int>& GlyphsQuestionLevels();

// Token and answer names for QuestionText/AnswerText.
const char* ShapesTokenName(int64_t token);
const char* ShapesAnswerName(int64_t answer);
const char* GlyphsTokenName(int64_t token);
const char* GlyphsAnswerName(int64_t answer);

}  // namespace vlmscale::tasks::internal

#endif  // VLMSCALE_TASKS_GENERATORS_H_
