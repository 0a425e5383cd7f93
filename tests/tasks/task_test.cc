#include "tasks/task.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <unordered_set>

#include "core/hash.h"
#include "tasks/font.h"

namespace vlmscale::tasks {
namespace {

std::unique_ptr<Task> Make(const std::string& name, int64_t image_size = 48) {
  TaskOptions options;
  options.image_size = image_size;
  auto task = MakeTask(name, options);
  EXPECT_TRUE(task.ok()) << task.status().ToString();
  return std::move(task.value());
}

std::vector<int64_t> Range(int64_t begin, int64_t end) {
  std::vector<int64_t> v;
  for (int64_t i = begin; i < end; ++i) v.push_back(i);
  return v;
}

TEST(Task, PatchLabelsComeWithTheSameExamplesAndNameWhatCoversEachPatch) {
  for (const std::string name : {"shapes", "glyphs"}) {
    SCOPED_TRACE(name);
    auto task = Make(name);
    Batch plain = task->MakeBatch(Split::kTrain, 3, Range(0, 32), 0);
    Batch labeled = task->MakeBatch(Split::kTrain, 3, Range(0, 32), 8);
    EXPECT_FALSE(plain.patch_labels.defined());
    EXPECT_TRUE(labeled.images.equal(plain.images));
    EXPECT_TRUE(labeled.questions.equal(plain.questions));
    EXPECT_TRUE(labeled.answers.equal(plain.answers));
    ASSERT_EQ(labeled.patch_labels.sizes(), (std::vector<int64_t>{32, 64}));
    // Shapes objects are classes 1..24, glyph characters 25..40, background 0.
    const int64_t lo = name == "shapes" ? 1 : 25, hi = name == "shapes" ? 24 : 40;
    for (int64_t i = 0; i < 32; ++i) {
      std::set<int64_t> objects;  // Classes the scene holds (shapes: 1 + 4 colour + shape).
      ExampleRecord record = task->Describe(Split::kTrain, 3, i, nullptr);
      for (const SceneObject& o : record.scene.objects) objects.insert(1 + 4 * o.color + o.shape);
      int covered = 0;
      for (int64_t p = 0; p < 64; ++p) {
        const int64_t label = labeled.patch_labels[i][p].item<int64_t>();
        if (label == 0) continue;
        ++covered;
        EXPECT_GE(label, lo);
        EXPECT_LE(label, hi);
        if (name == "shapes") EXPECT_TRUE(objects.count(label)) << "example " << i << " " << label;
      }
      EXPECT_GT(covered, 0) << "example " << i;
    }
  }
}

std::vector<int64_t> QuestionOf(const Batch& b, int64_t i) {
  auto q = b.questions[i].contiguous();
  return std::vector<int64_t>(q.data_ptr<int64_t>(), q.data_ptr<int64_t>() + q.numel());
}

TEST(TaskOptions, DefaultsAreValid) {
  std::string error;
  EXPECT_TRUE(TaskOptions().IsValid(&error)) << error;
}

TEST(TaskOptions, TooSmallImageIsRejectedWithTheConstraint) {
  TaskOptions options;
  options.image_size = 32;
  std::string error;
  EXPECT_FALSE(options.IsValid(&error));
  EXPECT_NE(error.find("image_size must be in [48, 1024]"), std::string::npos) << error;
  EXPECT_FALSE(MakeTask("shapes", options).ok());
}

TEST(Tasks, UnknownNameSuggestsTheClosestTask) {
  auto task = MakeTask("glyph", TaskOptions());
  ASSERT_FALSE(task.ok());
  EXPECT_TRUE(task.status().IsInvalidInput());
  EXPECT_NE(task.status().message().find("did you mean 'glyphs'"), std::string::npos)
      << task.status().message();
}

TEST(Tasks, BatchesHaveTheDeclaredShapesAndRanges) {
  for (const std::string& name : TaskNames()) {
    for (int64_t size : {48, 96}) {
      auto task = Make(name, size);
      EXPECT_EQ(task->name(), name);
      EXPECT_EQ(task->question_tokens(), FindTaskShape(name)->question_tokens);
      Batch b = task->MakeBatch(Split::kTrain, 3, Range(0, 64), 0);
      ASSERT_EQ(b.images.sizes(), (std::vector<int64_t>{64, 3, size, size}));
      ASSERT_EQ(b.questions.sizes(), (std::vector<int64_t>{64, task->question_tokens()}));
      ASSERT_EQ(b.answers.sizes(), (std::vector<int64_t>{64}));
      EXPECT_EQ(b.images.dtype(), torch::kFloat32);
      EXPECT_EQ(b.questions.dtype(), torch::kInt64);
      EXPECT_GE(b.images.min().item<float>(), 0.0f);
      EXPECT_LE(b.images.max().item<float>(), 1.0f);
      EXPECT_GE(b.questions.min().item<int64_t>(), 0);
      EXPECT_LT(b.questions.max().item<int64_t>(), task->vocab_size());
      EXPECT_GE(b.answers.min().item<int64_t>(), 0);
      EXPECT_LT(b.answers.max().item<int64_t>(), task->num_answers());
      // Every question starts with a real token.
      EXPECT_TRUE(b.questions.select(1, 0).gt(0).all().item<bool>()) << name;
    }
  }
}

TEST(Tasks, ExamplesDependOnlyOnSplitSeedAndIndex) {
  for (const std::string& name : TaskNames()) {
    auto task = Make(name);
    Batch a = task->MakeBatch(Split::kTrain, 7, {5, 6, 7}, 0);
    Batch b = task->MakeBatch(Split::kTrain, 7, {100, 6, 1}, 0);
    EXPECT_TRUE(a.images[1].equal(b.images[1]));
    EXPECT_TRUE(a.questions[1].equal(b.questions[1]));
    EXPECT_TRUE(a.answers[1].equal(b.answers[1]));
    EXPECT_FALSE(a.images[0].equal(b.images[0]));
    Batch other_seed = task->MakeBatch(Split::kTrain, 8, {5, 6, 7}, 0);
    EXPECT_FALSE(a.images.equal(other_seed.images));
  }
}

uint64_t ExampleHash(const Batch& b, int64_t i) {
  auto image = b.images[i].contiguous();
  auto q = b.questions[i].contiguous();
  std::string bytes(reinterpret_cast<const char*>(image.data_ptr<float>()),
                    image.numel() * sizeof(float));
  bytes.append(reinterpret_cast<const char*>(q.data_ptr<int64_t>()), q.numel() * sizeof(int64_t));
  return Fnv1a64(bytes);
}

TEST(Tasks, TrainAndEvalExamplesNeverCoincide) {
  for (const std::string& name : TaskNames()) {
    auto task = Make(name);
    std::unordered_set<uint64_t> train;
    for (int64_t start = 0; start < 5000; start += 500) {
      Batch b = task->MakeBatch(Split::kTrain, 0, Range(start, start + 500), 0);
      for (int64_t i = 0; i < 500; ++i) train.insert(ExampleHash(b, i));
    }
    Batch eval = task->MakeBatch(Split::kEval, 0, Range(0, 1000), 0);
    int64_t collisions = 0;
    std::unordered_set<uint64_t> eval_hashes;
    for (int64_t i = 0; i < 1000; ++i) {
      const uint64_t h = ExampleHash(eval, i);
      eval_hashes.insert(h);
      collisions += train.count(h);
    }
    EXPECT_EQ(collisions, 0) << name;
    // The streams are rich: (image, question) pairs essentially never repeat within a split.
    EXPECT_GE(train.size(), 4990u) << name;
    EXPECT_GE(eval_hashes.size(), 995u) << name;
  }
}

TEST(Tasks, AnswersAreSpreadOverManyClasses) {
  for (const std::string& name : TaskNames()) {
    auto task = Make(name);
    Batch b = task->MakeBatch(Split::kTrain, 1, Range(0, 4000), 0);
    auto counts = torch::bincount(b.answers, {}, task->num_answers());
    const double majority = counts.max().item<int64_t>() / 4000.0;
    const int64_t used = counts.gt(0).sum().item<int64_t>();
    EXPECT_LT(majority, 0.25) << name << ": the majority answer would be a strong baseline\n"
                              << counts;
    // Every answer but three is used: shapes leaves 6, 7 and none unused, glyphs 5, 6 and none.
    EXPECT_EQ(used, task->num_answers() - 3) << name << counts;
  }
}

// Independent check of the shapes scene: every object's colour is read back from the pixels
// inside its bounding box (scene_test.cc checks the answers against the scene).
TEST(Tasks, ShapesSceneColorsMatchThePixels) {
  auto task = Make("shapes");
  const float palette[6][3] = {{0.92f, 0.16f, 0.14f}, {0.16f, 0.78f, 0.22f}, {0.20f, 0.32f, 0.95f},
                               {0.95f, 0.88f, 0.16f}, {0.88f, 0.22f, 0.86f}, {0.14f, 0.84f, 0.90f}};
  int checked = 0;
  std::vector<float> rgb(3 * 48 * 48);
  for (int64_t i = 0; i < 200; ++i) {
    const ExampleRecord r = task->Describe(Split::kEval, 2, i, rgb.data());
    auto image = torch::from_blob(rgb.data(), {3, 48, 48}, torch::kFloat32);
    const float bg = rgb[0];  // Corner pixels are never covered.
    for (const SceneObject& o : r.scene.objects) {
      EXPECT_EQ(o.x / 12, o.col) << i;
      EXPECT_EQ(o.y / 12, o.row) << i;
      EXPECT_EQ((o.x + o.size - 1) / 12, o.col) << i;  // Inside its 12-px cell.
      auto box = image.slice(1, o.y, o.y + o.size).slice(2, o.x, o.x + o.size);
      auto px = box.reshape({3, -1}).t();
      auto colors = px.index({px.sub(bg).abs().sum(1).gt(1e-4)});
      ASSERT_GT(colors.size(0), 0) << i;
      auto mean = colors.mean(0);
      int best = -1;
      double best_cos = -1;
      for (int c = 0; c < 6; ++c) {
        auto p = torch::tensor({palette[c][0], palette[c][1], palette[c][2]});
        const double cos = torch::cosine_similarity(mean, p, 0).item<double>();
        if (cos > best_cos) best_cos = cos, best = c;
      }
      EXPECT_EQ(best, o.color) << "example " << i;
      ++checked;
    }
    // The rest of the image is background.
    const int64_t covered = image.sub(bg).abs().sum(0).gt(1e-4).sum().item<int64_t>();
    int64_t boxes = 0;
    for (const SceneObject& o : r.scene.objects) boxes += o.size * o.size;
    EXPECT_LE(covered, boxes) << i;
  }
  EXPECT_GT(checked, 500);
}

// Independent check of glyphs answers: the text is decoded from the pixels with the font table
// and "char" and "count" questions are answered from the decoded text.
TEST(Tasks, GlyphsAnswersMatchTheTextDecodedFromPixels) {
  using internal::GlyphPixel;
  using internal::kGlyphAlphabet;
  auto task = Make("glyphs");
  Batch b = task->MakeBatch(Split::kEval, 4, Range(0, 400), 0);
  int checked = 0;
  for (int64_t i = 0; i < 400; ++i) {
    auto ink = b.images[i].sum(0).lt(1.5).contiguous();  // Ink <= 0.9, paper >= 2.25.
    auto nz = ink.nonzero();                             // [n, 2] (y, x)
    ASSERT_GT(nz.size(0), 0);
    const int64_t y0 = nz.select(1, 0).min().item<int64_t>() - 1;
    const int64_t x0 = nz.select(1, 1).min().item<int64_t>();
    const bool* pix = ink.data_ptr<bool>();
    auto decode = [&](int line, int pos) -> std::string {
      const int64_t cx = x0 + 6 * pos, cy = y0 + 1 + 9 * line;
      if (cx + 5 > 48 || cy + 7 > 48) return "none";
      for (int c = 0; c < 16; ++c) {
        bool match = true;
        for (int r = 0; r < 7 && match; ++r)
          for (int k = 0; k < 5 && match; ++k)
            match = GlyphPixel(c, r, k) == pix[(cy + r) * 48 + cx + k];
        if (match) return std::string(1, kGlyphAlphabet[c]);
      }
      return "none";
    };
    const auto q = QuestionOf(b, i);
    const std::string op = task->QuestionText({q[0]});
    const std::string answer = task->AnswerText(b.answers[i].item<int64_t>());
    if (op == "char") {
      EXPECT_EQ(answer, decode(static_cast<int>(q[1] - 7), static_cast<int>(q[2] - 10))) << i;
      ++checked;
    } else if (op == "count") {
      const std::string letter = task->QuestionText({q[1]});
      int count = 0;
      for (int pos = 0; pos < 6; ++pos) count += decode(static_cast<int>(q[3] - 7), pos) == letter;
      EXPECT_EQ(answer, std::to_string(count)) << i;
      ++checked;
    }
  }
  EXPECT_GT(checked, 100);
}

TEST(Tasks, QuestionTypesNameTheTemplateOfEveryExample) {
  // The first word (and for shapes' "count", the second) identifies the template.
  const std::map<std::string, std::map<std::string, std::string>> first_word = {
      {"shapes",
       {{"count_attribute", "count"},
        {"count_pair", "count"},
        {"exists_pair", "any"},
        {"compare", "more"},
        {"most_frequent", "most"}}},
      {"glyphs", {{"char_at", "char"}, {"count_in_line", "count"}, {"same", "same"}}}};
  for (const std::string& name : TaskNames()) {
    auto task = Make(name);
    const auto& types = task->question_types();
    ASSERT_EQ(types.size(), first_word.at(name).size()) << name;
    Batch b = task->MakeBatch(Split::kTrain, 5, Range(0, 3000), 0);
    ASSERT_EQ(b.types.sizes(), (std::vector<int64_t>{3000}));
    auto counts = torch::bincount(b.types, {}, static_cast<int64_t>(types.size()));
    ASSERT_EQ(counts.size(0), static_cast<int64_t>(types.size()));
    const double expected = 3000.0 / static_cast<double>(types.size());
    for (int64_t t = 0; t < counts.size(0); ++t) {
      // Templates are drawn uniformly.
      EXPECT_GT(counts[t].item<int64_t>(), 0.85 * expected) << name << " " << types[t];
      EXPECT_LT(counts[t].item<int64_t>(), 1.15 * expected) << name << " " << types[t];
    }
    for (int64_t i = 0; i < 3000; ++i) {
      const auto q = QuestionOf(b, i);
      const std::string type = types[b.types[i].item<int64_t>()];
      const std::string word = task->QuestionText({q[0]});
      EXPECT_EQ(word, first_word.at(name).at(type))
          << name << " example " << i << " type " << type << ": " << task->QuestionText(q);
      if (name == "glyphs" && type == "count_in_line") EXPECT_EQ(task->QuestionText({q[2]}), "in");
      if (name == "shapes" && type == "count_pair") {
        EXPECT_NE(task->QuestionText({q[1]}), "any") << i;
        EXPECT_NE(task->QuestionText({q[2]}), "object") << i;
      }
      if (name == "shapes" && type == "count_attribute") {
        EXPECT_TRUE(task->QuestionText({q[1]}) == "any" || task->QuestionText({q[2]}) == "object")
            << task->QuestionText(q);
      }
    }
  }
}

TEST(Tasks, QuestionTextIsReadable) {
  auto task = Make("shapes");
  EXPECT_EQ(task->QuestionText({1, 21, 6, 0}), "count red object");
  EXPECT_EQ(task->AnswerText(18), "yes");
  auto glyphs = Make("glyphs");
  EXPECT_EQ(glyphs->QuestionText({1, 7, 12}), "char line0 pos2");
  EXPECT_EQ(glyphs->AnswerText(0), "A");
}

TEST(Tasks, ReportsGenerationSpeed) {
  // Informational (never gated on wall-clock): a batch of 32 at 48x48.
  for (const std::string& name : TaskNames()) {
    auto task = Make(name);
    const auto start = std::chrono::steady_clock::now();
    int64_t total = 0;
    for (int rep = 0; rep < 50; ++rep) {
      total += task->MakeBatch(Split::kTrain, 0, Range(rep * 32, rep * 32 + 32), 0).answers.size(0);
    }
    const double us =
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
            .count() /
        total;
    std::printf("%s: %.2f us per example (batch 32, 48x48)\n", name.c_str(), us);
    EXPECT_EQ(total, 50 * 32);
  }
}

}  // namespace
}  // namespace vlmscale::tasks
