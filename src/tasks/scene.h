// The scene behind a generated example as structured fields (no libtorch), for
// `vlmscale tasks dump`, the question-only baseline (tasks/baseline.h) and the tests.
#ifndef VLMSCALE_TASKS_SCENE_H_
#define VLMSCALE_TASKS_SCENE_H_

#include <cstdint>
#include <string>
#include <vector>

namespace vlmscale::tasks {

struct SceneObject {
  int row = 0, col = 0;        // Cell of the 4x4 grid.
  int color = 0, shape = 0;    // Indices into ShapesColorName / ShapesShapeName.
  int x = 0, y = 0, size = 0;  // Bounding box in pixels: top-left corner and side.
};

struct Scene {
  // How many answers the question allows; the generator draws the answer uniformly over them,
  // so 1 / choices is the question's chance level.
  int64_t choices = 0;
  std::vector<SceneObject> objects;  // shapes: every object, in drawing order.
  std::vector<std::string> lines;    // glyphs: the text, one string of letters per line.
  // glyphs: top-left pixel of the cell of (line 0, pos 0) and the cell size; character
  // (line l, pos p) occupies the cell at (x0 + p * cell_width, y0 + l * cell_height).
  int x0 = 0, y0 = 0, cell_width = 0, cell_height = 0;
};

// One example with its scene (Task::Describe).
struct ExampleRecord {
  int64_t type = 0;               // Index into Task::question_types().
  std::vector<int64_t> question;  // Q token ids, right-padded with 0.
  int64_t answer = 0;
  Scene scene;
};

// Names of the shapes task's colours (0..5) and shapes (0..3); "<bad>" out of range.
const char* ShapesColorName(int color);
const char* ShapesShapeName(int shape);

}  // namespace vlmscale::tasks

#endif  // VLMSCALE_TASKS_SCENE_H_
