// Both models of a pair live in one process and either serves the next request without reloading.
#include <gtest/gtest.h>

#include "engine/generation.h"
#include "support/tiny_models.h"

namespace aio::engine {
namespace {

std::vector<llama_token> greedy_tokens(exec::BatchEngine &s, const std::string &text) {
  GenerateParams p;
  p.max_tokens = 20;
  p.ignore_eos = true;
  auto r = exec::generate(s, *s.model().tokenize(text), p);
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  return r.ok() ? r->tokens : std::vector<llama_token>{};
}

std::unique_ptr<exec::BatchEngine> session_for(std::shared_ptr<Model> m) {
  auto s = test::one_slot_engine(std::move(m), 512);
  EXPECT_TRUE(s != nullptr);
  return s;
}

TEST(CoResidency, SameTokensWithOneOrBothModelsLoaded) {
  const std::string prompt = "Write a function that reverses a string.";
  std::vector<llama_token> small_alone, large_alone;
  {
    auto small = *Model::load({.path = test::tiny_pair().small_path});
    small_alone = greedy_tokens(*session_for(small), prompt);
  }
  {
    auto large = *Model::load({.path = test::tiny_pair().large_path});
    large_alone = greedy_tokens(*session_for(large), prompt);
  }
  auto small = *Model::load({.path = test::tiny_pair().small_path});
  auto large = *Model::load({.path = test::tiny_pair().large_path});
  auto s_small = session_for(small);
  auto s_large = session_for(large);
  // Interleave requests between the two resident models.
  for (int round = 0; round < 2; ++round) {
    EXPECT_EQ(greedy_tokens(*s_large, prompt), large_alone);
    EXPECT_EQ(greedy_tokens(*s_small, prompt), small_alone);
  }
  EXPECT_NE(small_alone, large_alone);
}

TEST(CoResidency, SessionsShareOneLoadedModel) {
  auto small = *Model::load({.path = test::tiny_pair().small_path});
  auto a = session_for(small);
  auto b = session_for(small);
  EXPECT_EQ(greedy_tokens(*a, "shared weights"), greedy_tokens(*b, "shared weights"));
  EXPECT_EQ(small.use_count(), 3); // this test's handle and one per session
}

} // namespace
} // namespace aio::engine
