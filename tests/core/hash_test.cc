#include "core/hash.h"

#include <gtest/gtest.h>

namespace vlmscale {
namespace {

TEST(Hash, Fnv1aMatchesPublishedVectors) {
  // Reference values of 64-bit FNV-1a (Fowler/Noll/Vo test suite).
  EXPECT_EQ(Fnv1a64(""), 0xcbf29ce484222325ULL);
  EXPECT_EQ(Fnv1a64("a"), 0xaf63dc4c8601ec8cULL);
  EXPECT_EQ(Fnv1a64("foobar"), 0x85944171f73967e8ULL);
}

TEST(Hash, HexIdIsSixteenLowercaseHexDigits) {
  std::string id = HexId("foobar");
  EXPECT_EQ(id, "85944171f73967e8");
  EXPECT_NE(HexId("foobar "), id);
}

}  // namespace
}  // namespace vlmscale
