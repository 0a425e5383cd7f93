// Generated tasks: every example is a pure function of (split, seed, index), rendered on the fly
// inside each training step. Two tasks probe the two ends of the seed paper's trade-off:
//
//   "shapes"  visual reasoning over a few large coloured shapes on a 4x4 grid; the questions
//             compose several facts (counts, comparisons, spatial relations), so LLM capacity
//             matters more than visual detail.
//   "glyphs"  OCR-like reading of short strings drawn with a built-in 5x7 bitmap font at small
//             size; questions ask for exact characters, so visual detail (tokens) matters.
//
// See docs/MODEL.md for the templates and vocabularies.
#ifndef VLMSCALE_TASKS_TASK_H_
#define VLMSCALE_TASKS_TASK_H_

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "tasks/scene.h"
#include "tasks/task_facts.h"

namespace vlmscale::tasks {

// Train and eval examples come from disjoint random streams.
enum class Split { kTrain, kEval };

struct Batch {
  torch::Tensor images;     // [B, 3, S, S] float32 in [0, 1], S = image_size().
  torch::Tensor questions;  // [B, question_tokens()] int64 token ids (0 = padding, right-padded).
  torch::Tensor answers;    // [B] int64 answer ids in [0, num_answers()).
  torch::Tensor types;      // [B] int64 question template ids in [0, question_types().size()).
  // [B, L*L] int64 pretext class ids (tasks/pretext.h) of an L x L patch grid, row-major: what
  // covers each patch centre. Only when MakeBatch is asked for them (label_grid L > 0).
  torch::Tensor patch_labels;
};

class Task {
 public:
  virtual ~Task() = default;
  virtual std::string name() const = 0;
  virtual int64_t image_size() const = 0;
  virtual int64_t vocab_size() const = 0;       // Question vocabulary incl. padding id 0.
  virtual int64_t question_tokens() const = 0;  // Q; equals FindTaskShape(name())->question_tokens.
  virtual int64_t num_answers() const = 0;
  // Names of the question templates (Batch::types indexes them), e.g. "count", "char_at".
  virtual const std::vector<std::string>& question_types() const = 0;
  // Each template's step of difficulty, 1 = easiest, in question_types() order (a curriculum,
  // train::TrainOptions::curriculum_steps, admits the templates of level <= k in its phase k).
  // shapes: count_attribute 1; count_pair, exists_pair 2; compare, most_frequent 3. glyphs:
  // char_at 1; count_in_line, same 2.
  virtual const std::vector<int>& question_levels() const = 0;

  // Returns one example per entry of `indices`, in order. Deterministic in (split, seed, index)
  // and independent of the batch composition. Train and eval examples are drawn from disjoint
  // seed streams, so a train example never equals an eval example (tested on 5,000 x 1,000).
  // Thread-safe (const, no shared state). With label_grid L > 0 the batch also has the patch
  // labels of an L x L grid (the same images either way). REQUIRES: 0 <= L <= image_size().
  virtual Batch MakeBatch(Split split, uint64_t seed, const std::vector<int64_t>& indices,
                          int64_t label_grid) const = 0;

  // Example `index` of (split, seed) with its scene: the same question, answer and template as
  // MakeBatch gives. Writes the image (3*S*S floats, CHW) to `rgb` when non-null; skipping it
  // makes this cheap (question-only statistics). Thread-safe.
  virtual ExampleRecord Describe(Split split, uint64_t seed, int64_t index, float* rgb) const = 0;

  // Human-readable rendering of a question's token ids and an answer id (for docs and debugging).
  virtual std::string QuestionText(const std::vector<int64_t>& tokens) const = 0;
  virtual std::string AnswerText(int64_t answer) const = 0;
};

// Creates the task named `name` ("shapes" or "glyphs"). Returns kInvalidInput for an unknown name
// (naming the closest known one) or invalid options.
Result<std::unique_ptr<Task>> MakeTask(const std::string& name, const TaskOptions& options);

}  // namespace vlmscale::tasks

#endif  // VLMSCALE_TASKS_TASK_H_
