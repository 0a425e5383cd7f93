// A built-in 5x7 bitmap font for the glyphs task (internal to src/tasks).
#ifndef VLMSCALE_TASKS_FONT_H_
#define VLMSCALE_TASKS_FONT_H_

#include <cstdint>

namespace vlmscale::tasks::internal {

constexpr int kGlyphWidth = 5;
constexpr int kGlyphHeight = 7;
// The glyphs task's alphabet: 16 capital letters, several pairs differing in only a few pixels
// (B/D/E/F/P/R, H/M/N, K/X), so reading them needs fine detail.
constexpr int kGlyphCount = 16;
constexpr char kGlyphAlphabet[kGlyphCount + 1] = "ABCDEFHKLMNPRTUX";

// True if pixel (row, col) of character `index` is ink.
// REQUIRES: 0 <= index < kGlyphCount, 0 <= row < kGlyphHeight, 0 <= col < kGlyphWidth.
bool GlyphPixel(int index, int row, int col);

}  // namespace vlmscale::tasks::internal

#endif  // VLMSCALE_TASKS_FONT_H_
