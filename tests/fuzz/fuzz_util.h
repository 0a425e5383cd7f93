// Helpers shared by the libFuzzer targets of tests/fuzz (docs/FUZZING.md). A target aborts (which
// libFuzzer reports as a crash and saves the input) when a parser breaks one of its promises:
// a sanitizer finding, an exception, or a FUZZ_CHECK below.
#ifndef VLMSCALE_TESTS_FUZZ_FUZZ_UTIL_H_
#define VLMSCALE_TESTS_FUZZ_FUZZ_UTIL_H_

#include <cstdint>
#include <string>

#include "core/check.h"
#include "core/status.h"

// A promise of the parser under test; on failure prints file:line and the message, then aborts.
#define FUZZ_CHECK(condition) CHECK(condition)

namespace vlmscale::fuzz {

inline std::string ToString(const uint8_t* data, size_t size) {
  return std::string(reinterpret_cast<const char*>(data), size);
}

// What every rejection must look like: kInvalidInput (exit code 2) and one line of text.
inline void CheckRejection(const Status& s) {
  FUZZ_CHECK(s.IsInvalidInput()) << s.ToString();
  FUZZ_CHECK(!s.message().empty());
  FUZZ_CHECK(s.message().find('\n') == std::string::npos) << "not one line: " << s.message();
  FUZZ_CHECK(ExitCodeFor(s) == 2) << s.ToString();
}

}  // namespace vlmscale::fuzz

#endif  // VLMSCALE_TESTS_FUZZ_FUZZ_UTIL_H_
