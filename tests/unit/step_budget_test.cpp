// The step budget (exec/step_budget.h): how many prefill tokens a batched step carries beside running decodes, from
// the step costs the engine measures.
#include <gtest/gtest.h>

#include "exec/step_budget.h"

namespace aio::exec {
namespace {

TEST(StepBudget, NobodyDecodingMeansTheWholeBatch) {
  StepBudget b;
  EXPECT_EQ(b.prefill_tokens(0, 512), 512);
  b.observe(4, 0, 100);
  b.observe(4, 64, 740);
  EXPECT_EQ(b.prefill_tokens(0, 300), 300);
}

TEST(StepBudget, MeasuredCostsBoundAStepToTheFactorTimesADecodeStep) {
  StepBudgetParams p;
  p.step_factor = 2.0;
  StepBudget b(p);
  EXPECT_EQ(b.prefill_tokens(4, 508), p.first_chunk) << "before anything is measured";
  for (int i = 0; i < 30; ++i) b.observe(4, 0, 100);  // decode-only steps: 100 ms
  for (int i = 0; i < 30; ++i) b.observe(4, 40, 500); // 40 prefill tokens add 400 ms: 10 ms a token
  EXPECT_NEAR(b.decode_step_ms(), 100, 1);
  EXPECT_NEAR(b.prefill_token_ms(), 10, 0.5);
  // (2 - 1) x 100 ms / 10 ms = 10 tokens: the step then takes 200 ms, twice a decode step.
  EXPECT_NEAR(b.prefill_tokens(4, 508), 10, 1);
  EXPECT_EQ(b.prefill_tokens(4, 3), 3) << "never more than the batch has room for";
  // A cheaper machine (or model) gets more: 1 ms a token -> about 100.
  for (int i = 0; i < 60; ++i) b.observe(4, 40, 140);
  EXPECT_NEAR(b.prefill_tokens(4, 508), 100, 10);
}

TEST(StepBudget, AlwaysAdvancesAndHonoursAFixedBudget) {
  StepBudgetParams p;
  StepBudget slow(p);
  for (int i = 0; i < 30; ++i) slow.observe(8, 0, 10);
  for (int i = 0; i < 30; ++i) slow.observe(8, 16, 10 + 16 * 1000); // a second a token
  EXPECT_EQ(slow.prefill_tokens(8, 500), p.min_chunk) << "a long prompt still advances";
  auto fixed = StepBudgetParams::parse("64", 2.0);
  ASSERT_TRUE(fixed.ok());
  StepBudget f(*fixed);
  EXPECT_EQ(f.prefill_tokens(6, 506), 58) << "64 tokens per step, 6 of them decode";
  EXPECT_EQ(f.prefill_tokens(0, 512), 512);
}

TEST(StepBudget, BadSettingsAreRefusedWithWhatToGive) {
  for (const char *bad : {"", "0", "-3", "12x", "lots", "99999999999"}) {
    auto p = StepBudgetParams::parse(bad, 2.0);
    ASSERT_FALSE(p.ok()) << bad;
    EXPECT_NE(p.status().message().find("auto"), std::string::npos) << p.status().message();
  }
  EXPECT_FALSE(StepBudgetParams::parse("auto", 1.0).ok());
  EXPECT_FALSE(StepBudgetParams::parse("auto", 1e9).ok());
  EXPECT_TRUE(StepBudgetParams::parse("auto", 2.0).ok());
  StepBudget b;
  b.observe(4, 0, -1); // nonsense timings are ignored
  b.observe(4, 0, 1.0 / 0.0);
  EXPECT_EQ(b.decode_step_ms(), 0);
}

} // namespace
} // namespace aio::exec
