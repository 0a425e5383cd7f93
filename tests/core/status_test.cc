#include "core/status.h"

#include <gtest/gtest.h>

namespace vlmscale {
namespace {

Result<int> Half(int x) {
  if (x % 2) return Status::InvalidInput("odd");
  return x / 2;
}

Status Quarter(int x, int* out) {
  VLM_ASSIGN_OR_RETURN(int h, Half(x));
  VLM_ASSIGN_OR_RETURN(*out, Half(h));
  return Status::OK();
}

TEST(Status, ExitCodesFollowTheCliContract) {
  EXPECT_EQ(ExitCodeFor(Status::OK()), 0);
  EXPECT_EQ(ExitCodeFor(Status::InvalidInput("x")), 2);
  EXPECT_EQ(ExitCodeFor(Status::NotFound("x")), 2);
  EXPECT_EQ(ExitCodeFor(Status::Runtime("x")), 1);
  EXPECT_EQ(ExitCodeFor(Status::IOError("x")), 1);
  EXPECT_EQ(ExitCodeFor(Status::Cancelled("x")), 75);
}

TEST(Status, MacrosPropagateErrors) {
  int out = 0;
  EXPECT_TRUE(Quarter(8, &out).ok());
  EXPECT_EQ(out, 2);
  Status s = Quarter(6, &out);
  EXPECT_TRUE(s.IsInvalidInput());
  EXPECT_EQ(s.message(), "odd");
  EXPECT_EQ(s.WithPrefix("f").message(), "f: odd");
}

TEST(StatusDeathTest, ValueOfErrorAborts) {
  Result<int> r = Status::Runtime("boom");
  EXPECT_DEATH((void)r.value(), "boom");
}

}  // namespace
}  // namespace vlmscale
