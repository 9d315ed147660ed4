#include "core/status.h"

#include <gtest/gtest.h>

namespace seedtune {
namespace {

StatusOr<int> ParsePositive(int v) {
  if (v <= 0) return InvalidArgument("value {} is not positive", v);
  return v;
}

Status UseIt(int v, int* out) {
  ASSIGN_OR_RETURN(int x, ParsePositive(v));
  *out = x * 2;
  return Status::Ok();
}

TEST(StatusTest, PropagatesErrorsAndValues) {
  int out = 0;
  EXPECT_TRUE(UseIt(4, &out).ok());
  EXPECT_EQ(out, 8);
  Status s = UseIt(-1, &out);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.ToString(), "INVALID_ARGUMENT: value -1 is not positive");
  EXPECT_EQ(s.WithContext("file.bin").message(), "file.bin: value -1 is not positive");
}

// Reading the value of an error stops the program naming the error, in
// release builds too (it used to be an assert only: undefined behaviour).
TEST(StatusDeathTest, ValueOfAnErrorAbortsWithTheError) {
  StatusOr<int> bad = InvalidArgument("no value here");
  EXPECT_DEATH((void)bad.value(), "StatusOr::value\\(\\) on an error: INVALID_ARGUMENT: no value here");
  EXPECT_DEATH((void)*ParsePositive(-3), "value -3 is not positive");
}

}  // namespace
}  // namespace seedtune
