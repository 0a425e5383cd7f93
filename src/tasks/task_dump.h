// `vlmscale tasks dump`: a task's generated examples as JSON lines, and their images as PNGs
// (tests/tasks/question_only_test.py reads them). The header needs no libtorch; DumpExamples is
// in the libtorch part of tasks, which the vlmscale binary reaches through the libtorch job
// plugin (jobs/torch_jobs.h).
#ifndef VLMSCALE_TASKS_TASK_DUMP_H_
#define VLMSCALE_TASKS_TASK_DUMP_H_

#include <cstdint>
#include <iosfwd>
#include <string>

#include "core/status.h"

namespace vlmscale::tasks {

struct DumpRequest {
  std::string task;         // A task name (TaskNames()). REQUIRES: non-empty.
  bool train_split = true;  // The train split, else the eval split.
  int64_t count = 0;        // Examples 0..count-1. REQUIRES: >= 0.
  uint64_t seed = 0;        // The study seed.
  int64_t image_size = 48;  // Image side in pixels.
  std::string images_dir;   // When non-empty, each image is written as DIR/<index>.png.
};

// Writes one JSON object per example to `out` (index, type, question, question_tokens, answer,
// answer_id, choices and the scene's structured fields), and the PNGs when asked. kInvalidInput
// for an unknown task or bad options, kIOError when a file or `out` cannot be written.
Status DumpExamples(const DumpRequest& request, std::ostream& out);

}  // namespace vlmscale::tasks

#endif  // VLMSCALE_TASKS_TASK_DUMP_H_
