#include "jobs/nominal_cost.h"

#include "tasks/task_facts.h"
#include "train/train_options.h"

namespace vlmscale::jobs {

int64_t TaskTextTokens(const std::string& task) {
  Result<tasks::TaskShape> shape = tasks::FindTaskShape(task);
  return shape.ok() ? shape->question_tokens : 0;
}

double NominalTrainingFlops(const config::GridPoint& point, int64_t text_tokens) {
  const train::TrainOptions defaults;
  const double tokens = static_cast<double>(text_tokens + point.visual_tokens);
  return 6.0 * point.n_params * tokens * static_cast<double>(defaults.steps * defaults.batch_size);
}

}  // namespace vlmscale::jobs
