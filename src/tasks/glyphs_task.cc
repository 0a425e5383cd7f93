// The "glyphs" OCR-like generator: three left-aligned lines of 3-6 letters drawn with the 5x7
// font (tasks/font.h) at a random offset, with character-at-position, per-line count, bigram,
// successor and same-character questions (docs/MODEL.md lists the templates).
#include <algorithm>
#include <array>
#include <tuple>
#include <utility>

#include "core/check.h"
#include "tasks/font.h"
#include "tasks/generators.h"

namespace vlmscale::tasks::internal {
namespace {

constexpr int kLines = 3;
constexpr int kMaxChars = 6;
constexpr int kMinChars = 3;
constexpr int kCellWidth = kGlyphWidth + 1;    // One column of spacing.
constexpr int kCellHeight = kGlyphHeight + 2;  // One row above and below.

enum Token : int64_t {
  kPad = 0,
  kChar = 1,
  kCount = 2,
  kHas = 3,
  kAfter = 4,
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
  float paper[3], ink[3];
  for (int ch = 0; ch < 3; ++ch) paper[ch] = 0.75f + 0.25f * static_cast<float>(rng.Unit());
  for (int ch = 0; ch < 3; ++ch) ink[ch] = 0.30f * static_cast<float>(rng.Unit());
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

// Reading-order position of the first occurrence of c, or {-1, -1}.
std::pair<int, int> Find(const Text& t, int c) {
  for (int line = 0; line < kLines; ++line)
    for (int i = 0; i < t.length[line]; ++i)
      if (t.chars[line][i] == c) return {line, i};
  return {-1, -1};
}

bool HasBigram(const Text& t, int a, int b) {
  for (int line = 0; line < kLines; ++line)
    for (int i = 0; i + 1 < t.length[line]; ++i)
      if (t.chars[line][i] == a && t.chars[line][i + 1] == b) return true;
  return false;
}

}  // namespace

void GenerateGlyphs(uint64_t key, int64_t image_size, const ExampleOut& out) {
  CHECK_GE(image_size, 48);
  Rng rng(key);
  Text text;
  for (int line = 0; line < kLines; ++line) {
    text.length[line] = static_cast<int>(rng.Range(kMinChars, kMaxChars));
    for (int i = 0; i < kMaxChars; ++i) {
      text.chars[line][i] = i < text.length[line] ? static_cast<int>(rng.Uniform(kGlyphCount)) : -1;
    }
  }
  Render(text, rng, image_size, out);

  auto random_present = [&]() {  // A random character of the text as {line, index}.
    const int line = static_cast<int>(rng.Uniform(kLines));
    return std::pair<int, int>{line, static_cast<int>(rng.Uniform(text.length[line]))};
  };
  int64_t* q = out.question;
  std::fill(q, q + kGlyphsQuestionTokens, int64_t{kPad});
  int64_t answer = kNone;
  const int64_t type = rng.Uniform(5);
  switch (type) {
    case 0: {  // char <line l> <pos p>
      const int line = static_cast<int>(rng.Uniform(kLines));
      const int pos = static_cast<int>(rng.Bernoulli(0.85) ? rng.Uniform(text.length[line])
                                                           : rng.Uniform(kMaxChars));
      q[0] = kChar, q[1] = kLine0 + line, q[2] = kPos0 + pos;
      if (pos < text.length[line]) answer = text.chars[line][pos];
      break;
    }
    case 1: {  // count <X> in <line l>
      const int line = static_cast<int>(rng.Uniform(kLines));
      const int c = rng.Bernoulli(0.7) ? text.chars[line][rng.Uniform(text.length[line])]
                                       : static_cast<int>(rng.Uniform(kGlyphCount));
      q[0] = kCount, q[1] = kLetter0 + c, q[2] = kIn, q[3] = kLine0 + line;
      answer = kNumber0 + std::count(text.chars[line].begin(),
                                     text.chars[line].begin() + text.length[line], c);
      break;
    }
    case 2: {  // has <X> <Y>: does the bigram XY occur within a line?
      int a = static_cast<int>(rng.Uniform(kGlyphCount)),
          b = static_cast<int>(rng.Uniform(kGlyphCount));
      if (rng.Bernoulli(0.5)) {
        const auto [line, i] = random_present();
        if (i + 1 < text.length[line]) a = text.chars[line][i], b = text.chars[line][i + 1];
      }
      q[0] = kHas, q[1] = kLetter0 + a, q[2] = kLetter0 + b;
      answer = HasBigram(text, a, b) ? kYes : kNo;
      break;
    }
    case 3: {  // after <X>: the letter after X's first occurrence on its line
      int c = static_cast<int>(rng.Uniform(kGlyphCount));
      if (rng.Bernoulli(0.8)) {
        const auto [line, i] = random_present();
        c = text.chars[line][i];
      }
      q[0] = kAfter, q[1] = kLetter0 + c;
      const auto [line, i] = Find(text, c);
      if (line >= 0 && i + 1 < text.length[line]) answer = text.chars[line][i + 1];
      break;
    }
    default: {  // same <line a> <pos a> <line b> <pos b>: the same letter at both places?
      auto [la, pa] = random_present();
      auto [lb, pb] = random_present();
      for (int attempt = 0; attempt < 8 && (la == lb && pa == pb); ++attempt) {
        std::tie(lb, pb) = random_present();
      }
      if (rng.Bernoulli(0.5)) {  // Look for a second occurrence of the letter at a.
        for (int line = 0; line < kLines; ++line)
          for (int i = 0; i < text.length[line]; ++i)
            if ((line != la || i != pa) && text.chars[line][i] == text.chars[la][pa])
              lb = line, pb = i;
      }
      q[0] = kSame, q[1] = kLine0 + la, q[2] = kPos0 + pa, q[3] = kLine0 + lb, q[4] = kPos0 + pb;
      answer = text.chars[la][pa] == text.chars[lb][pb] ? kYes : kNo;
      break;
    }
  }
  *out.answer = answer;
  if (out.type != nullptr) *out.type = type;
}

const std::vector<std::string>& GlyphsQuestionTypes() {
  static const std::vector<std::string> kNames = {"char_at", "count_in_line", "bigram", "after",
                                                  "same"};
  return kNames;
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
