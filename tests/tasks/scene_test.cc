// The structured scene of every example (Task::Describe) agrees with its answer: answers are
// recomputed from the scene alone, per template, and the answer is one of the question's
// `choices` allowed answers.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "tasks/baseline.h"
#include "tasks/task.h"

namespace vlmscale::tasks {
namespace {

std::unique_ptr<Task> Make(const std::string& name) {
  auto task = MakeTask(name, TaskOptions());
  EXPECT_TRUE(task.ok()) << task.status().ToString();
  return std::move(task.value());
}

std::vector<std::string> Words(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

// Objects matching a descriptor "<colour|any> <shape|object>".
int Count(const Scene& scene, const std::string& color, const std::string& shape) {
  int n = 0;
  for (const SceneObject& o : scene.objects) {
    n += (color == "any" || color == ShapesColorName(o.color)) &&
         (shape == "object" || shape == ShapesShapeName(o.shape));
  }
  return n;
}

// The answer text recomputed from the scene.
std::string ShapesAnswerFromScene(const std::string& type, const std::vector<std::string>& w,
                                  const Scene& scene) {
  if (type == "count_attribute" || type == "count_pair") {
    return std::to_string(Count(scene, w[1], w[2]));
  }
  if (type == "exists_pair") return Count(scene, w[1], w[2]) > 0 ? "yes" : "no";
  if (type == "compare") return Count(scene, w[1], w[2]) > Count(scene, w[4], w[5]) ? "yes" : "no";
  // most_frequent: the unique most frequent colour or shape.
  std::map<std::string, int> counts;
  for (const SceneObject& o : scene.objects) {
    ++counts[w[1] == "color" ? ShapesColorName(o.color) : ShapesShapeName(o.shape)];
  }
  std::string best;
  int best_count = -1, ties = 0;
  for (const auto& [value, count] : counts) {
    if (count > best_count)
      best = value, best_count = count, ties = 0;
    else if (count == best_count)
      ++ties;
  }
  return ties == 0 ? best : "<tie>";
}

std::string GlyphsAnswerFromScene(const std::string& type, const std::vector<std::string>& w,
                                  const Scene& scene) {
  auto at = [&](const std::string& line, const std::string& pos) -> std::string {
    const std::string& text = scene.lines.at(std::stoi(line.substr(4)));
    const size_t p = std::stoul(pos.substr(3));
    return p < text.size() ? std::string(1, text[p]) : "<past the end>";
  };
  if (type == "char_at") return at(w[1], w[2]);
  if (type == "count_in_line") {
    const std::string& text = scene.lines.at(std::stoi(w[3].substr(4)));
    return std::to_string(std::count(text.begin(), text.end(), w[1][0]));
  }
  return at(w[1], w[2]) == at(w[3], w[4]) ? "yes" : "no";
}

TEST(Scene, AnswersAgreeWithTheSceneForEveryTemplate) {
  for (const std::string& name : TaskNames()) {
    auto task = Make(name);
    std::map<std::string, int> checked;
    for (int64_t i = 0; i < 15000; ++i) {
      const ExampleRecord r = task->Describe(i % 2 ? Split::kEval : Split::kTrain, 3, i, nullptr);
      const std::string type = task->question_types().at(r.type);
      const std::vector<std::string> w = Words(task->QuestionText(r.question));
      const std::string answer = task->AnswerText(r.answer);
      const std::string expected = name == "shapes" ? ShapesAnswerFromScene(type, w, r.scene)
                                                    : GlyphsAnswerFromScene(type, w, r.scene);
      ASSERT_EQ(answer, expected) << name << " example " << i << ": "
                                  << task->QuestionText(r.question);
      ASSERT_GE(r.scene.choices, 2) << name << " " << type;
      if (name == "shapes") {
        ASSERT_GE(r.scene.objects.size(), 1u);
        ASSERT_LE(r.scene.objects.size(), 16u);
        std::vector<bool> used(16);
        for (const SceneObject& o : r.scene.objects) {
          ASSERT_FALSE(used[o.row * 4 + o.col]) << "two objects in one cell, example " << i;
          used[o.row * 4 + o.col] = true;
        }
      } else {
        ASSERT_EQ(r.scene.lines.size(), 3u);
        for (const std::string& line : r.scene.lines) {
          ASSERT_GE(line.size(), 3u);
          ASSERT_LE(line.size(), 6u);
        }
      }
      ++checked[type];
    }
    for (const std::string& type : task->question_types()) {
      EXPECT_GE(checked[type], 2000) << name << " " << type;
    }
  }
}

// Each question's answer is uniform over its `choices`: per template, every allowed answer
// appears, and no answer is more than 1.25x its expected share.
TEST(Scene, AnswersAreUniformOverTheAllowedChoices) {
  for (const std::string& name : TaskNames()) {
    auto task = Make(name);
    std::map<std::string, std::map<int64_t, int>> counts;
    std::map<std::string, int> total;
    std::map<std::string, int64_t> choices;
    for (int64_t i = 0; i < 30000; ++i) {
      const ExampleRecord r = task->Describe(Split::kTrain, 9, i, nullptr);
      const std::string type = task->question_types().at(r.type);
      // Templates whose questions allow different numbers of answers (most color / most shape)
      // are split by that number.
      const std::string key = type + "/" + std::to_string(r.scene.choices);
      ++counts[key][r.answer];
      ++total[key];
      choices[key] = r.scene.choices;
    }
    for (const auto& [key, by_answer] : counts) {
      EXPECT_EQ(static_cast<int64_t>(by_answer.size()), choices[key]) << name << " " << key;
      const double expected = static_cast<double>(total[key]) / choices[key];
      for (const auto& [answer, n] : by_answer) {
        EXPECT_LT(n, 1.25 * expected) << name << " " << key << " answer " << answer;
        EXPECT_GT(n, 0.75 * expected) << name << " " << key << " answer " << answer;
      }
    }
  }
}

TEST(Baseline, QuestionOnlyAccuracyIsAtChance) {
  for (const std::string& name : TaskNames()) {
    auto task = Make(name);
    const BaselineSummary s = EstimateBaselines(*task, BaselineOptions());
    ASSERT_EQ(s.qonly_accuracy.size(), task->question_types().size());
    for (const auto& [type, accuracy] : s.qonly_accuracy) {
      // About 1,000-1,700 eval examples per template: one standard error is at most 0.016.
      EXPECT_NEAR(accuracy, s.chance.at(type), 0.05) << name << " " << type;
      std::printf("%s %-16s chance %.3f question-only %.3f\n", name.c_str(), type.c_str(),
                  s.chance.at(type), accuracy);
    }
    std::printf("%s qonly_error %.3f majority_error %.3f\n", name.c_str(), s.qonly_error,
                s.majority_error);
    EXPECT_GT(s.majority_error, 0.75) << name;
  }
}

}  // namespace
}  // namespace vlmscale::tasks
