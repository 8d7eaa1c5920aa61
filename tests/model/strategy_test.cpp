// PLD and draft-model decoding in the executor are lossless: greedy output equals plain greedy token for token;
// sampled output keeps plain sampling's distribution. (One slot: the sequential form; batch_speculation_test mixes
// strategies in shared steps.)
#include <gtest/gtest.h>

#include <map>

#include "exec/batch_engine.h"
#include "support/paths.h"
#include "support/tiny_models.h"

namespace aio::decode {
namespace {
using test::greedy;

class StrategyTest : public test::TinyPairTest {
protected:
  void SetUp() override {
    target_ = test::one_slot_engine(large_, 1024);
  }
  static exec::Decoding decoding(Strategy s, StrategyParams sp = {}) {
    return {s, sp, s == Strategy::draft ? small_ : nullptr};
  }
  engine::GenerationRecord run(Strategy s, const std::string &text, const GenerateParams &p,
                               StrategyParams sp = {}) {
    auto tokens = large_->tokenize(text);
    auto r = exec::generate(*target_, *tokens, p, decoding(s, sp));
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    return r.ok() ? *r : engine::GenerationRecord{};
  }
  std::unique_ptr<exec::BatchEngine> target_;
};

const std::vector<std::string> kPrompts = {
    "def fibonacci(n):\n    if n < 2:\n        return n\n    return fibonacci(n - 1) + fibonacci(n - 2)\n\n"
    "def fibonacci_iter(n):",
    "Question: What is the capital of France? Answer: Paris. Question: What is the capital of Spain? Answer:",
    "12 + 7 = 19. 19 + 7 = 26. 26 + 7 = 33. 33 + 7 =",
    "the the the the the the the the the the the the",
    "abc abc abc abc abc abc abc abc",
    "Translate to French: cat -> chat, dog -> chien, bird ->",
    "x",
    "今天天气很好，我们去公园散步吧。今天天气很好，",
};

TEST_F(StrategyTest, PldEqualsPlainGreedy) {
  int32_t drafted = 0, accepted = 0;
  for (const auto &prompt : kPrompts) {
    for (StrategyParams sp : {StrategyParams{}, StrategyParams{.pld_window = 3, .pld_lookahead = 5}}) {
      const auto plain = run(Strategy::plain, prompt, greedy(40));
      const auto pld = run(Strategy::pld, prompt, greedy(40), sp);
      EXPECT_EQ(pld.tokens, plain.tokens) << prompt;
      EXPECT_EQ(pld.text, plain.text);
      drafted += pld.n_drafted;
      accepted += pld.n_accepted;
    }
  }
  EXPECT_GT(drafted, 0);
  EXPECT_GT(accepted, 0) << "no draft was ever accepted: the test would not exercise verification";
}

TEST_F(StrategyTest, PldAcceptsDraftsOnSelfRepeatingText) {
  const auto r = run(Strategy::pld, "the the the the the the the the the the the the", greedy(60));
  EXPECT_GT(r.n_accepted, 0);
  EXPECT_LT(r.n_decode_steps, r.n_generated - 1) << "accepted drafts should save forward passes";
}

TEST_F(StrategyTest, DraftEqualsPlainGreedy) {
  int32_t drafted = 0, accepted = 0;
  for (const auto &prompt : kPrompts) {
    for (int k : {1, 4}) {
      const auto plain = run(Strategy::plain, prompt, greedy(32));
      const auto spec = run(Strategy::draft, prompt, greedy(32), {.draft_tokens = k});
      EXPECT_EQ(spec.tokens, plain.tokens) << prompt << " k=" << k;
      drafted += spec.n_drafted;
      accepted += spec.n_accepted;
    }
  }
  EXPECT_GT(drafted, 0);
  EXPECT_GT(accepted, 0) << "the small model never agreed with the large one";
}

TEST_F(StrategyTest, DraftFromTheSameModelAcceptsEverything) {
  // A model drafting for itself is always right: every proposal is kept.
  auto tokens = large_->tokenize("def add(a, b):");
  auto r = exec::generate(*target_, *tokens, greedy(30), {Strategy::draft, {.draft_tokens = 3}, large_});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->n_accepted, r->n_drafted);
  EXPECT_GT(r->n_drafted, 20);
  EXPECT_EQ(r->tokens, run(Strategy::plain, "def add(a, b):", greedy(30)).tokens);
}

TEST_F(StrategyTest, LimitsAreRespectedLikePlain) {
  // max_tokens and stop strings land on the same token with every strategy.
  for (Strategy s : {Strategy::pld, Strategy::draft}) {
    const auto r = run(s, "the the the the the the the the", greedy(7));
    EXPECT_EQ(r.n_generated, 7);
    EXPECT_EQ(r.finish_reason, FinishReason::max_tokens);
  }
  const auto full = run(Strategy::plain, "abc abc abc abc abc", greedy(30));
  ASSERT_GT(full.text.size(), 8u);
  GenerateParams p = greedy(30);
  p.stop = {full.text.substr(full.text.size() / 2, 3)};
  const auto plain = run(Strategy::plain, "abc abc abc abc abc", p);
  for (Strategy s : {Strategy::pld, Strategy::draft}) {
    const auto r = run(s, "abc abc abc abc abc", p);
    EXPECT_EQ(r.text, plain.text) << strategy_name(s);
    EXPECT_EQ(r.finish_reason, FinishReason::stop_string);
  }
}

TEST_F(StrategyTest, ContextLimitIsRespected) {
  auto small_ctx = test::one_slot_engine(large_, 256);
  std::vector<llama_token> tokens = *large_->tokenize("the the the");
  while (tokens.size() < 245) tokens.push_back(tokens[1]);
  auto plain = exec::generate(*small_ctx, tokens, greedy(100));
  auto pld = exec::generate(*small_ctx, tokens, greedy(100), decoding(Strategy::pld));
  ASSERT_TRUE(plain.ok() && pld.ok()) << pld.status().to_string();
  EXPECT_EQ(pld->finish_reason, FinishReason::context_full);
  EXPECT_EQ(pld->tokens, plain->tokens);
}

TEST_F(StrategyTest, DraftRefusesAModelWithAnotherVocabulary) {
  auto bytes = *engine::Model::load({.path = test::write_byte_vocab_model("tiny-small", test::make_temp_dir("v"))});
  if (bytes->shares_vocab_with(*large_)) GTEST_SKIP() << "the tiny pair uses the byte vocabulary too";
  auto r = exec::generate(*target_, *large_->tokenize("hi"), greedy(4), {Strategy::draft, {}, bytes});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("vocabularies differ"), std::string::npos) << r.status().message();
  auto none = exec::generate(*target_, *large_->tokenize("hi"), greedy(4), {Strategy::draft, {}, nullptr});
  EXPECT_FALSE(none.ok());
}

TEST_F(StrategyTest, SampledSpeculationKeepsPlainSamplingsDistribution) {
  // The distribution of the first two sampled tokens, plain vs PLD vs draft, over many seeds. The speculative
  // acceptance rule makes them equal; total variation stays at sampling noise.
  // The prompt ends with the model's own greedy continuation, which repeats itself: the token it is most likely to
  // sample next occurred before, so PLD has something to propose, and the target sometimes keeps it, sometimes not.
  std::vector<llama_token> prompt = *large_->tokenize("ab");
  const auto greedy_run = exec::generate(*target_, prompt, greedy(6));
  ASSERT_TRUE(greedy_run.ok());
  prompt.insert(prompt.end(), greedy_run->tokens.begin(), greedy_run->tokens.end());
  constexpr int kRuns = 600;
  std::map<Strategy, std::map<std::pair<llama_token, llama_token>, int>> counts;
  std::map<Strategy, int32_t> drafted, accepted;
  for (Strategy s : {Strategy::plain, Strategy::pld, Strategy::draft}) {
    for (int seed = 0; seed < kRuns; ++seed) {
      GenerateParams p = greedy(2);
      p.sampling = {.temperature = 1.0f, .top_k = 3, .top_p = 1.0f, .seed = static_cast<uint32_t>(seed)};
      auto r = exec::generate(*target_, prompt, p, decoding(s, {.pld_lookahead = 2, .draft_tokens = 2}));
      ASSERT_TRUE(r.ok()) << r.status().to_string();
      ASSERT_EQ(r->tokens.size(), 2u);
      ++counts[s][{r->tokens[0], r->tokens[1]}];
      drafted[s] += r->n_drafted;
      accepted[s] += r->n_accepted;
    }
  }
  // Both kept and rejected drafts occur, so both branches of the acceptance rule are exercised.
  for (Strategy s : {Strategy::pld, Strategy::draft}) {
    EXPECT_GT(accepted[s], 0) << strategy_name(s);
    EXPECT_LT(accepted[s], drafted[s]) << strategy_name(s);
    double tv = 0;
    std::map<std::pair<llama_token, llama_token>, int> keys = counts[Strategy::plain];
    for (const auto &[k, _] : counts[s]) keys[k];
    for (const auto &[k, _] : keys) tv += std::abs(counts[Strategy::plain][k] - counts[s][k]) / (2.0 * kRuns);
    // With at most 9 outcomes and 600 draws each, sampling noise alone gives TV around 0.05; a biased rule gives more.
    EXPECT_LT(tv, 0.12) << strategy_name(s);
  }
}

} // namespace
} // namespace aio::decode
