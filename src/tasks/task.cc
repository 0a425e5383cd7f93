#include "tasks/task.h"

#include <utility>

#include "core/check.h"
#include "core/strings.h"
#include "tasks/generators.h"

namespace vlmscale::tasks {
namespace {

using Generator = void (*)(uint64_t, int64_t, const internal::ExampleOut&);
using NameFn = const char* (*)(int64_t);

// A task defined by an example generator and its vocabularies.
class GeneratedTask final : public Task {
 public:
  struct Spec {
    std::string name;
    int64_t vocab_size, question_tokens, num_answers;
    Generator generate;
    NameFn token_name, answer_name;
    const std::vector<std::string>* question_types;
    const std::vector<int>* question_levels;
  };
  GeneratedTask(Spec spec, const TaskOptions& options)
      : spec_(std::move(spec)), options_(options) {}

  std::string name() const override { return spec_.name; }
  int64_t image_size() const override { return options_.image_size; }
  int64_t vocab_size() const override { return spec_.vocab_size; }
  int64_t question_tokens() const override { return spec_.question_tokens; }
  int64_t num_answers() const override { return spec_.num_answers; }
  const std::vector<std::string>& question_types() const override { return *spec_.question_types; }
  const std::vector<int>& question_levels() const override { return *spec_.question_levels; }

  Batch MakeBatch(Split split, uint64_t seed, const std::vector<int64_t>& indices,
                  int64_t label_grid) const override {
    const int64_t b = static_cast<int64_t>(indices.size());
    const int64_t s = options_.image_size;
    const int64_t q = spec_.question_tokens;
    CHECK(label_grid >= 0 && label_grid <= s) << "label_grid " << label_grid;
    Batch batch;
    std::vector<uint8_t> label_map;
    if (label_grid > 0) {
      batch.patch_labels = torch::empty({b, label_grid * label_grid}, torch::kInt64);
      label_map.resize(s * s);
    }
    batch.images = torch::empty({b, 3, s, s}, torch::kFloat32);
    batch.questions = torch::empty({b, q}, torch::kInt64);
    batch.answers = torch::empty({b}, torch::kInt64);
    batch.types = torch::empty({b}, torch::kInt64);
    float* images = batch.images.data_ptr<float>();
    int64_t* questions = batch.questions.data_ptr<int64_t>();
    int64_t* answers = batch.answers.data_ptr<int64_t>();
    int64_t* types = batch.types.data_ptr<int64_t>();
    const uint64_t stream = split == Split::kTrain ? internal::kTrainStream : internal::kEvalStream;
    for (int64_t i = 0; i < b; ++i) {
      internal::ExampleOut out;
      out.rgb = images + i * 3 * s * s;
      out.question = questions + i * q;
      out.answer = answers + i;
      out.type = types + i;
      if (label_grid > 0) out.labels = label_map.data();
      spec_.generate(internal::ExampleKey(stream, seed, indices[i]), s, out);
      if (label_grid > 0) {
        internal::PatchLabels(label_map.data(), s, label_grid,
                              batch.patch_labels.data_ptr<int64_t>() + i * label_grid * label_grid);
      }
    }
    return batch;
  }

  ExampleRecord Describe(Split split, uint64_t seed, int64_t index, float* rgb) const override {
    ExampleRecord record;
    record.question.assign(spec_.question_tokens, 0);
    internal::ExampleOut out;
    out.rgb = rgb;
    out.question = record.question.data();
    out.answer = &record.answer;
    out.type = &record.type;
    out.scene = &record.scene;
    const uint64_t stream = split == Split::kTrain ? internal::kTrainStream : internal::kEvalStream;
    spec_.generate(internal::ExampleKey(stream, seed, index), options_.image_size, out);
    return record;
  }

  std::string QuestionText(const std::vector<int64_t>& tokens) const override {
    std::vector<std::string> words;
    for (int64_t t : tokens) {
      if (t != 0) words.push_back(spec_.token_name(t));
    }
    return Join(words, " ");
  }
  std::string AnswerText(int64_t answer) const override { return spec_.answer_name(answer); }

 private:
  Spec spec_;
  TaskOptions options_;
};

}  // namespace

Result<std::unique_ptr<Task>> MakeTask(const std::string& name, const TaskOptions& options) {
  std::string error;
  if (!options.IsValid(&error)) return Status::InvalidInput("task options: " + error);
  if (name == "shapes") {
    return std::unique_ptr<Task>(
        new GeneratedTask({"shapes", internal::kShapesVocabSize, internal::kShapesQuestionTokens,
                           internal::kShapesNumAnswers, &internal::GenerateShapes,
                           &internal::ShapesTokenName, &internal::ShapesAnswerName,
                           &internal::ShapesQuestionTypes(), &internal::ShapesQuestionLevels()},
                          options));
  }
  if (name == "glyphs") {
    return std::unique_ptr<Task>(
        new GeneratedTask({"glyphs", internal::kGlyphsVocabSize, internal::kGlyphsQuestionTokens,
                           internal::kGlyphsNumAnswers, &internal::GenerateGlyphs,
                           &internal::GlyphsTokenName, &internal::GlyphsAnswerName,
                           &internal::GlyphsQuestionTypes(), &internal::GlyphsQuestionLevels()},
                          options));
  }
  return FindTaskShape(name).status();  // Unknown name: the message names the closest one.
}

}  // namespace vlmscale::tasks
