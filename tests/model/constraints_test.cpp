// Token constraints and log-probabilities in the executor: a grammar holds on every strategy (plain, PLD, draft;
// greedy and sampled), speculation under a grammar or with logprobs gives plain decoding's tokens and logprobs,
// logit_bias forces or bans a token, penalties change a repeating output, and a bad grammar or token id is refused.
#include <gtest/gtest.h>

#include <cmath>
#include <algorithm>
#include <map>
#include <random>
#include <regex>

#include "engine/prob_sampler.h"
#include "exec/batch_engine.h"
#include "support/tiny_models.h"

namespace aio::exec {
namespace {

// One to three short words, then a full stop: a finite language, so even random weights (which would repeat a word
// forever) must reach its end, where only end-of-generation is allowed.
const char *kGrammar = R"(root ::= word (" " word)? (" " word)? "."
word ::= [a-z] [a-z]? [a-z]?)";
const std::regex kGrammarText(R"([a-z]{1,3}( [a-z]{1,3}){0,2}\.)");

const std::vector<std::string> kPrompts = {
    "the the the the the the the the the the the the",
    "Question: What is the capital of France? Answer:",
    "12 + 7 = 19. 19 + 7 = 26. 26 + 7 = 33. 33 + 7 =",
};

class ConstraintsTest : public test::TinyPairTest {
protected:
  void SetUp() override {
    engine_ = test::batch_engine(large_, 2);
    ASSERT_TRUE(engine_);
  }
  Expected<engine::GenerationRecord> run(const std::string &prompt, Strategy s, const GenerateParams &params) {
    Decoding d;
    d.strategy = s;
    if (s == Strategy::draft) d.draft_model = small_;
    std::string streamed;
    size_t streamed_logprobs = 0;
    auto r = generate(*engine_, *large_->tokenize(prompt), params, d,
                      [&](std::string_view piece, llama_token, std::span<const engine::TokenLogprob> lps) {
                        streamed += piece;
                        streamed_logprobs += lps.size();
                        return true;
                      });
    if (r.ok()) {
      EXPECT_EQ(streamed, r->text);
      EXPECT_EQ(streamed_logprobs, r->logprobs.size()); // every logprob the record has went out with its text
    }
    return r;
  }
  std::unique_ptr<BatchEngine> engine_;
};

GenerateParams with_grammar(float temperature = 0.0f) {
  GenerateParams p;
  p.max_tokens = 48;
  p.constraints.grammar = kGrammar;
  p.sampling.temperature = temperature;
  p.sampling.seed = 7;
  return p;
}

TEST_F(ConstraintsTest, GrammarHoldsOnEveryStrategyAndSpeculationStaysLossless) {
  for (const auto &prompt : kPrompts) {
    const auto plain = run(prompt, Strategy::plain, with_grammar());
    ASSERT_TRUE(plain.ok()) << plain.status().to_string();
    EXPECT_EQ(plain->finish_reason, FinishReason::end_of_generation) << "the grammar was complete: only EOG remained";
    EXPECT_TRUE(std::regex_match(plain->text, kGrammarText)) << "'" << plain->text << "'";
    for (Strategy s : {Strategy::pld, Strategy::draft}) {
      const auto spec = run(prompt, s, with_grammar());
      ASSERT_TRUE(spec.ok()) << spec.status().to_string();
      EXPECT_EQ(spec->tokens, plain->tokens) << strategy_name(s) << " on " << prompt;
    }
  }
}

TEST_F(ConstraintsTest, SampledOutputKeepsTheGrammarToo) {
  for (Strategy s : {Strategy::plain, Strategy::pld, Strategy::draft})
    for (uint32_t seed = 1; seed <= 3; ++seed) {
      auto p = with_grammar(1.0f);
      p.sampling.seed = seed;
      const auto r = run(kPrompts[1], s, p);
      ASSERT_TRUE(r.ok()) << r.status().to_string();
      if (r->finish_reason == FinishReason::end_of_generation)
        EXPECT_TRUE(std::regex_match(r->text, kGrammarText)) << strategy_name(s) << ": '" << r->text << "'";
      else // cut by max_tokens: a prefix of the language
        ADD_FAILURE() << "the language is finite: generation should have ended, not stopped at " << r->text;
    }
}

// Plain temperature sampling under a grammar draws from the unconstrained distribution until the grammar allows the
// token (rejection sampling): the draws must follow the constrained distribution exactly, as building it would.
TEST_F(ConstraintsTest, RejectionSamplingDrawsFromTheConstrainedDistribution) {
  const int32_t n_vocab = large_->info().n_vocab;
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  std::vector<float> logits(static_cast<size_t>(n_vocab));
  for (float &l : logits) l = normal(rng);
  for (char c = 'a'; c <= 'z'; ++c) // make the allowed tokens likely, so that most draws are accepted at once
    for (const auto tokens = *large_->tokenize(std::string(1, c), false, false); llama_token t : tokens)
      logits[static_cast<size_t>(t)] += 9.0f;
  SamplingParams sp;
  sp.temperature = 1.0f;
  sp.top_k = 0;
  sp.top_p = 1.0f;
  TokenConstraints c;
  c.grammar = "root ::= [a-z] [a-z]?";
  engine::ProbSampler exact(sp, n_vocab, *engine::Constrainer::create(*large_, c));
  std::map<llama_token, double> p;
  for (const auto &d : exact.distribution(logits.data())) p[d.id] = d.p;
  sp.seed = 5;
  engine::ProbSampler drawn(sp, n_vocab, *engine::Constrainer::create(*large_, c));
  const int n = 4000;
  std::map<llama_token, int> seen;
  for (int i = 0; i < n; ++i) ++seen[drawn.sample(logits.data())];
  for (const auto &[token, count] : seen) EXPECT_TRUE(p.count(token)) << "token " << token << " is not allowed";
  std::vector<std::pair<double, llama_token>> top;
  for (const auto &[token, prob] : p) top.emplace_back(prob, token);
  std::sort(top.rbegin(), top.rend());
  for (size_t i = 0; i < std::min<size_t>(5, top.size()); ++i)
    EXPECT_NEAR(static_cast<double>(seen[top[i].second]) / n, top[i].first, 0.03) << "token " << top[i].second;
}

// A grammar compiled ahead (on the request's thread) is what the engine's Constrainer uses - taken once, for the same
// grammar and a vocabulary the model shares (the tiny pair's) - and it constrains as one compiled there would.
TEST_F(ConstraintsTest, APreparedGrammarIsTakenNotCompiledAgain) {
  auto params = with_grammar();
  auto prepared = engine::PreparedGrammar::prepare(*small_, params.constraints);
  ASSERT_TRUE(prepared.ok()) << prepared.status().to_string();
  EXPECT_TRUE((*prepared)->fits(*large_, params.constraints)) << "the pair shares its vocabulary";
  TokenConstraints other = params.constraints;
  other.grammar = "root ::= \"x\"";
  EXPECT_FALSE((*prepared)->fits(*large_, other));
  params.constraints.prepared = *prepared;
  const auto with = run(kPrompts[1], Strategy::plain, params);
  ASSERT_TRUE(with.ok()) << with.status().to_string();
  EXPECT_EQ((*prepared)->take(*large_, params.constraints), nullptr) << "the engine took it";
  const auto without = run(kPrompts[1], Strategy::plain, with_grammar());
  ASSERT_TRUE(without.ok());
  EXPECT_EQ(with->tokens, without->tokens);
  EXPECT_TRUE(std::regex_match(with->text, kGrammarText)) << with->text;
}

TEST_F(ConstraintsTest, LogprobsAreTheTargetsOnEveryStrategy) {
  GenerateParams p;
  p.max_tokens = 24;
  p.ignore_eos = true;
  p.logprobs = 3;
  for (const auto &prompt : kPrompts) {
    const auto plain = run(prompt, Strategy::plain, p);
    ASSERT_TRUE(plain.ok());
    ASSERT_EQ(plain->logprobs.size(), plain->tokens.size());
    for (size_t i = 0; i < plain->logprobs.size(); ++i) {
      const auto &lp = plain->logprobs[i];
      EXPECT_EQ(lp.token, plain->tokens[i]);
      EXPECT_LE(lp.logprob, 0.0f);
      ASSERT_EQ(lp.top.size(), 3u);
      EXPECT_EQ(lp.top[0].token, lp.token) << "greedy: the chosen token is the most likely one";
      EXPECT_FLOAT_EQ(lp.top[0].logprob, lp.logprob);
      EXPECT_GE(lp.top[0].logprob, lp.top[1].logprob);
      EXPECT_GE(lp.top[1].logprob, lp.top[2].logprob);
    }
    for (Strategy s : {Strategy::pld, Strategy::draft}) {
      const auto spec = run(prompt, s, p);
      ASSERT_TRUE(spec.ok());
      ASSERT_EQ(spec->tokens, plain->tokens) << strategy_name(s);
      ASSERT_EQ(spec->logprobs.size(), plain->logprobs.size());
      // The same target logits, up to llama.cpp's batch-size rounding (verification decodes several rows at once).
      for (size_t i = 0; i < spec->logprobs.size(); ++i)
        EXPECT_NEAR(spec->logprobs[i].logprob, plain->logprobs[i].logprob, 2e-3) << strategy_name(s) << " token " << i;
    }
  }
}

TEST_F(ConstraintsTest, LogprobsStopWhereAStopStringCutsTheText) {
  GenerateParams p;
  p.max_tokens = 24;
  p.ignore_eos = true;
  p.logprobs = 0;
  const auto free = run(kPrompts[0], Strategy::plain, p);
  ASSERT_TRUE(free.ok());
  ASSERT_GT(free->text.size(), 4u);
  p.stop = {free->text.substr(free->text.size() / 2, 2)};
  const auto cut = run(kPrompts[0], Strategy::plain, p);
  ASSERT_TRUE(cut.ok());
  ASSERT_EQ(cut->finish_reason, FinishReason::stop_string);
  std::string covered;
  for (const auto &lp : cut->logprobs) covered += lp.piece;
  EXPECT_EQ(covered.substr(0, cut->text.size()), cut->text);
  EXPECT_LE(covered.size(), cut->text.size()) << "a token of the stop string got a logprob";
}

TEST_F(ConstraintsTest, LogitBiasForcesAndBans) {
  GenerateParams p;
  p.max_tokens = 12;
  p.ignore_eos = true;
  const auto free = run(kPrompts[1], Strategy::plain, p);
  ASSERT_TRUE(free.ok());
  const llama_token forced = free->tokens[0] == 100 ? 101 : 100;
  p.constraints.logit_bias = {{forced, 100.0f}};
  for (Strategy s : {Strategy::plain, Strategy::pld}) {
    const auto r = run(kPrompts[1], s, p);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->tokens, std::vector<llama_token>(12, forced)) << strategy_name(s);
  }
  p.constraints.logit_bias = {{free->tokens[0], -100.0f}};
  const auto banned = run(kPrompts[1], Strategy::plain, p);
  ASSERT_TRUE(banned.ok());
  for (llama_token t : banned->tokens) EXPECT_NE(t, free->tokens[0]);
}

TEST_F(ConstraintsTest, PenaltiesChangeARepeatingOutputAndStayLossless) {
  GenerateParams p;
  p.max_tokens = 24;
  p.ignore_eos = true;
  const auto free = run(kPrompts[0], Strategy::plain, p);
  ASSERT_TRUE(free.ok());
  std::map<llama_token, int> counts;
  for (llama_token t : free->tokens) ++counts[t];
  p.constraints.frequency_penalty = 2.0f;
  p.constraints.presence_penalty = 2.0f;
  const auto penalized = run(kPrompts[0], Strategy::plain, p);
  ASSERT_TRUE(penalized.ok());
  std::map<llama_token, int> counts_after;
  for (llama_token t : penalized->tokens) ++counts_after[t];
  EXPECT_NE(penalized->tokens, free->tokens);
  EXPECT_GT(counts_after.size(), counts.size()) << "penalties should spread the output over more distinct tokens";
  const auto pld = run(kPrompts[0], Strategy::pld, p);
  ASSERT_TRUE(pld.ok());
  EXPECT_EQ(pld->tokens, penalized->tokens);
}

TEST_F(ConstraintsTest, BadGrammarOrTokenIdIsRefused) {
  auto p = with_grammar();
  p.constraints.grammar = "root ::= (";
  const auto bad = run(kPrompts[0], Strategy::plain, p);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::invalid_argument);
  EXPECT_NE(bad.status().message().find("grammar"), std::string::npos);
  GenerateParams q;
  q.constraints.logit_bias = {{large_->info().n_vocab + 5, 1.0f}};
  const auto out_of_range = run(kPrompts[0], Strategy::plain, q);
  ASSERT_FALSE(out_of_range.ok());
  EXPECT_NE(out_of_range.status().message().find("logit_bias"), std::string::npos);
}

} // namespace
} // namespace aio::exec
