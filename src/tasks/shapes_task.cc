// The "shapes" visual-reasoning generator: 3-7 coloured shapes in distinct cells of a 4x4 grid,
// with counting, row/column counting, attribute-at-position, existence and comparison questions
// (docs/MODEL.md lists the templates).
#include <algorithm>
#include <array>
#include <cmath>

#include "core/check.h"
#include "tasks/generators.h"

namespace vlmscale::tasks::internal {
namespace {

constexpr int kCells = 4;  // 4 x 4 grid of cells.
constexpr int kColors = 6;
constexpr int kShapes = 4;
constexpr int kMinObjects = 3;
constexpr int kMaxObjects = 7;

// Question tokens.
enum Token : int64_t {
  kPad = 0,
  kCount = 1,
  kColorQ = 2,
  kShapeQ = 3,
  kAt = 4,
  kAny = 5,
  kObject = 6,
  kMore = 7,
  kThan = 8,
  // 9-12 are unused (they named spatial relations in an earlier template set).
  kRow0 = 13,
  kCol0 = 17,
  kColor0 = 21,
  kShape0 = 27,
  kIn = 31,
};
static_assert(kIn + 1 == kShapesVocabSize);

// Answers: numbers 0..7, colours, shapes, yes, no, none.
constexpr int64_t kNumber0 = 0;
constexpr int64_t kAnswerColor0 = 8;
constexpr int64_t kAnswerShape0 = 14;
constexpr int64_t kYes = 18;
constexpr int64_t kNo = 19;
constexpr int64_t kNone = 20;
static_assert(kNone + 1 == kShapesNumAnswers);

constexpr const char* kColorNames[kColors] = {"red", "green", "blue", "yellow", "magenta", "cyan"};
constexpr const char* kShapeNames[kShapes] = {"square", "circle", "triangle", "cross"};
constexpr float kPalette[kColors][3] = {{0.92f, 0.16f, 0.14f}, {0.16f, 0.78f, 0.22f},
                                        {0.20f, 0.32f, 0.95f}, {0.95f, 0.88f, 0.16f},
                                        {0.88f, 0.22f, 0.86f}, {0.14f, 0.84f, 0.90f}};

struct Object {
  int row, col, color, shape;
};

struct Scene {
  int n = 0;
  std::array<Object, kMaxObjects> objects;
  std::array<int, kCells * kCells> at;  // Object index at cell row*4+col, or -1.
};

// A descriptor: colour or -1 (any), shape or -1 (any object).
struct Desc {
  int color, shape;
  bool Matches(const Object& o) const {
    return (color < 0 || o.color == color) && (shape < 0 || o.shape == shape);
  }
};

bool InShape(int shape, int u, int v, int size) {
  const double c = size / 2.0, x = u + 0.5 - c, y = v + 0.5 - c;
  switch (shape) {
    case 0:  // square
      return true;
    case 1:  // circle
      return x * x + y * y <= c * c;
    case 2:  // triangle, apex up
      return std::abs(x) <= (v + 1) * 0.5;
    default:  // cross
      return std::abs(x) <= size / 6.0 || std::abs(y) <= size / 6.0;
  }
}

// Draws the scene into rgb (and labels) at `image_size`.
void Render(const Scene& scene, Rng& rng, int64_t image_size, const ExampleOut& out) {
  const int64_t s = image_size;
  const int cell = static_cast<int>(s / kCells);
  const float bg = 0.10f + 0.15f * static_cast<float>(rng.Unit());
  std::fill(out.rgb, out.rgb + 3 * s * s, bg);
  if (out.labels != nullptr) std::fill(out.labels, out.labels + s * s, uint8_t{0});
  for (int i = 0; i < scene.n; ++i) {
    const Object& o = scene.objects[i];
    const int size = static_cast<int>(rng.Range(cell * 7 / 12, cell * 10 / 12));
    const int x0 = o.col * cell + static_cast<int>(rng.Range(1, cell - size - 1));
    const int y0 = o.row * cell + static_cast<int>(rng.Range(1, cell - size - 1));
    const float shade = 0.85f + 0.15f * static_cast<float>(rng.Unit());
    const uint8_t label = static_cast<uint8_t>(1 + kShapes * o.color + o.shape);
    for (int v = 0; v < size; ++v) {
      for (int u = 0; u < size; ++u) {
        const int64_t p = static_cast<int64_t>(y0 + v) * s + (x0 + u);
        if (out.labels != nullptr) out.labels[p] = label;
        if (!InShape(o.shape, u, v, size)) continue;
        for (int ch = 0; ch < 3; ++ch) out.rgb[ch * s * s + p] = kPalette[o.color][ch] * shade;
      }
    }
  }
}

int Count(const Scene& scene, const Desc& d, int row = -1, int col = -1) {
  int count = 0;
  for (int i = 0; i < scene.n; ++i) {
    const Object& o = scene.objects[i];
    if (d.Matches(o) && (row < 0 || o.row == row) && (col < 0 || o.col == col)) ++count;
  }
  return count;
}

// A descriptor for a question: usually from an object in the scene, sometimes random; with
// colour or shape dropped at random (never both unless allow_all).
Desc MakeDesc(const Scene& scene, Rng& rng, bool allow_all) {
  Desc d;
  if (rng.Bernoulli(0.75)) {
    const Object& o = scene.objects[rng.Uniform(scene.n)];
    d = {o.color, o.shape};
  } else {
    d = {static_cast<int>(rng.Uniform(kColors)), static_cast<int>(rng.Uniform(kShapes))};
  }
  const int64_t drop = rng.Uniform(allow_all ? 4 : 3);  // 0: keep both, 1: colour, 2: shape.
  if (drop == 1 || drop == 3) d.color = -1;
  if (drop == 2 || drop == 3) d.shape = -1;
  return d;
}

int64_t ColorToken(const Desc& d) { return d.color < 0 ? kAny : kColor0 + d.color; }
int64_t ShapeToken(const Desc& d) { return d.shape < 0 ? kObject : kShape0 + d.shape; }

}  // namespace

void GenerateShapes(uint64_t key, int64_t image_size, const ExampleOut& out) {
  CHECK_GE(image_size, 48);
  Rng rng(key);
  Scene scene;
  scene.n = static_cast<int>(rng.Range(kMinObjects, kMaxObjects));
  std::array<int, kCells * kCells> cells;
  for (int i = 0; i < kCells * kCells; ++i) cells[i] = i;
  scene.at.fill(-1);
  for (int i = 0; i < scene.n; ++i) {  // Partial Fisher-Yates: n distinct cells.
    std::swap(cells[i], cells[i + rng.Uniform(kCells * kCells - i)]);
    scene.objects[i] = {cells[i] / kCells, cells[i] % kCells,
                        static_cast<int>(rng.Uniform(kColors)),
                        static_cast<int>(rng.Uniform(kShapes))};
    scene.at[cells[i]] = i;
  }
  Render(scene, rng, image_size, out);

  int64_t* q = out.question;
  std::fill(q, q + kShapesQuestionTokens, int64_t{kPad});
  int64_t answer = kNone;
  const int64_t type = rng.Uniform(5);
  switch (type) {
    case 0: {  // count <colour|any> <shape|object>
      const Desc d = MakeDesc(scene, rng, /*allow_all=*/true);
      q[0] = kCount, q[1] = ColorToken(d), q[2] = ShapeToken(d);
      answer = kNumber0 + Count(scene, d);
      break;
    }
    case 1: {  // count <colour|any> <shape|object> in <row r | col c>
      const Desc d = MakeDesc(scene, rng, /*allow_all=*/true);
      const Object& anchor = scene.objects[rng.Uniform(scene.n)];
      const bool by_row = rng.Bernoulli(0.5);
      q[0] = kCount, q[1] = ColorToken(d), q[2] = ShapeToken(d), q[3] = kIn;
      q[4] = by_row ? kRow0 + anchor.row : kCol0 + anchor.col;
      answer =
          kNumber0 + (by_row ? Count(scene, d, anchor.row, -1) : Count(scene, d, -1, anchor.col));
      break;
    }
    case 2: {  // <colour|shape> at <row r> <col c>
      int cell = static_cast<int>(rng.Uniform(kCells * kCells));
      if (rng.Bernoulli(0.8)) {
        const Object& o = scene.objects[rng.Uniform(scene.n)];
        cell = o.row * kCells + o.col;
      }
      const bool ask_color = rng.Bernoulli(0.5);
      q[0] = ask_color ? kColorQ : kShapeQ, q[1] = kAt;
      q[2] = kRow0 + cell / kCells, q[3] = kCol0 + cell % kCells;
      const int index = scene.at[cell];
      if (index >= 0) {
        const Object& o = scene.objects[index];
        answer = ask_color ? kAnswerColor0 + o.color : kAnswerShape0 + o.shape;
      }
      break;
    }
    case 3: {  // any <colour|any> <shape|object>: is there such an object?
      Desc d = MakeDesc(scene, rng, /*allow_all=*/false);
      if (rng.Bernoulli(0.4)) {  // A random descriptor: absent objects are asked about often.
        d = {static_cast<int>(rng.Uniform(kColors)), static_cast<int>(rng.Uniform(kShapes))};
      }
      q[0] = kAny, q[1] = ColorToken(d), q[2] = ShapeToken(d);
      answer = Count(scene, d) > 0 ? kYes : kNo;
      break;
    }
    default: {  // more <c1> <s1> than <c2> <s2>
      Desc a = MakeDesc(scene, rng, false), b = MakeDesc(scene, rng, false);
      // Put the larger count first half of the time, so "yes" is about as common as "no".
      if (Count(scene, a) < Count(scene, b) && rng.Bernoulli(0.5)) std::swap(a, b);
      q[0] = kMore, q[1] = ColorToken(a), q[2] = ShapeToken(a), q[3] = kThan;
      q[4] = ColorToken(b), q[5] = ShapeToken(b);
      answer = Count(scene, a) > Count(scene, b) ? kYes : kNo;
      break;
    }
  }
  *out.answer = answer;
  if (out.type != nullptr) *out.type = type;
}

const std::vector<std::string>& ShapesQuestionTypes() {
  static const std::vector<std::string> kNames = {"count", "count_in_line", "attribute_at",
                                                  "exists", "compare"};
  return kNames;
}

const char* ShapesTokenName(int64_t token) {
  static const char* const kNames[kShapesVocabSize] = {
      "<pad>",  "count",   "color", "shape",  "at",     "any",      "object", "more",
      "than",   "left",    "right", "above",  "below",  "row0",     "row1",   "row2",
      "row3",   "col0",    "col1",  "col2",   "col3",   "red",      "green",  "blue",
      "yellow", "magenta", "cyan",  "square", "circle", "triangle", "cross",  "in"};
  return token >= 0 && token < kShapesVocabSize ? kNames[token] : "<bad>";
}

const char* ShapesAnswerName(int64_t answer) {
  static const char* const kNames[kShapesNumAnswers] = {
      "0",      "1",      "2",        "3",     "4",      "5",       "6",
      "7",      "red",    "green",    "blue",  "yellow", "magenta", "cyan",
      "square", "circle", "triangle", "cross", "yes",    "no",      "none"};
  return answer >= 0 && answer < kShapesNumAnswers ? kNames[answer] : "<bad>";
}

}  // namespace vlmscale::tasks::internal
