#include "tasks/baseline.h"

#include <algorithm>
#include <vector>

#include "core/check.h"

namespace vlmscale::tasks {
namespace {

// The answer with the largest count; ties go to the smaller id. REQUIRES: !counts.empty().
int64_t Mode(const std::map<int64_t, int64_t>& counts) {
  int64_t best = counts.begin()->first, best_count = -1;
  for (const auto& [answer, count] : counts) {
    if (count > best_count) best = answer, best_count = count;
  }
  return best;
}

}  // namespace

BaselineSummary EstimateBaselines(const Task& task, const BaselineOptions& options) {
  CHECK(options.train_examples >= 1 && options.eval_examples >= 1);
  const auto& types = task.question_types();
  std::map<std::vector<int64_t>, std::map<int64_t, int64_t>> by_question;
  std::vector<std::map<int64_t, int64_t>> by_type(types.size());
  std::map<int64_t, int64_t> overall;
  for (int64_t i = 0; i < options.train_examples; ++i) {
    const ExampleRecord r = task.Describe(Split::kTrain, options.seed, i, nullptr);
    ++by_question[r.question][r.answer];
    ++by_type[r.type][r.answer];
    ++overall[r.answer];
  }
  std::map<std::vector<int64_t>, int64_t> predict;
  for (const auto& [question, counts] : by_question) predict[question] = Mode(counts);
  const int64_t majority = Mode(overall);

  std::vector<int64_t> seen(types.size()), correct(types.size());
  std::vector<double> chance_sum(types.size());
  int64_t qonly_correct = 0, majority_correct = 0;
  for (int64_t i = 0; i < options.eval_examples; ++i) {
    const ExampleRecord r = task.Describe(Split::kEval, options.seed, i, nullptr);
    auto it = predict.find(r.question);
    const int64_t guess = it != predict.end()       ? it->second
                          : by_type[r.type].empty() ? 0
                                                    : Mode(by_type[r.type]);
    ++seen[r.type];
    chance_sum[r.type] += 1.0 / static_cast<double>(std::max<int64_t>(1, r.scene.choices));
    if (guess == r.answer) ++correct[r.type], ++qonly_correct;
    if (majority == r.answer) ++majority_correct;
  }
  BaselineSummary summary;
  for (size_t t = 0; t < types.size(); ++t) {
    if (seen[t] == 0) continue;
    summary.qonly_accuracy[types[t]] = static_cast<double>(correct[t]) / seen[t];
    summary.chance[types[t]] = chance_sum[t] / seen[t];
  }
  const double n = static_cast<double>(options.eval_examples);
  summary.qonly_error = 1.0 - qonly_correct / n;
  summary.majority_error = 1.0 - majority_correct / n;
  return summary;
}

}  // namespace vlmscale::tasks
