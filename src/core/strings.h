// Small string utilities shared by every component.
#ifndef VLMSCALE_CORE_STRINGS_H_
#define VLMSCALE_CORE_STRINGS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vlmscale {

// Removes leading and trailing ASCII whitespace.
std::string Trim(std::string_view s);

// Splits on `sep`, trimming each piece. "a, b,,c" -> {"a","b","","c"}. "" -> {""}.
std::vector<std::string> SplitTrimmed(std::string_view s, char sep);

std::string Join(const std::vector<std::string>& parts, std::string_view sep);

bool StartsWith(std::string_view s, std::string_view prefix);
bool EndsWith(std::string_view s, std::string_view suffix);

// Strict parses: the whole string (after trimming) must be a number; nullopt otherwise.
// ParseDouble accepts forms such as "1e9", "0.5", "-3"; it rejects "nan", "inf", "", "1x".
std::optional<double> ParseDouble(std::string_view s);
std::optional<int64_t> ParseInt(std::string_view s);
// "true/false/yes/no/on/off/1/0", case-insensitive.
std::optional<bool> ParseBool(std::string_view s);

// Whether `s` is well-formed UTF-8 (no overlong forms, surrogates or code points past U+10FFFF).
bool IsValidUtf8(std::string_view s);

// Levenshtein edit distance.
size_t EditDistance(std::string_view a, std::string_view b);

// The candidate closest to `word` by edit distance, or "" if none is within a useful distance
// (at most max(2, |word|/2) edits).
std::string ClosestMatch(std::string_view word, const std::vector<std::string>& candidates);

// Formats a double with up to `precision` significant digits, no trailing zeros ("0.5", "1e+09").
std::string FormatNumber(double v, int precision = 6);

// The shortest text that reads back as exactly `v`: integers as integers below 1e18 ("3600",
// "500000000", what a script's int() parses), others in the fewest significant digits ("0.003",
// "0.1" rather than 0.10000000000000001).
std::string ShortestNumber(double v);

// Human-readable counts: 1.2e9 -> "1.2G", 3500 -> "3.5k".
std::string HumanCount(double v);

}  // namespace vlmscale

#endif  // VLMSCALE_CORE_STRINGS_H_
