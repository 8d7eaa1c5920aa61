#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>

#include "gguf.h"
#include "support/paths.h"
#include "synth/gguf_writer.h"

namespace aio::synth {
namespace {

std::string slurp(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

SynthParams tiny_params(const std::string &path, uint64_t seed = 7, int threads = 0) {
  SynthParams p;
  p.preset = *find_arch_preset("tiny-small");
  p.vocab = byte_level_vocab();
  p.type = WeightType::q8_0;
  p.seed = seed;
  p.out_path = path;
  p.n_threads = threads;
  return p;
}

TEST(Presets, RealShapesHaveThePublishedParameterCounts) {
  // Llama 3.2 1B: 1.24B; Llama 3.2 3B: 3.21B; Llama 3.1 8B: 8.03B (with the 128,256-token vocabulary).
  EXPECT_NEAR(preset_n_params(*find_arch_preset("llama3.2-1b"), 128256) / 1e9, 1.24, 0.01);
  EXPECT_NEAR(preset_n_params(*find_arch_preset("llama3.2-3b"), 128256) / 1e9, 3.21, 0.01);
  EXPECT_NEAR(preset_n_params(*find_arch_preset("llama3.1-8b"), 128256) / 1e9, 8.03, 0.01);
  EXPECT_FALSE(find_arch_preset("gpt-5").has_value());
}

TEST(Presets, TinyPairIsSmallThenLarger) {
  const auto small = preset_n_params(*find_arch_preset("tiny-small"), 128256);
  const auto large = preset_n_params(*find_arch_preset("tiny-large"), 128256);
  EXPECT_LT(small, 10'000'000u);
  EXPECT_GT(large, 3 * small);
  EXPECT_LT(large, 60'000'000u);
}

TEST(ByteVocab, CoversEveryByteOnceAndHasChatControls) {
  VocabSpec v = byte_level_vocab();
  ASSERT_EQ(v.tokens.size(), 261u);
  std::set<std::string> distinct(v.tokens.begin(), v.tokens.begin() + 256);
  EXPECT_EQ(distinct.size(), 256u);
  EXPECT_EQ(v.tokens[v.bos_id], "<|begin_of_text|>");
  EXPECT_EQ(v.tokens[v.eot_id], "<|eot_id|>");
  EXPECT_EQ(v.tokens['A'], "A");          // printable ASCII stands for itself
  EXPECT_EQ(v.tokens[' '], "\xC4\xA0");   // GPT-2 shows a space as U+0120
  EXPECT_FALSE(v.chat_template.empty());
}

TEST(Llama3Tokenizer, LoadsFromThePinnedPackage) {
  const std::string dir = test::llama3_tokenizer_dir();
  if (dir.empty()) GTEST_SKIP() << "the Llama-3 tokenizer was not fetched at configure time";
  auto v = load_hf_tokenizer(dir);
  ASSERT_TRUE(v.ok()) << v.status().to_string();
  EXPECT_EQ(v->tokens.size(), 128256u);
  EXPECT_EQ(v->merges.size(), 280147u);
  EXPECT_EQ(v->tokens[v->bos_id], "<|begin_of_text|>");
  EXPECT_EQ(v->eot_id, 128009);
  EXPECT_NE(v->chat_template.find("<|start_header_id|>"), std::string::npos);
}

TEST(Llama3Tokenizer, MissingPathIsAClearError) {
  auto v = load_hf_tokenizer("/nonexistent/tokenizer");
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), StatusCode::not_found);
  EXPECT_NE(v.status().message().find("byte"), std::string::npos);
}

TEST(GgufWriter, WritesAValidFileMarkedSynthetic) {
  const std::string dir = test::make_temp_dir("synth");
  const std::string path = dir + "/m.gguf";
  ASSERT_TRUE(write_synthetic_gguf(tiny_params(path)).ok());
  EXPECT_FALSE(std::filesystem::exists(path + ".partial"));

  gguf_init_params ip = {/*no_alloc=*/true, /*ctx=*/nullptr};
  gguf_context *g = gguf_init_from_file(path.c_str(), ip);
  ASSERT_NE(g, nullptr);
  EXPECT_STREQ(gguf_get_val_str(g, gguf_find_key(g, "general.architecture")), "llama");
  EXPECT_TRUE(gguf_get_val_bool(g, gguf_find_key(g, "aio.synthetic")));
  EXPECT_STREQ(gguf_get_val_str(g, gguf_find_key(g, "aio.synthetic.preset")), "tiny-small");
  EXPECT_NE(std::string(gguf_get_val_str(g, gguf_find_key(g, "general.description"))).find("SYNTHETIC"),
            std::string::npos);
  // token_embd + output_norm + 9 per layer, tied embeddings: no output.weight.
  EXPECT_EQ(gguf_get_n_tensors(g), 2 + 9 * 2);
  EXPECT_EQ(gguf_find_tensor(g, "output.weight"), -1);
  EXPECT_EQ(gguf_get_tensor_type(g, gguf_find_tensor(g, "blk.0.attn_q.weight")), GGML_TYPE_Q8_0);
  EXPECT_EQ(gguf_get_tensor_type(g, gguf_find_tensor(g, "blk.0.attn_norm.weight")), GGML_TYPE_F32);
  // The data section ends exactly at the end of the file.
  const int64_t last = gguf_get_n_tensors(g) - 1;
  const size_t end = gguf_get_data_offset(g) + gguf_get_tensor_offset(g, last) + gguf_get_tensor_size(g, last);
  EXPECT_LE(end, std::filesystem::file_size(path));
  EXPECT_GT(end + gguf_get_alignment(g), std::filesystem::file_size(path));
  gguf_free(g);
}

TEST(GgufWriter, SameSeedSameBytesWhateverTheThreadCount) {
  const std::string dir = test::make_temp_dir("synth");
  ASSERT_TRUE(write_synthetic_gguf(tiny_params(dir + "/a.gguf", 7, 1)).ok());
  ASSERT_TRUE(write_synthetic_gguf(tiny_params(dir + "/b.gguf", 7, 3)).ok());
  ASSERT_TRUE(write_synthetic_gguf(tiny_params(dir + "/c.gguf", 8, 1)).ok());
  const std::string a = slurp(dir + "/a.gguf"), b = slurp(dir + "/b.gguf"), c = slurp(dir + "/c.gguf");
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.size(), c.size());
  EXPECT_NE(a, c);
}

TEST(GgufWriter, EachWeightTypeHasItsSize) {
  const std::string dir = test::make_temp_dir("synth");
  std::uintmax_t sizes[3];
  int i = 0;
  for (WeightType t : {WeightType::f16, WeightType::q8_0, WeightType::q4_0}) {
    SynthParams p = tiny_params(dir + "/" + weight_type_name(t) + ".gguf");
    p.type = t;
    ASSERT_TRUE(write_synthetic_gguf(p).ok());
    sizes[i++] = std::filesystem::file_size(p.out_path);
  }
  EXPECT_GT(sizes[0], sizes[1]);
  EXPECT_GT(sizes[1], sizes[2]);
}

TEST(GgufWriter, UnwritableOutputIsAClearError) {
  Status s = write_synthetic_gguf(tiny_params("/nonexistent-dir/m.gguf"));
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("cannot write"), std::string::npos);
}

} // namespace
} // namespace aio::synth
