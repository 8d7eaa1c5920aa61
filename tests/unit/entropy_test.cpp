#include <gtest/gtest.h>

#include <cmath>

#include "probe/entropy.h"

namespace aio::probe {
namespace {

TEST(Entropy, UniformOverThreeIsLog2Of3Bits) {
  const std::vector<double> p = {1.0 / 3, 1.0 / 3, 1.0 / 3};
  EXPECT_NEAR(entropy_bits(p), std::log2(3.0), 1e-12);
}

TEST(Entropy, OneHotIsZero) {
  EXPECT_DOUBLE_EQ(entropy_bits(std::vector<double>{0, 1, 0}), 0.0);
}

TEST(Entropy, FairCoinIsOneBit) {
  EXPECT_NEAR(entropy_bits(std::vector<double>{0.5, 0.5, 0.0}), 1.0, 1e-12);
}

TEST(Softmax, SumsToOneAndKeepsOrder) {
  const std::vector<double> logits = {2.0, 1.0, -3.0};
  auto p = softmax(logits);
  EXPECT_NEAR(p[0] + p[1] + p[2], 1.0, 1e-12);
  EXPECT_GT(p[0], p[1]);
  EXPECT_GT(p[1], p[2]);
  EXPECT_NEAR(p[0] / p[1], std::exp(1.0), 1e-9);
}

TEST(Softmax, HugeLogitsDoNotOverflow) {
  auto p = softmax(std::vector<double>{1000.0, 1000.0, 0.0});
  EXPECT_NEAR(p[0], 0.5, 1e-12);
  EXPECT_NEAR(p[2], 0.0, 1e-12);
}

} // namespace
} // namespace aio::probe
