// Speculation inside the batched step: PLD and draft-model jobs in the server's BatchEngine give plain decoding's
// greedy tokens, accept drafts, save forward passes, and mix with plain jobs in the same steps.
#include <gtest/gtest.h>

#include <map>

#include "exec/batch_engine.h"
#include "support/paths.h"
#include "support/tiny_models.h"

namespace aio::exec {
namespace {

using test::greedy;

struct Outcome {
  bool done = false;
  Expected<engine::GenerationRecord> result = internal_error("not finished");
  std::string streamed;
};

const std::vector<std::string> kPrompts = {
    "def fibonacci(n):\n    if n < 2:\n        return n\n    return fibonacci(n - 1) + fibonacci(n - 2)\n",
    "Question: What is the capital of France? Answer: Paris. Question: What is the capital of Spain? Answer:",
    "the the the the the the the the the the the the",
    "12 + 7 = 19. 19 + 7 = 26. 26 + 7 = 33. 33 + 7 =",
};

class BatchSpeculationTest : public test::TinyPairTest {
protected:
  void SetUp() override {
    engine_ = test::batch_engine(large_, 4);
    ASSERT_TRUE(engine_);
    drafters_ = {{"small", small_}, {"self", large_}}; // "self": the model drafting for itself
  }
  Job job(const std::string &text, Strategy s, const std::string &drafter, GenerateParams params,
          Outcome &o) {
    Job j;
    j.prompt = *large_->tokenize(text);
    j.params = std::move(params);
    j.decoding.strategy = s;
    if (auto d = drafters_.find(drafter); d != drafters_.end()) j.decoding.draft_model = d->second;
    j.on_token = [&o](std::string_view piece, llama_token, auto) {
      o.streamed += piece;
      return true;
    };
    j.on_done = [&o](Expected<engine::GenerationRecord> r) {
      o.done = true;
      o.result = std::move(r);
    };
    return j;
  }
  void drain() {
    for (int guard = 0; guard < 10000 && engine_->step(); ++guard) {
    }
  }
  // One job alone in the engine.
  engine::GenerationRecord solo(const std::string &text, Strategy s, const std::string &drafter, int n) {
    Outcome o;
    EXPECT_TRUE(engine_->submit(job(text, s, drafter, greedy(n), o)));
    drain();
    EXPECT_TRUE(o.done);
    EXPECT_TRUE(o.result.ok()) << o.result.status().to_string();
    EXPECT_EQ(o.streamed, o.result.ok() ? o.result->text : "");
    return o.result.ok() ? *o.result : engine::GenerationRecord{};
  }

  std::map<std::string, std::shared_ptr<engine::Model>> drafters_;
  std::unique_ptr<BatchEngine> engine_;
};

TEST_F(BatchSpeculationTest, PldAloneEqualsPlainAndSavesSteps) {
  int32_t drafted = 0, accepted = 0;
  for (const auto &prompt : kPrompts) {
    const auto plain = solo(prompt, Strategy::plain, "", 40);
    const auto pld = solo(prompt, Strategy::pld, "", 40);
    EXPECT_EQ(pld.tokens, plain.tokens) << prompt;
    drafted += pld.n_drafted;
    accepted += pld.n_accepted;
    if (pld.n_accepted > 0) { EXPECT_LT(pld.n_decode_steps, plain.n_decode_steps) << prompt; }
  }
  EXPECT_GT(drafted, 0);
  EXPECT_GT(accepted, 0) << "no draft was ever accepted: verification was not exercised";
}

TEST_F(BatchSpeculationTest, DraftAloneEqualsPlain) {
  int32_t drafted = 0, accepted = 0;
  for (const auto &prompt : kPrompts) {
    const auto plain = solo(prompt, Strategy::plain, "", 32);
    const auto spec = solo(prompt, Strategy::draft, "small", 32);
    EXPECT_EQ(spec.tokens, plain.tokens) << prompt;
    drafted += spec.n_drafted;
    accepted += spec.n_accepted;
  }
  EXPECT_GT(drafted, 0);
  EXPECT_GT(accepted, 0) << "the small model never agreed with the large one";
}

TEST_F(BatchSpeculationTest, SelfDraftingAcceptsEverything) {
  const auto r = solo("def add(a, b):", Strategy::draft, "self", 30);
  EXPECT_EQ(r.n_accepted, r.n_drafted);
  EXPECT_GT(r.n_drafted, 20);
  EXPECT_LE(r.n_decode_steps, 30 / 4 + 2) << "four drafts plus one bonus token per verification step";
  EXPECT_EQ(r.tokens, solo("def add(a, b):", Strategy::plain, "", 30).tokens);
}

// Plain, PLD and draft sequences share steps. Batched kernels are not bit-identical to solo ones (see
// batch_engine_test), so what is asserted is completion, determinism, that drafts were verified in the shared steps,
// and that each sequence got its own continuation.
TEST_F(BatchSpeculationTest, MixedStrategiesShareSteps) {
  const std::vector<std::pair<Strategy, std::string>> how = {
      {Strategy::plain, ""}, {Strategy::pld, ""}, {Strategy::draft, "small"}, {Strategy::draft, "self"}};
  auto run_all = [&] {
    std::vector<Outcome> out(kPrompts.size());
    for (size_t i = 0; i < kPrompts.size(); ++i)
      EXPECT_TRUE(engine_->submit(job(kPrompts[i], how[i].first, how[i].second, greedy(24), out[i])));
    const int64_t calls_before = engine_->n_decode_calls();
    drain();
    EXPECT_LE(engine_->n_decode_calls() - calls_before, 25) << "one verification step serves every sequence";
    std::vector<std::vector<llama_token>> tokens;
    for (size_t i = 0; i < out.size(); ++i) {
      EXPECT_TRUE(out[i].result.ok()) << out[i].result.status().to_string();
      if (!out[i].result.ok()) continue;
      EXPECT_EQ(out[i].result->n_generated, 24);
      EXPECT_EQ(out[i].streamed, out[i].result->text);
      if (how[i].first != Strategy::plain) { EXPECT_GT(out[i].result->n_drafted, 0) << i; }
      tokens.push_back(out[i].result->tokens);
    }
    return tokens;
  };
  const auto first = run_all();
  EXPECT_EQ(first, run_all());
  EXPECT_EQ(engine_->n_active(), 0u);
  for (size_t i = 0; i < kPrompts.size() && i < first.size(); ++i)
    EXPECT_EQ(first[i].front(), solo(kPrompts[i], Strategy::plain, "", 1).tokens.front()) << kPrompts[i];
}

TEST_F(BatchSpeculationTest, SampledSpeculationIsReproducibleAndCompletes) {
  GenerateParams p = greedy(30);
  p.sampling.temperature = 0.8f;
  p.sampling.seed = 7;
  for (auto [s, d] : std::vector<std::pair<Strategy, std::string>>{{Strategy::pld, ""}, {Strategy::draft, "small"}}) {
    Outcome a, b;
    ASSERT_TRUE(engine_->submit(job(kPrompts[2], s, d, p, a)));
    drain();
    ASSERT_TRUE(engine_->submit(job(kPrompts[2], s, d, p, b)));
    drain();
    ASSERT_TRUE(a.result.ok() && b.result.ok());
    EXPECT_EQ(a.result->tokens, b.result->tokens);
    EXPECT_EQ(a.result->n_generated, 30);
  }
}

TEST_F(BatchSpeculationTest, LimitsLandOnTheSameTokenAsPlain) {
  GenerateParams p = greedy(50);
  const auto plain = solo(kPrompts[2], Strategy::plain, "", 50);
  ASSERT_GT(plain.text.size(), 8u);
  p.stop = {plain.text.substr(plain.text.size() / 2, 3)};
  for (auto [s, d] : std::vector<std::pair<Strategy, std::string>>{
           {Strategy::plain, ""}, {Strategy::pld, ""}, {Strategy::draft, "self"}}) {
    Outcome o;
    ASSERT_TRUE(engine_->submit(job(kPrompts[2], s, d, p, o)));
    drain();
    ASSERT_TRUE(o.result.ok());
    EXPECT_EQ(o.result->finish_reason, FinishReason::stop_string);
    EXPECT_EQ(o.result->text, plain.text.substr(0, plain.text.find(p.stop[0])));
  }
  for (int n : {1, 2, 3, 7}) {
    EXPECT_EQ(solo(kPrompts[2], Strategy::pld, "", n).n_generated, n);
    EXPECT_EQ(solo(kPrompts[2], Strategy::draft, "self", n).n_generated, n);
  }
}

TEST_F(BatchSpeculationTest, UnknownOrForeignDrafterIsRefused) {
  Outcome o;
  ASSERT_TRUE(engine_->submit(job("hi", Strategy::draft, "nobody", greedy(4), o)));
  drain();
  ASSERT_FALSE(o.result.ok());
  EXPECT_NE(o.result.status().message().find("needs a draft model"), std::string::npos) << o.result.status().message();

  auto bytes = *engine::Model::load({.path = test::write_byte_vocab_model("tiny-small", test::make_temp_dir("v"))});
  if (bytes->shares_vocab_with(*large_)) GTEST_SKIP() << "the tiny pair uses the byte vocabulary too";
  drafters_["bytes"] = bytes;
  Outcome foreign;
  ASSERT_TRUE(engine_->submit(job("hi", Strategy::draft, "bytes", greedy(4), foreign)));
  drain();
  ASSERT_FALSE(foreign.result.ok());
  EXPECT_NE(foreign.result.status().message().find("vocabularies differ"), std::string::npos)
      << foreign.result.status().message();
  // The engine goes on serving after the refusal.
  EXPECT_EQ(solo("hi", Strategy::draft, "small", 4).n_generated, 4);
}

} // namespace
} // namespace aio::exec
