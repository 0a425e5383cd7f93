#include "core/strings.h"

#include <gtest/gtest.h>

namespace vlmscale {
namespace {

TEST(Strings, SplitTrimmedKeepsEmptyPieces) {
  EXPECT_EQ(SplitTrimmed(" a, b,,c ", ','), (std::vector<std::string>{"a", "b", "", "c"}));
  EXPECT_EQ(SplitTrimmed("", ','), (std::vector<std::string>{""}));
}

TEST(Strings, ParseDoubleIsStrict) {
  EXPECT_EQ(ParseDouble(" 1e9 "), 1e9);
  EXPECT_EQ(ParseDouble("-0.5"), -0.5);
  EXPECT_FALSE(ParseDouble("nan"));
  EXPECT_FALSE(ParseDouble("inf"));
  EXPECT_FALSE(ParseDouble("1x"));
  EXPECT_FALSE(ParseDouble(""));
  EXPECT_FALSE(ParseDouble("1e999"));
}

TEST(Strings, ParseIntIsStrict) {
  EXPECT_EQ(ParseInt("42"), 42);
  EXPECT_EQ(ParseInt("-7"), -7);
  EXPECT_FALSE(ParseInt("4.5"));
  EXPECT_FALSE(ParseInt("-"));
  EXPECT_FALSE(ParseInt("99999999999999999999"));
}

TEST(Strings, ParseBoolAcceptsCommonSpellings) {
  EXPECT_EQ(ParseBool("Yes"), true);
  EXPECT_EQ(ParseBool("off"), false);
  EXPECT_FALSE(ParseBool("maybe"));
}

TEST(Strings, ClosestMatchFindsTyposAndRejectsFarWords) {
  EXPECT_EQ(ClosestMatch("stesp", {"steps", "lr", "batch_size"}), "steps");
  EXPECT_EQ(ClosestMatch("qeucc", {"none", "avgpool", "quecc"}), "quecc");
  EXPECT_EQ(ClosestMatch("zzzzzzzzzz", {"lr"}), "");
}

TEST(Strings, EditDistanceMatchesDefinition) {
  EXPECT_EQ(EditDistance("kitten", "sitting"), 3u);
  EXPECT_EQ(EditDistance("", "abc"), 3u);
  EXPECT_EQ(EditDistance("same", "same"), 0u);
}

TEST(Strings, HumanCountUsesSiPrefixes) {
  EXPECT_EQ(HumanCount(1.5e9), "1.5G");
  EXPECT_EQ(HumanCount(999), "999");
}

TEST(Utf8, AcceptsWellFormedTextOnly) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain"));
  EXPECT_TRUE(IsValidUtf8("\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));  // été € 😀
  EXPECT_FALSE(IsValidUtf8("\xff"));
  EXPECT_FALSE(IsValidUtf8("\xc3"));              // Truncated.
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));          // Overlong '/'.
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // A surrogate.
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // Past U+10FFFF.
  EXPECT_FALSE(IsValidUtf8("a\x80"));             // A lone continuation byte.
}

}  // namespace
}  // namespace vlmscale
