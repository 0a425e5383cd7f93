// The "shapes" visual-reasoning generator: coloured shapes in distinct cells of a 4x4 grid (12-px
// cells at 48 px, one token per object cell at V = 16), with position-free questions graded in
// steps: counts of one attribute, counts and existence of a colour+shape pair, comparisons of two
// counts and the most frequent colour or shape (docs/MODEL.md lists the templates). Every
// template draws its question, then the answer uniformly over the answers the question allows,
// then builds a scene with that answer.
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

// Question tokens.
enum Token : int64_t {
  kPad = 0,
  kCount = 1,
  kColorQ = 2,
  kShapeQ = 3,
  // 4 ("at") is unused since generator version 2.
  kAny = 5,
  kObject = 6,
  kMore = 7,
  kThan = 8,
  kMost = 9,
  // 10-20 are unused (spatial relations, rows and columns of earlier template sets).
  kColor0 = 21,
  kShape0 = 27,
  // 31 ("in") is unused since generator version 2.
};
static_assert(kShape0 + kShapes + 1 == kShapesVocabSize);

// Answers: numbers 0..7, colours, shapes, yes, no, none (6, 7 and none are unused since generator
// version 2; kept so the answer vocabulary and the planner's facts stay the same).
constexpr int64_t kNumber0 = 0;
constexpr int64_t kAnswerColor0 = 8;
constexpr int64_t kAnswerShape0 = 14;
constexpr int64_t kYes = 18;
constexpr int64_t kNo = 19;
constexpr int64_t kNone = 20;
static_assert(kNone + 1 == kShapesNumAnswers);

// Answer ranges.
constexpr int kMaxAttributeCount = 5;  // count_attribute: 0..5.
constexpr int kMaxPairCount = 3;       // count_pair: 0..3.
constexpr int kMaxCompareCount = 4;    // compare: both counts in 0..4.

constexpr float kPalette[kColors][3] = {{0.92f, 0.16f, 0.14f}, {0.16f, 0.78f, 0.22f},
                                        {0.20f, 0.32f, 0.95f}, {0.95f, 0.88f, 0.16f},
                                        {0.88f, 0.22f, 0.86f}, {0.14f, 0.84f, 0.90f}};

struct Kind {
  int color, shape;
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

// A value in [0, n) other than `not_this`. REQUIRES: n >= 2, 0 <= not_this < n.
int Other(Rng& rng, int n, int not_this) {
  const int v = static_cast<int>(rng.Uniform(n - 1));
  return v >= not_this ? v + 1 : v;
}

// A kind that is not (color, shape): the same colour, the same shape or neither, each a third of
// the time, so recognising the pair needs both attributes.
Kind PairDistractor(Rng& rng, int color, int shape) {
  switch (rng.Uniform(3)) {
    case 0:
      return {color, Other(rng, kShapes, shape)};
    case 1:
      return {Other(rng, kColors, color), shape};
    default:
      return {Other(rng, kColors, color), Other(rng, kShapes, shape)};
  }
}

// Places `kinds` in distinct random cells (in random order), draws their pixel boxes and renders
// them (when out.rgb is set) into out.rgb and out.labels. REQUIRES: kinds.size() <= 16.
void PlaceAndRender(std::vector<Kind> kinds, Rng& rng, int64_t image_size, const ExampleOut& out) {
  CHECK_LE(kinds.size(), static_cast<size_t>(kCells * kCells));
  for (size_t i = kinds.size(); i > 1; --i) std::swap(kinds[i - 1], kinds[rng.Uniform(i)]);
  std::array<int, kCells * kCells> cells;
  for (int i = 0; i < kCells * kCells; ++i) cells[i] = i;
  std::vector<SceneObject> objects(kinds.size());
  const int64_t s = image_size;
  const int cell = static_cast<int>(s / kCells);
  for (size_t i = 0; i < kinds.size(); ++i) {  // Partial Fisher-Yates: distinct cells.
    std::swap(cells[i], cells[i + rng.Uniform(kCells * kCells - i)]);
    SceneObject& o = objects[i];
    o.row = cells[i] / kCells, o.col = cells[i] % kCells;
    o.color = kinds[i].color, o.shape = kinds[i].shape;
    o.size = static_cast<int>(rng.Range(cell * 7 / 12, cell * 10 / 12));
    o.x = o.col * cell + static_cast<int>(rng.Range(1, cell - o.size - 1));
    o.y = o.row * cell + static_cast<int>(rng.Range(1, cell - o.size - 1));
  }
  const float bg = 0.10f + 0.15f * static_cast<float>(rng.Unit());
  if (out.rgb != nullptr) {
    std::fill(out.rgb, out.rgb + 3 * s * s, bg);
    if (out.labels != nullptr) std::fill(out.labels, out.labels + s * s, uint8_t{0});
    for (const SceneObject& o : objects) {
      const float shade = 0.85f + 0.15f * static_cast<float>(rng.Unit());
      const uint8_t label = static_cast<uint8_t>(1 + kShapes * o.color + o.shape);
      for (int v = 0; v < o.size; ++v) {
        for (int u = 0; u < o.size; ++u) {
          const int64_t p = static_cast<int64_t>(o.y + v) * s + (o.x + u);
          if (out.labels != nullptr) out.labels[p] = label;
          if (!InShape(o.shape, u, v, o.size)) continue;
          for (int ch = 0; ch < 3; ++ch) out.rgb[ch * s * s + p] = kPalette[o.color][ch] * shade;
        }
      }
    }
  }
  if (out.scene != nullptr) out.scene->objects = std::move(objects);
}

// Appends n objects with attribute `value` of kind (colour if by_color, else shape); the other
// attribute is random.
void AddWithAttribute(std::vector<Kind>* kinds, Rng& rng, bool by_color, int value, int n) {
  for (int i = 0; i < n; ++i) {
    kinds->push_back(by_color ? Kind{value, static_cast<int>(rng.Uniform(kShapes))}
                              : Kind{static_cast<int>(rng.Uniform(kColors)), value});
  }
}

// Tokens of a one-attribute descriptor: "<colour> object" or "any <shape>".
void AttributeTokens(bool by_color, int value, int64_t* q) {
  q[0] = by_color ? kColor0 + value : kAny;
  q[1] = by_color ? kObject : kShape0 + value;
}

}  // namespace

void GenerateShapes(uint64_t key, int64_t image_size, const ExampleOut& out) {
  CHECK_GE(image_size, 48);
  Rng rng(key);
  int64_t* q = out.question;
  std::fill(q, q + kShapesQuestionTokens, int64_t{kPad});
  std::vector<Kind> kinds;
  int64_t answer = kNone, choices = 0;
  const int64_t type = rng.Uniform(5);
  switch (type) {
    case 0: {  // count_attribute: count <colour> object | count any <shape>  ->  0..5
      const bool by_color = rng.Bernoulli(0.5);
      const int value = static_cast<int>(rng.Uniform(by_color ? kColors : kShapes));
      q[0] = kCount;
      AttributeTokens(by_color, value, q + 1);
      choices = kMaxAttributeCount + 1;
      const int k = static_cast<int>(rng.Uniform(choices));
      answer = kNumber0 + k;
      AddWithAttribute(&kinds, rng, by_color, value, k);
      const int distractors = static_cast<int>(rng.Range(1, 5));
      for (int i = 0; i < distractors; ++i) {
        AddWithAttribute(&kinds, rng, by_color, Other(rng, by_color ? kColors : kShapes, value), 1);
      }
      break;
    }
    case 1:    // count_pair: count <colour> <shape>  ->  0..3
    case 2: {  // exists_pair: any <colour> <shape>  ->  yes / no
      const int color = static_cast<int>(rng.Uniform(kColors));
      const int shape = static_cast<int>(rng.Uniform(kShapes));
      q[0] = type == 1 ? kCount : kAny, q[1] = kColor0 + color, q[2] = kShape0 + shape;
      int k = 0;
      if (type == 1) {
        choices = kMaxPairCount + 1;
        k = static_cast<int>(rng.Uniform(choices));
        answer = kNumber0 + k;
      } else {
        choices = 2;
        const bool yes = rng.Bernoulli(0.5);
        k = yes ? static_cast<int>(rng.Range(1, 2)) : 0;
        answer = yes ? kYes : kNo;
      }
      for (int i = 0; i < k; ++i) kinds.push_back({color, shape});
      // The total is independent of the answer for exists_pair (3..7 objects).
      const int distractors =
          type == 1 ? static_cast<int>(rng.Range(2, 6)) : static_cast<int>(rng.Range(3, 7)) - k;
      for (int i = 0; i < distractors; ++i) kinds.push_back(PairDistractor(rng, color, shape));
      break;
    }
    case 3: {  // compare: more <A> than <B>, two colours or two shapes  ->  yes / no
      const bool by_color = rng.Bernoulli(0.5);
      const int n = by_color ? kColors : kShapes;
      const int a = static_cast<int>(rng.Uniform(n));
      const int b = Other(rng, n, a);
      q[0] = kMore;
      AttributeTokens(by_color, a, q + 1);
      q[3] = kThan;
      AttributeTokens(by_color, b, q + 4);
      choices = 2;
      const bool yes = rng.Bernoulli(0.5);
      answer = yes ? kYes : kNo;
      // (count a, count b) uniform over the pairs in [0, 4]^2 with a > b (yes) or with a <= b and
      // a + b >= 1 (no).
      int ca, cb;
      do {
        ca = static_cast<int>(rng.Uniform(kMaxCompareCount + 1));
        cb = static_cast<int>(rng.Uniform(kMaxCompareCount + 1));
      } while ((ca > cb) != yes || ca + cb == 0);
      AddWithAttribute(&kinds, rng, by_color, a, ca);
      AddWithAttribute(&kinds, rng, by_color, b, cb);
      const int distractors = static_cast<int>(rng.Range(0, 3));
      for (int i = 0; i < distractors; ++i) {
        int v;
        do {
          v = static_cast<int>(rng.Uniform(n));
        } while (v == a || v == b);
        AddWithAttribute(&kinds, rng, by_color, v, 1);
      }
      break;
    }
    default: {  // most_frequent: most color | most shape  ->  a colour / a shape
      const bool by_color = rng.Bernoulli(0.5);
      const int n = by_color ? kColors : kShapes;
      q[0] = kMost, q[1] = by_color ? kColorQ : kShapeQ;
      choices = n;
      const int winner = static_cast<int>(rng.Uniform(n));
      answer = by_color ? kAnswerColor0 + winner : kAnswerShape0 + winner;
      // The winner 2..4 times, every other value fewer times; at most 16 objects in all.
      std::array<int, kColors> counts{};
      int total;
      do {
        total = 0;
        counts[winner] = static_cast<int>(rng.Range(2, 4));
        for (int v = 0; v < n; ++v) {
          if (v != winner) counts[v] = static_cast<int>(rng.Uniform(counts[winner]));
          total += counts[v];
        }
      } while (total > kCells * kCells);
      for (int v = 0; v < n; ++v) AddWithAttribute(&kinds, rng, by_color, v, counts[v]);
      break;
    }
  }
  if (out.scene != nullptr) {
    *out.scene = Scene();
    out.scene->choices = choices;
  }
  PlaceAndRender(std::move(kinds), rng, image_size, out);
  *out.answer = answer;
  if (out.type != nullptr) *out.type = type;
}

const std::vector<std::string>& ShapesQuestionTypes() {
  static const std::vector<std::string> kNames = {"count_attribute", "count_pair", "exists_pair",
                                                  "compare", "most_frequent"};
  return kNames;
}

// One attribute; colour and shape together; comparisons and the most frequent value.
const std::vector<int>& ShapesQuestionLevels() {
  static const std::vector<int> kLevels = {1, 2, 2, 3, 3};
  return kLevels;
}

const char* ShapesTokenName(int64_t token) {
  static const char* const kNames[kShapesVocabSize] = {
      "<pad>",  "count",   "color", "shape",  "at",     "any",      "object", "more",
      "than",   "most",    "right", "above",  "below",  "row0",     "row1",   "row2",
      "row3",   "col0",    "col1",  "col2",   "col3",   "red",      "green",  "blue",
      "yellow", "magenta", "cyan",  "square", "circle", "triangle", "cross",  "in"};
  return token >= 0 && token < kShapesVocabSize ? kNames[token] : "<bad>";
}

}  // namespace vlmscale::tasks::internal

namespace vlmscale::tasks {

const char* ShapesColorName(int color) {
  static const char* const kNames[6] = {"red", "green", "blue", "yellow", "magenta", "cyan"};
  return color >= 0 && color < 6 ? kNames[color] : "<bad>";
}

const char* ShapesShapeName(int shape) {
  static const char* const kNames[4] = {"square", "circle", "triangle", "cross"};
  return shape >= 0 && shape < 4 ? kNames[shape] : "<bad>";
}

}  // namespace vlmscale::tasks

namespace vlmscale::tasks::internal {

const char* ShapesAnswerName(int64_t answer) {
  static const char* const kNames[kShapesNumAnswers] = {
      "0",      "1",      "2",        "3",     "4",      "5",       "6",
      "7",      "red",    "green",    "blue",  "yellow", "magenta", "cyan",
      "square", "circle", "triangle", "cross", "yes",    "no",      "none"};
  return answer >= 0 && answer < kShapesNumAnswers ? kNames[answer] : "<bad>";
}

}  // namespace vlmscale::tasks::internal
