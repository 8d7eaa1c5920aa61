// The step budget (exec/step_budget.h): how many prefill tokens a batched step carries beside running decodes, from
// the step costs the engine measures.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>

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

// Another engine's streams waiting on the same cores hold a prompt with no decode of its own: a step of it lasts the
// stall allowance (at least the chunk), not the whole batch (the long mix: a 1B's 512-token steps of ~12 s stalled a
// 135M's streams for 41 s).
TEST(StepBudget, AnotherEnginesWaitingStreamsHoldPrefillToTheAllowance) {
  StepBudget b; // the automatic allowance: 7 decode-only steps
  EXPECT_EQ(b.prefill_tokens(0, 512, {3000}, Neighbours::none), 512) << "nobody waits: the whole batch";
  constexpr Neighbours waiting = Neighbours::waiting;
  EXPECT_EQ(b.prefill_tokens(0, 512, {3000}, waiting), StepBudgetParams{}.first_chunk) << "before anything is measured";
  b.observe(4, 0, 100);   // this model's decode-only step: 100 ms, so 700 ms allowed
  b.observe(0, 512, 5120); // 10 ms a prompt token, from a whole-batch step
  EXPECT_EQ(b.prefill_tokens(0, 512, {3000}, Neighbours::none), 512);
  EXPECT_EQ(b.prefill_tokens(0, 512, {3000}, waiting), 70) << "700 ms of prefill at 10 ms a token, not the chunk (128)";
  for (int i = 0; i < 10; ++i) b.observe(4, b.prefill_tokens(4, 508), 100 + 10.0 * b.prefill_tokens(4, 508));
  ASSERT_LT(b.chunk(), 70) << "the chunk beside own streams settled near 100 ms of prefill";
  EXPECT_EQ(b.prefill_tokens(0, 512, {3000}, waiting), 70) << "still the allowance, whatever the chunk";
  StepBudgetParams off;
  off.max_stall_ms = 0;
  StepBudget chunked(off);
  chunked.observe(4, 0, 100);
  chunked.observe(0, 512, 5120);
  EXPECT_EQ(chunked.prefill_tokens(0, 512, {3000}, waiting), off.first_chunk) << "no allowance: the chunk alone";
}

// Another model resident on the same cores, nobody waiting: a prompt-only step lasts the stall allowance or
// resident_chunk tokens, whichever is more - a request that arrives for the other model waits for its end.
TEST(StepBudget, AnotherResidentModelHoldsAPromptOnlyStepToTheChunkOrTheAllowance) {
  StepBudget b;
  const int32_t chunk = StepBudgetParams{}.resident_chunk;
  EXPECT_EQ(b.prefill_tokens(0, 512, {3000}, Neighbours::resident), chunk) << "nothing measured: the chunk";
  EXPECT_EQ(b.prefill_tokens(0, 100, {3000}, Neighbours::resident), 100) << "never more than the room";
  b.observe(4, 0, 100);    // 700 ms allowed
  b.observe(0, 512, 5120); // 10 ms a prompt token: 70 tokens in the allowance, fewer than the chunk
  EXPECT_EQ(b.prefill_tokens(0, 512, {3000}, Neighbours::resident), chunk);
  EXPECT_EQ(b.prefill_tokens(0, 512, {3000}, Neighbours::none), 512) << "alone: the whole batch";
  StepBudget fast; // a fast machine: 7 x 16 = 112 ms allowed at 0.25 ms a token is 448 tokens, more than the chunk
  fast.observe(4, 0, 16);
  fast.observe(0, 512, 128);
  EXPECT_EQ(fast.prefill_tokens(0, 512, {3000}, Neighbours::resident), 448);
  StepBudgetParams off;
  off.resident_chunk = 0;
  EXPECT_EQ(StepBudget(off).prefill_tokens(0, 512, {3000}, Neighbours::resident), 512) << "off: the whole batch";
  off.resident_chunk = -1;
  EXPECT_FALSE(off.validate().ok());
}

// Highest response ratio next: waited against the time the prompt takes to read, so a short prompt passes a long
// one that arrived a little earlier, and the long one's ratio still climbs as it waits.
TEST(StepBudget, AResponseRatioWeighsTheWaitAgainstThePromptsReading) {
  StepBudget b;
  EXPECT_DOUBLE_EQ(b.response_ratio(0, 1000), 1) << "not waited: 1, however long the prompt";
  EXPECT_DOUBLE_EQ(b.response_ratio(99, 3000), 100) << "unmeasured: the reading counts as 1 ms";
  b.observe(4, 0, 50);    // a decode-only step: 50 ms
  b.observe(0, 100, 500); // 5 ms a prompt token
  EXPECT_DOUBLE_EQ(b.response_ratio(10000, 2000), 2) << "10 s waited, 10 s of reading";
  EXPECT_DOUBLE_EQ(b.response_ratio(500, 50), 3) << "a 50-token prompt (250 ms) that waited half a second";
  EXPECT_GT(b.response_ratio(500, 50), b.response_ratio(10000, 2000)) << "the short prompt goes first";
  EXPECT_DOUBLE_EQ(b.response_ratio(100, 1), 3) << "at least one decode step's reading (50 ms)";
  EXPECT_DOUBLE_EQ(b.response_ratio(-5, -3), 1) << "nonsense clamps to nothing waited, one step's reading";
  EXPECT_LT(b.response_ratio(10000, 2000), b.response_ratio(30000, 2000)) << "a long prompt's ratio climbs as it waits";
}

// The controller on simulated machines: decode-only steps take 100 ms, a step with prefill 100 ms plus what its chunk
// costs. Whatever the cost curve, the chunk settles where a step with prefill stays within (and near) the factor.
double settle(StepBudget &b, const std::function<double(int32_t)> &prefill_cost, double *last_ms) {
  for (int i = 0; i < 10; ++i) b.observe(4, 0, 100);
  for (int i = 0; i < 200; ++i) {
    const int32_t n = b.prefill_tokens(4, 508);
    *last_ms = 100 + prefill_cost(n);
    b.observe(4, n, *last_ms);
    if (i % 5 == 0) b.observe(4, 0, 100);
  }
  return b.chunk();
}

TEST(StepBudget, TheChunkSettlesWhereAStepLastsAboutTheFactorTimesADecodeStep) {
  StepBudgetParams p;
  p.step_factor = 2.0;
  {
    StepBudget b(p);
    EXPECT_EQ(b.prefill_tokens(4, 508), p.first_chunk) << "before anything is measured";
    double ms = 0;
    settle(b, [](int32_t n) { return 10.0 * n; }, &ms); // 10 ms a token: about 10 fit in 100 ms
    EXPECT_LE(ms, 200 * 1.01);
    EXPECT_GE(b.prefill_tokens(4, 508), 6);
    EXPECT_LE(b.prefill_tokens(4, 508), 10);
  }
  {
    // A CPU's curve: small chunks cost a lot per token, large ones little (40 ms, then 0.25 ms a token): the chunk
    // grows far past what a per-token estimate from small chunks would allow.
    StepBudget b(p);
    double ms = 0;
    settle(b, [](int32_t n) { return 40 + 0.25 * n; }, &ms);
    EXPECT_LE(ms, 200 * 1.01);
    EXPECT_GE(b.prefill_tokens(4, 508), 50);
    EXPECT_EQ(b.prefill_tokens(4, 20), 20) << "never more than the batch has room for";
  }
}

// Where even min_chunk tokens run a step over the factor (a prompt token deep in a long context: its attention reads
// thousands of cells), the chunk becomes a duty cycle: min_chunk tokens every few steps, decode-only steps between.
TEST(StepBudget, WhereTheSmallestChunkRunsOverItComesEveryFewSteps) {
  StepBudgetParams p;
  p.step_factor = 2.0;
  StepBudget b(p);
  for (int i = 0; i < 10; ++i) b.observe(6, 0, 60);
  b.observe(0, 100, 4700); // a prompt-only step: 47 ms a token
  // The measured shape at 2,500 tokens of context (1B, 2 cores): 60 ms a decode step, ~47 ms a prompt token.
  const auto step_ms = [](int32_t n) { return 60 + 47.0 * n; };
  double total_ms = 0, longest = 0;
  int64_t read = 0;
  int steps = 0, decode_only = 0;
  for (int i = 0; i < 400; ++i) {
    const int32_t n = b.prefill_tokens(6, 506, {3000});
    ASSERT_TRUE(n == 0 || n >= p.min_chunk) << "a step carries min_chunk tokens or none, at step " << i;
    const double ms = step_ms(n);
    b.observe(6, n, ms, true);
    if (i < 100) continue; // settling
    ++steps;
    total_ms += ms;
    read += n;
    longest = std::max(longest, ms);
    decode_only += n == 0;
  }
  EXPECT_LT(b.chunk(), p.min_chunk);
  EXPECT_LE(total_ms / steps, 2.0 * 60 * 1.15) << "the mean step stays near the factor";
  EXPECT_GE(total_ms / steps, 2.0 * 60 * 0.85) << "... and uses it";
  EXPECT_GT(decode_only, steps / 2) << "most steps decode only";
  EXPECT_LE(longest, step_ms(p.min_chunk)) << "no step longer than one with the smallest chunk";
  EXPECT_GE(static_cast<double>(read) / steps, 1.0) << "the prompt advances at the rate the factor allows (~1.3)";
  // No prompt waiting: nothing is banked, so the first step after a quiet spell carries no burst.
  for (int i = 0; i < 50; ++i) b.observe(6, 0, 60, false);
  int32_t first = b.prefill_tokens(6, 506, {3000});
  EXPECT_EQ(first, 0) << "an idle stretch earns no chunk";
  // A short prompt that fits the stall allowance still goes whole, duty cycle or not.
  EXPECT_EQ(b.prefill_tokens(6, 506, {5}), 5);
}

TEST(StepBudget, AlwaysAdvancesAndHonoursAFixedBudget) {
  StepBudgetParams p;
  StepBudget slow(p);
  double ms = 0;
  settle(slow, [](int32_t n) { return 1000.0 * n; }, &ms); // a second a token
  EXPECT_NEAR(slow.chunk(), p.min_tokens_per_step, 1e-9) << "the slowest duty cycle";
  int64_t read = 0;
  for (int i = 0; i < 100; ++i) {
    const int32_t n = slow.prefill_tokens(8, 500, {3000});
    slow.observe(8, n, 100 + 1000.0 * n);
    read += n;
  }
  EXPECT_GE(read, static_cast<int64_t>(100 * p.min_tokens_per_step) - p.min_chunk) << "a long prompt still advances";
  StepBudgetParams bad;
  bad.min_tokens_per_step = 0;
  EXPECT_FALSE(bad.validate().ok());
  bad.min_tokens_per_step = bad.min_chunk + 1;
  EXPECT_FALSE(bad.validate().ok());
  auto fixed = StepBudgetParams::parse("64", 2.0);
  ASSERT_TRUE(fixed.ok());
  StepBudget f(*fixed);
  EXPECT_EQ(f.prefill_tokens(6, 506), 58) << "64 tokens per step, 6 of them decode";
  EXPECT_EQ(f.prefill_tokens(0, 512), 512);
}

TEST(StepBudget, WithAStallAllowedAShortPromptGoesWholeAndALongOneInChunks) {
  // A compute-bound prefill (a 3B on a CPU): decode steps 200 ms, 20 ms a prefill token. The budget's chunk is a
  // handful of tokens; a 60-token prompt fits in 1.5 s (200 + 60 x 20 = 1.4 s) and goes whole, a 3,000-token one does not.
  StepBudgetParams p;
  p.max_stall_ms = 1500;
  ASSERT_TRUE(p.validate().ok());
  StepBudget b(p);
  EXPECT_EQ(b.prefill_tokens(1, 500, {60}), p.first_chunk) << "nothing measured: the budget's first chunk";
  for (int i = 0; i < 5; ++i) b.observe(1, 0, 200);
  b.observe(0, 50, 1000); // a prompt prefilled alone: 20 ms a token
  EXPECT_NEAR(b.prefill_token_ms(), 20, 1e-9);
  double ms = 0;
  for (int i = 0; i < 50; ++i) { // the controller settles beside one stream
    const int32_t n = b.prefill_tokens(1, 500);
    ms = 200 + 20.0 * n;
    b.observe(1, n, ms);
  }
  const int32_t chunk = b.prefill_tokens(1, 500);
  EXPECT_LE(chunk, 12);
  EXPECT_EQ(b.prefill_tokens(1, 500, {60}), 60) << "a short prompt whole";
  EXPECT_EQ(b.prefill_tokens(1, 40, {60}), 40) << "never more than the room";
  EXPECT_EQ(b.prefill_tokens(1, 500, {3000}), chunk) << "a long prompt in chunks";
  EXPECT_EQ(b.prefill_tokens(1, 500, {66}), chunk) << "200 + 66 x 20 = 1,520 ms: over the allowance, in chunks";
  StepBudgetParams none;
  none.max_stall_ms = 0; // off: the budget alone, as before
  StepBudget off(none);
  for (int i = 0; i < 5; ++i) off.observe(1, 0, 200);
  off.observe(0, 50, 1000);
  EXPECT_EQ(off.prefill_tokens(1, 500, {60}), off.prefill_tokens(1, 500));
  for (double bad : {-5.0, -0.5, 4e6}) {
    p.max_stall_ms = bad;
    EXPECT_FALSE(p.validate().ok()) << bad;
  }
}

TEST(StepBudget, PromptsWaitingTogetherGoWholeWhileTheirSumFitsTheAllowance) {
  // 200 ms decode steps, 20 ms a prompt token, 1,500 ms allowed: 65 prompt tokens fit beside the decode.
  StepBudgetParams p;
  p.max_stall_ms = 1500;
  StepBudget b(p);
  for (int i = 0; i < 5; ++i) b.observe(1, 0, 200);
  b.observe(0, 50, 1000);
  for (int i = 0; i < 50; ++i) {
    const int32_t n = b.prefill_tokens(1, 500);
    b.observe(1, n, 200 + 20.0 * n);
  }
  const int32_t chunk = b.prefill_tokens(1, 500);
  ASSERT_LT(chunk, 12);
  EXPECT_EQ(b.prefill_tokens(1, 500, {12, 12, 12, 12, 12}), 60) << "five short prompts that arrived together, whole";
  EXPECT_EQ(b.prefill_tokens(1, 500, {12, 12, 12, 12, 12, 12}), 60) << "the sixth would pass 1,500 ms: it waits";
  EXPECT_EQ(b.prefill_tokens(1, 500, {12, 3000, 12}), 12) << "a long prompt ends the run; the one after it does not pass it";
  EXPECT_EQ(b.prefill_tokens(1, 500, {3000, 12}), chunk) << "a long prompt first: chunks, as before";
  EXPECT_EQ(b.prefill_tokens(1, 30, {12, 12, 12}), 30) << "never more than the room";
  EXPECT_EQ(b.prefill_tokens(1, 500, {0, 12}), 12) << "an empty remainder counts nothing";
}

TEST(StepBudget, TheAutomaticStallIsSevenDecodeStepsOfTheModelAsItRuns) {
  StepBudget b; // the default: auto
  EXPECT_EQ(b.stall_allowance_ms(), 0) << "nothing measured: no prompt goes whole on a guess";
  EXPECT_EQ(b.prefill_tokens(1, 500, {60}), StepBudgetParams{}.first_chunk);
  for (int i = 0; i < 20; ++i) b.observe(1, 0, 200); // a 3B's decode step on a CPU
  b.observe(0, 50, 1000);                             // 20 ms a prompt token
  EXPECT_NEAR(b.stall_allowance_ms(), 7 * 200, 1e-6);
  for (int i = 0; i < 50; ++i) { // the controller settles beside one stream: a handful of tokens a step
    const int32_t n = b.prefill_tokens(1, 500);
    b.observe(1, n, 200 + 20.0 * n);
  }
  EXPECT_EQ(b.prefill_tokens(1, 500, {59}), 59) << "200 + 59 x 20 = 1,380 ms <= 1,400: whole";
  EXPECT_LT(b.prefill_tokens(1, 500, {61}), 61) << "1,420 ms: in chunks";
  // A fast machine (20 ms steps, 0.2 ms a prompt token): the allowance shrinks with it - 140 ms, some 600 tokens, not 7,000.
  StepBudget fast;
  for (int i = 0; i < 20; ++i) fast.observe(1, 0, 20);
  fast.observe(0, 1000, 200);
  for (int i = 0; i < 50; ++i) {
    const int32_t n = fast.prefill_tokens(1, 5000);
    fast.observe(1, n, 20 + 0.2 * n);
  }
  EXPECT_NEAR(fast.stall_allowance_ms(), 140, 1e-6);
  EXPECT_EQ(fast.prefill_tokens(1, 5000, {590}), 590) << "20 + 590 x 0.2 = 138 ms";
  EXPECT_LT(fast.prefill_tokens(1, 5000, {3000}), 3000);
  EXPECT_NE(StepBudgetParams{}.describe().find("7 decode steps"), std::string::npos) << StepBudgetParams{}.describe();
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
