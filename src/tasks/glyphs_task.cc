// The "glyphs" OCR-like generator: three left-aligned lines of 3-6 letters drawn with the 5x7
// font (tasks/font.h) in 6x9-px cells (one glyph spans one 6-px patch column and two patch rows at
// G = 8), with shallow reading questions whose answers need the detail of one or two glyphs:
// character at a position, count of a letter in a line, same letter at two positions
// (docs/MODEL.md lists the templates). Every template draws its question, then the answer
// uniformly over the answers the question allows, then text with that answer.
#include <algorithm>
#include <array>
#include <string>
#include <utility>

#include "core/check.h"
#include "tasks/font.h"
#include "tasks/generators.h"

namespace vlmscale::tasks::internal {
namespace {

constexpr int kLines = 3;
constexpr int kMaxChars = 6;
constexpr int kMinChars = 3;
constexpr int kMaxCount = 4;                   // count_in_line: 0..4.
constexpr int kCellWidth = kGlyphWidth + 1;    // One column of spacing.
constexpr int kCellHeight = kGlyphHeight + 2;  // One row above and below.

enum Token : int64_t {
  kPad = 0,
  kChar = 1,
  kCount = 2,
  kHas = 3,    // Unused since generator version 2 (bigram template).
  kAfter = 4,  // Unused since generator version 2 (successor template).
  kSame = 5,
  kIn = 6,
  kLine0 = 7,
  kPos0 = 10,
  kLetter0 = 16,
};
static_assert(kLetter0 + kGlyphCount == kGlyphsVocabSize);

// Answers: letters, numbers 0..6, yes, no, none.
constexpr int64_t kNumber0 = kGlyphCount;
constexpr int64_t kYes = kNumber0 + kMaxChars + 1;
constexpr int64_t kNo = kYes + 1;
constexpr int64_t kNone = kNo + 1;
static_assert(kNone + 1 == kGlyphsNumAnswers);

struct Text {
  std::array<int, kLines> length;
  std::array<std::array<int, kMaxChars>, kLines> chars;
};

void Render(const Text& text, Rng& rng, int64_t image_size, const ExampleOut& out) {
  const int64_t s = image_size;
  const int scale = static_cast<int>(s / 48);
  const int cw = kCellWidth * scale, chh = kCellHeight * scale;
  // The block is centred with a jitter of at most `scale` pixels: character (line, pos) stays at
  // a fixed place, so reading it needs the detail of the tokens there, not a search. At S = 48 a
  // character cell is one 6-px patch column of the default G = 8 grid.
  const int x0 = static_cast<int>((s - kMaxChars * cw) / 2 + rng.Range(0, scale));
  const int y0 = static_cast<int>((s - kLines * chh) / 2 + rng.Range(0, scale));
  if (out.scene != nullptr) {
    out.scene->x0 = x0;
    out.scene->y0 = y0;
    out.scene->cell_width = cw;
    out.scene->cell_height = chh;
  }
  float paper[3], ink[3];
  for (int ch = 0; ch < 3; ++ch) paper[ch] = 0.75f + 0.25f * static_cast<float>(rng.Unit());
  for (int ch = 0; ch < 3; ++ch) ink[ch] = 0.30f * static_cast<float>(rng.Unit());
  if (out.rgb == nullptr) return;
  for (int ch = 0; ch < 3; ++ch)
    std::fill(out.rgb + ch * s * s, out.rgb + (ch + 1) * s * s, paper[ch]);
  if (out.labels != nullptr) std::fill(out.labels, out.labels + s * s, uint8_t{0});
  for (int line = 0; line < kLines; ++line) {
    for (int i = 0; i < text.length[line]; ++i) {
      const int c = text.chars[line][i];
      const int cx = x0 + i * cw, cy = y0 + line * chh;
      if (out.labels != nullptr) {
        const uint8_t label = static_cast<uint8_t>(25 + c);
        for (int y = cy; y < cy + chh; ++y)
          std::fill(out.labels + y * s + cx, out.labels + y * s + cx + cw, label);
      }
      for (int r = 0; r < kGlyphHeight; ++r) {
        for (int col = 0; col < kGlyphWidth; ++col) {
          if (!GlyphPixel(c, r, col)) continue;
          for (int dy = 0; dy < scale; ++dy) {
            const int64_t row_start =
                static_cast<int64_t>(cy + (r + 1) * scale + dy) * s + cx + col * scale;
            for (int ch = 0; ch < 3; ++ch)
              std::fill(out.rgb + ch * s * s + row_start, out.rgb + ch * s * s + row_start + scale,
                        ink[ch]);
          }
        }
      }
    }
  }
}

// Letters that differ from each other in only a few pixels of the 5x7 font (font.h).
constexpr const char* kConfusable[] = {"BDEFPR", "HMN", "KX"};

// A letter other than c; half of the time one that looks like it, when c has such letters.
int OtherLetter(Rng& rng, int c) {
  if (rng.Bernoulli(0.5)) {
    for (const char* group : kConfusable) {
      const std::string g(group);
      if (g.find(kGlyphAlphabet[c]) == std::string::npos) continue;
      const char other = g[rng.Uniform(static_cast<int64_t>(g.size()) - 1)];
      const char pick = other == kGlyphAlphabet[c] ? g.back() : other;
      return static_cast<int>(std::string(kGlyphAlphabet).find(pick));
    }
  }
  const int v = static_cast<int>(rng.Uniform(kGlyphCount - 1));
  return v >= c ? v + 1 : v;
}

}  // namespace

void GenerateGlyphs(uint64_t key, int64_t image_size, const ExampleOut& out) {
  CHECK_GE(image_size, 48);
  Rng rng(key);
  // Minimum length of each line the question needs (a position p needs length >= p + 1).
  std::array<int, kLines> min_length;
  min_length.fill(kMinChars);
  int64_t* q = out.question;
  std::fill(q, q + kGlyphsQuestionTokens, int64_t{kPad});
  int64_t answer = kNone, choices = 0;
  const int64_t type = rng.Uniform(3);
  // The question's positions, drawn first.
  int la = 0, pa = 0, lb = 0, pb = 0, letter = 0;
  switch (type) {
    case 0:  // char_at: char <line l> <pos p>  ->  one of 16 letters
      la = static_cast<int>(rng.Uniform(kLines)), pa = static_cast<int>(rng.Uniform(kMaxChars));
      q[0] = kChar, q[1] = kLine0 + la, q[2] = kPos0 + pa;
      min_length[la] = std::max(min_length[la], pa + 1);
      choices = kGlyphCount;
      break;
    case 1:  // count_in_line: count <X> in <line l>  ->  0..4
      letter = static_cast<int>(rng.Uniform(kGlyphCount));
      la = static_cast<int>(rng.Uniform(kLines));
      q[0] = kCount, q[1] = kLetter0 + letter, q[2] = kIn, q[3] = kLine0 + la;
      choices = kMaxCount + 1;
      break;
    default:  // same: same <line a> <pos a> <line b> <pos b>  ->  yes / no
      do {
        la = static_cast<int>(rng.Uniform(kLines)), pa = static_cast<int>(rng.Uniform(kMaxChars));
        lb = static_cast<int>(rng.Uniform(kLines)), pb = static_cast<int>(rng.Uniform(kMaxChars));
      } while (la == lb && pa == pb);
      q[0] = kSame, q[1] = kLine0 + la, q[2] = kPos0 + pa, q[3] = kLine0 + lb, q[4] = kPos0 + pb;
      min_length[la] = std::max(min_length[la], pa + 1);
      min_length[lb] = std::max(min_length[lb], pb + 1);
      choices = 2;
      break;
  }
  // The answer, uniform over the `choices` the question allows.
  const int pick = static_cast<int>(rng.Uniform(choices));
  if (type == 1) min_length[la] = std::max(min_length[la], pick);
  Text text;
  for (int line = 0; line < kLines; ++line) {
    text.length[line] = static_cast<int>(rng.Range(min_length[line], kMaxChars));
    for (int i = 0; i < kMaxChars; ++i) {
      text.chars[line][i] = i < text.length[line] ? static_cast<int>(rng.Uniform(kGlyphCount)) : -1;
    }
  }
  switch (type) {
    case 0:
      text.chars[la][pa] = pick;
      answer = pick;
      break;
    case 1: {
      // `pick` copies of the letter at random places of the line; other letters elsewhere.
      const int length = text.length[la];
      std::array<int, kMaxChars> order;
      for (int i = 0; i < length; ++i) order[i] = i;
      for (int i = length; i > 1; --i) std::swap(order[i - 1], order[rng.Uniform(i)]);
      for (int i = 0; i < length; ++i) {
        text.chars[la][order[i]] = i < pick ? letter : OtherLetter(rng, letter);
      }
      answer = kNumber0 + pick;
      break;
    }
    default: {
      const bool same = pick == 0;
      const int c = text.chars[la][pa];
      text.chars[lb][pb] = same ? c : OtherLetter(rng, c);
      answer = same ? kYes : kNo;
      break;
    }
  }
  if (out.scene != nullptr) {
    *out.scene = Scene();
    out.scene->choices = choices;
    for (int line = 0; line < kLines; ++line) {
      std::string s;
      for (int i = 0; i < text.length[line]; ++i) s += kGlyphAlphabet[text.chars[line][i]];
      out.scene->lines.push_back(s);
    }
  }
  Render(text, rng, image_size, out);
  *out.answer = answer;
  if (out.type != nullptr) *out.type = type;
}

const std::vector<std::string>& GlyphsQuestionTypes() {
  static const std::vector<std::string> kNames = {"char_at", "count_in_line", "same"};
  return kNames;
}

// One glyph; then a line or two glyphs.
const std::vector<int>& GlyphsQuestionLevels() {
  static const std::vector<int> kLevels = {1, 2, 2};
  return kLevels;
}

const char* GlyphsTokenName(int64_t token) {
  static const char* const kNames[kLetter0] = {"<pad>", "char",  "count", "has",   "after", "same",
                                               "in",    "line0", "line1", "line2", "pos0",  "pos1",
                                               "pos2",  "pos3",  "pos4",  "pos5"};
  static const char* const kLetters[kGlyphCount] = {"A", "B", "C", "D", "E", "F", "H", "K",
                                                    "L", "M", "N", "P", "R", "T", "U", "X"};
  if (token >= 0 && token < kLetter0) return kNames[token];
  if (token >= kLetter0 && token < kGlyphsVocabSize) return kLetters[token - kLetter0];
  return "<bad>";
}

const char* GlyphsAnswerName(int64_t answer) {
  static const char* const kNames[kGlyphsNumAnswers] = {
      "A", "B", "C", "D", "E", "F", "H", "K", "L", "M", "N",   "P",  "R",
      "T", "U", "X", "0", "1", "2", "3", "4", "5", "6", "yes", "no", "none"};
  return answer >= 0 && answer < kGlyphsNumAnswers ? kNames[answer] : "<bad>";
}

}  // namespace vlmscale::tasks::internal
