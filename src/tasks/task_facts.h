// What is known about the generated tasks without generating anything (no libtorch): their names,
// their vocabularies and question length, and the options every task takes. The planner uses
// these facts (inference FLOPs 2*N*(Q+V), plan-time validation); tasks/task.h builds the tasks.
#ifndef VLMSCALE_TASKS_TASK_FACTS_H_
#define VLMSCALE_TASKS_TASK_FACTS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace vlmscale::tasks {

// Classes of a patch label (tasks/pretext.h): background, 24 shapes objects, 16 glyph characters.
constexpr int64_t kNumPretextClasses = 41;

struct TaskOptions {
  // Side of the square RGB images in pixels. Content scales with floor(image_size / 48).
  // Default: 48. REQUIRES: 48 <= image_size <= 1024.
  int64_t image_size = 48;

  // Returns true if every field is within its REQUIRES range; otherwise stores a message naming
  // the violated constraint in *error and the field's name in *field (each if non-null) and
  // returns false.
  bool IsValid(std::string* error, std::string* field = nullptr) const;
};

// The sizes a model needs to read a task's questions and answers.
struct TaskShape {
  int64_t vocab_size = 0;       // Question vocabulary incl. padding id 0.
  int64_t question_tokens = 0;  // Q.
  int64_t num_answers = 0;
};

// Names of the built-in tasks ("shapes", "glyphs"), in a stable order.
const std::vector<std::string>& TaskNames();

// The shape of the task named `name`. Returns kInvalidInput for an unknown name (naming the
// closest known one).
Result<TaskShape> FindTaskShape(const std::string& name);

// The version of the example generator of the task named `name` (0 for an unknown name). It goes
// up whenever the generator draws different examples for the same (split, seed, index), so job
// ids (jobs' IdentityText) and cached encoders change with it. Version 2: debiased templates
// (issue 17; docs/MODEL.md).
int64_t TaskVersion(const std::string& name);

// "tasks.generators=shapes:V,glyphs:V\n": every task's generator version, for identity texts
// and cache keys that do not depend on one task only.
std::string TaskGeneratorsText();

}  // namespace vlmscale::tasks

#endif  // VLMSCALE_TASKS_TASK_FACTS_H_
