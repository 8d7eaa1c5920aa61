// Generation: determinism, sampling, stop strings, streaming, cancellation and context limits.
#include <gtest/gtest.h>

#include "engine/generation.h"
#include "exec/batch_engine.h"
#include "support/tiny_models.h"

namespace aio::engine {
namespace {

class GenerateTest : public ::testing::Test {
protected:
  void SetUp() override {
    auto m = Model::load({.path = test::tiny_pair().large_path});
    ASSERT_TRUE(m.ok()) << m.status().to_string();
    model_ = *m;
    session_ = new_session();
  }
  std::unique_ptr<exec::BatchEngine> new_session(uint32_t n_ctx = 1024) {
    auto e = test::one_slot_engine(model_, n_ctx);
    EXPECT_TRUE(e != nullptr);
    return e;
  }
  std::vector<llama_token> prompt(const std::string &text) { return *model_->tokenize(text); }
  GenerationRecord run(exec::BatchEngine &s, const std::string &text, const GenerateParams &p, const TokenCallback &cb = {}) {
    auto r = exec::generate(s, prompt(text), p, {}, cb);
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    return r.ok() ? *r : GenerationRecord{};
  }

  std::shared_ptr<Model> model_;
  std::unique_ptr<exec::BatchEngine> session_; // the executor, one slot
};

using test::greedy;

TEST_F(GenerateTest, GreedyIsIdenticalAcrossRunsAndSessions) {
  const auto a = run(*session_, "def fibonacci(n):", greedy(24));
  const auto b = run(*session_, "def fibonacci(n):", greedy(24));
  auto other = new_session();
  const auto c = run(*other, "def fibonacci(n):", greedy(24));
  ASSERT_EQ(a.tokens.size(), 24u);
  EXPECT_EQ(a.tokens, b.tokens);
  EXPECT_EQ(a.tokens, c.tokens);
  EXPECT_EQ(a.text, c.text);
}

TEST_F(GenerateTest, RecordsCountsAndTimings) {
  const auto r = run(*session_, "Question: what is the capital of France?", greedy(10));
  EXPECT_EQ(r.n_prompt_tokens, static_cast<int>(prompt("Question: what is the capital of France?").size()));
  EXPECT_EQ(r.n_generated, 10);
  EXPECT_EQ(r.n_decode_steps, 9);
  EXPECT_GT(r.prefill_ms, 0);
  EXPECT_GT(r.decode_ms, 0);
  EXPECT_EQ(r.finish_reason, FinishReason::max_tokens);
}

TEST_F(GenerateTest, SamplingIsReproducibleWithASeed) {
  GenerateParams p = greedy(16);
  p.sampling = {.temperature = 1.5f, .top_k = 0, .top_p = 1.0f, .seed = 42};
  const auto a = run(*session_, "Once upon a time", p);
  const auto b = run(*session_, "Once upon a time", p);
  EXPECT_EQ(a.tokens, b.tokens);
  bool some_seed_differs = false;
  for (uint32_t seed : {1u, 2u, 3u}) {
    p.sampling.seed = seed;
    some_seed_differs |= run(*session_, "Once upon a time", p).tokens != a.tokens;
  }
  EXPECT_TRUE(some_seed_differs);
}

TEST_F(GenerateTest, StopStringCutsTheOutput) {
  const auto full = run(*session_, "List: a, b, c,", greedy(20));
  ASSERT_GE(full.text.size(), 6u);
  // Stop at a piece of text that first occurs somewhere in the middle of the greedy output.
  const std::string stop = full.text.substr(full.text.size() / 2, 3);
  const size_t first = full.text.find(stop);
  GenerateParams p = greedy(20);
  p.stop = {stop};
  const auto cut = run(*session_, "List: a, b, c,", p);
  EXPECT_EQ(cut.finish_reason, FinishReason::stop_string);
  EXPECT_EQ(cut.text, full.text.substr(0, first));
}

TEST_F(GenerateTest, StreamedPiecesAddUpToTheText) {
  std::string streamed;
  int calls = 0;
  const auto r = run(*session_, "Stream this:", greedy(16), [&](std::string_view piece, llama_token, auto) {
    streamed += piece;
    ++calls;
    return true;
  });
  EXPECT_EQ(streamed, r.text);
  EXPECT_GE(calls, 16);
}

TEST_F(GenerateTest, CallbackCanCancel) {
  int calls = 0;
  const auto r = run(*session_, "Cancel me", greedy(50), [&](std::string_view, llama_token, auto) { return ++calls < 5; });
  EXPECT_EQ(r.finish_reason, FinishReason::cancelled);
  EXPECT_EQ(r.n_generated, 5);
}

TEST_F(GenerateTest, PromptLongerThanTheContextIsRefused) {
  auto small_ctx = new_session(256);
  std::string text;
  for (int i = 0; i < 400; ++i) text += "word ";
  auto r = exec::generate(*small_ctx, prompt(text), greedy(4));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::context_overflow);
  EXPECT_NE(r.status().message().find("may use 256"), std::string::npos) << r.status().message();
}

TEST_F(GenerateTest, GenerationStopsWhenTheContextIsFull) {
  auto small_ctx = new_session(256);
  std::vector<llama_token> tokens = prompt("fill");
  tokens.resize(250, tokens.back());
  auto r = exec::generate(*small_ctx, tokens, greedy(100));
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->finish_reason, FinishReason::context_full);
  EXPECT_EQ(r->n_generated, 7); // positions 250..255 decoded, plus the token sampled last
}

TEST_F(GenerateTest, EmptyPromptIsRefused) {
  auto r = exec::generate(*session_, {}, greedy(4));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::invalid_argument);
}

TEST_F(GenerateTest, LongPromptsArePrefilledInChunks) {
  auto chunked = test::one_slot_engine(model_, 1024, 32);
  ASSERT_TRUE(chunked != nullptr);
  std::string text;
  for (int i = 0; i < 60; ++i) text += "token" + std::to_string(i) + " ";
  const auto a = run(*chunked, text, greedy(8));
  const auto b = run(*session_, text, greedy(8));
  EXPECT_GT(a.n_prompt_tokens, 100);
  EXPECT_EQ(a.tokens, b.tokens);
}

} // namespace
} // namespace aio::engine
