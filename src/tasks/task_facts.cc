#include "tasks/task_facts.h"

#include "core/strings.h"
#include "tasks/generators.h"

namespace vlmscale::tasks {

bool TaskOptions::IsValid(std::string* error, std::string* field) const {
  if (image_size < 48 || image_size > 1024) {
    if (error != nullptr) {
      *error = "image_size must be in [48, 1024] (the glyph font needs 48 pixels), got " +
               std::to_string(image_size);
    }
    if (field != nullptr) *field = "image_size";
    return false;
  }
  return true;
}

const std::vector<std::string>& TaskNames() {
  static const std::vector<std::string> kNames = {"shapes", "glyphs"};
  return kNames;
}

Result<TaskShape> FindTaskShape(const std::string& name) {
  if (name == "shapes") {
    return TaskShape{internal::kShapesVocabSize, internal::kShapesQuestionTokens,
                     internal::kShapesNumAnswers};
  }
  if (name == "glyphs") {
    return TaskShape{internal::kGlyphsVocabSize, internal::kGlyphsQuestionTokens,
                     internal::kGlyphsNumAnswers};
  }
  std::string message = "unknown task '" + name + "' (known: " + Join(TaskNames(), ", ") + ")";
  const std::string closest = ClosestMatch(name, TaskNames());
  if (!closest.empty()) message += "; did you mean '" + closest + "'?";
  return Status::InvalidInput(message);
}

int64_t TaskVersion(const std::string& name) {
  if (name == "shapes" || name == "glyphs") return 2;
  return 0;
}

std::string TaskGeneratorsText() {
  std::string t = "tasks.generators=";
  for (const std::string& name : TaskNames()) {
    if (name != TaskNames().front()) t += ",";
    t += name + ":" + std::to_string(TaskVersion(name));
  }
  return t + "\n";
}

}  // namespace vlmscale::tasks
