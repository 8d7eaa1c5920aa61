// A GGUF made by someone else's converter (shared/data) loads and generates: we are not only compatible with ourselves.
#include <gtest/gtest.h>

#include <filesystem>

#include "engine/generation.h"
#include "support/paths.h"
#include "support/tiny_models.h"

namespace aio::engine {
namespace {

TEST(ForeignGguf, Llama2TinyRandomLoadsAndGenerates) {
  const auto data = test::shared_data_dir();
  const std::string path = data ? *data + "/gguf/llama-2-tiny-random.gguf" : "";
  if (!data || !std::filesystem::exists(path)) GTEST_SKIP() << "../shared/data/gguf/llama-2-tiny-random.gguf is absent";
  auto m = Model::load({.path = path});
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  EXPECT_EQ((*m)->info().n_vocab, 32000);
  EXPECT_EQ((*m)->info().n_layer, 1);
  EXPECT_FALSE((*m)->info().synthetic); // it is random, but it does not carry our marker
  auto s = test::one_slot_engine(*m, 256);
  ASSERT_TRUE(s != nullptr);
  GenerateParams p;
  p.max_tokens = 8;
  p.ignore_eos = true;
  auto prompt = (*m)->tokenize("Once upon a time");
  ASSERT_TRUE(prompt.ok());
  auto a = exec::generate(*s, *prompt, p);
  auto b = exec::generate(*s, *prompt, p);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->n_generated, 8);
  EXPECT_EQ(a->tokens, b->tokens);
}

} // namespace
} // namespace aio::engine
