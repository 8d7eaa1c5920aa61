#include <gtest/gtest.h>

#include "aio/status.h"

namespace aio {
namespace {

Expected<int> parse_positive(int x) {
  if (x <= 0) return invalid_argument("x must be positive");
  return x;
}

Status chain(int x) {
  AIO_RETURN_IF_ERROR(parse_positive(x).status());
  return {};
}

TEST(Status, DefaultIsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.to_string(), "ok");
}

TEST(Status, ErrorCarriesCodeAndMessage) {
  Status s = context_overflow("prompt too long");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::context_overflow);
  EXPECT_EQ(s.to_string(), "context_overflow: prompt too long");
}

TEST(Expected, HoldsValueOrStatus) {
  auto good = parse_positive(3);
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 3);
  EXPECT_TRUE(good.status().ok());
  auto bad = parse_positive(-1);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::invalid_argument);
}

TEST(Status, ReturnIfErrorPropagates) {
  EXPECT_TRUE(chain(1).ok());
  EXPECT_EQ(chain(0).code(), StatusCode::invalid_argument);
}

} // namespace
} // namespace aio
