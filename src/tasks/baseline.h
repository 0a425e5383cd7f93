// Baselines that never look at the image, estimated from the generator itself: what a model
// that reads only the question text can reach. The jobs report them next to their measured
// accuracy (finetune_eval's qonly_accuracy.<template>, qonly_error, majority_error).
#ifndef VLMSCALE_TASKS_BASELINE_H_
#define VLMSCALE_TASKS_BASELINE_H_

#include <cstdint>
#include <map>
#include <string>

#include "tasks/task.h"

namespace vlmscale::tasks {

struct BaselineOptions {
  // Examples the classifiers are learned from (train split). Default: 20,000. REQUIRES: >= 1.
  int64_t train_examples = 20000;
  // Examples they are scored on (eval split). Default: 5,000. REQUIRES: >= 1.
  int64_t eval_examples = 5000;
  // Seed of both splits. Default: 0.
  uint64_t seed = 0;
};

struct BaselineSummary {
  // Question-only Bayes classifier: the most frequent train answer of each exact question text
  // (ties to the smaller answer id; an unseen question gets the template's most frequent
  // answer), scored on the eval examples, per template and overall.
  std::map<std::string, double> qonly_accuracy;  // Keyed by template name.
  double qonly_error = 0;
  // The most frequent train answer overall, scored on the eval examples.
  double majority_error = 0;
  // Chance level per template: the mean over eval examples of 1 / (answers the question allows).
  std::map<std::string, double> chance;
};

// Runs the generator without rendering (about 2 us per example). REQUIRES: options valid.
BaselineSummary EstimateBaselines(const Task& task, const BaselineOptions& options);

}  // namespace vlmscale::tasks

#endif  // VLMSCALE_TASKS_BASELINE_H_
