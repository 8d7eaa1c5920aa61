// Loading models: shape reporting, tokenization, chat templates, vocabulary comparison and every load failure.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "engine/model.h"
#include "support/paths.h"
#include "support/tiny_models.h"

namespace aio::engine {
namespace {

std::shared_ptr<Model> load_ok(const std::string &path) {
  auto m = Model::load({.path = path});
  EXPECT_TRUE(m.ok()) << m.status().to_string();
  return m.ok() ? *m : nullptr;
}

void copy_prefix(const std::string &from, const std::string &to, size_t n) {
  std::ifstream in(from, std::ios::binary);
  std::string data(n, '\0');
  in.read(data.data(), static_cast<std::streamsize>(n));
  std::ofstream(to, std::ios::binary).write(data.data(), in.gcount());
}

TEST(Model, ReportsItsShapeAndThatItIsSynthetic) {
  auto small = load_ok(test::tiny_pair().small_path);
  auto large = load_ok(test::tiny_pair().large_path);
  ASSERT_TRUE(small && large);
  const ModelInfo &s = small->info();
  EXPECT_EQ(s.arch, "llama");
  EXPECT_EQ(s.n_layer, 2);
  EXPECT_EQ(s.n_embd, 64);
  EXPECT_EQ(s.n_head_kv, 2);
  EXPECT_EQ(s.n_ctx_train, 4096);
  EXPECT_EQ(s.file_type, "Q8_0");
  EXPECT_TRUE(s.synthetic);
  EXPECT_EQ(s.synthetic_preset, "tiny-small");
  EXPECT_TRUE(s.has_chat_template);
  EXPECT_GT(large->info().n_params, 3 * s.n_params);
  EXPECT_EQ(s.n_vocab, large->info().n_vocab);
}

TEST(Model, TheTinyPairSharesAVocabularyAndAByteModelDoesNot) {
  auto small = load_ok(test::tiny_pair().small_path);
  auto large = load_ok(test::tiny_pair().large_path);
  auto bytes = load_ok(test::write_byte_vocab_model("tiny-small", test::make_temp_dir("bv")));
  ASSERT_TRUE(small && large && bytes);
  EXPECT_TRUE(small->shares_vocab_with(*large));
  if (!test::tiny_pair().llama3_vocab) GTEST_SKIP() << "pair uses the byte vocabulary too";
  std::string why;
  EXPECT_FALSE(small->shares_vocab_with(*bytes, &why));
  EXPECT_NE(why.find("sizes differ"), std::string::npos) << why;
}

// Long prompts are tokenized piece by piece between their special tokens (linear instead of llama.cpp's quadratic
// search); the pieces must give exactly the tokens llama.cpp gives the whole text. Checked on the Llama-3 vocabulary
// (byte-level BPE) and on TinyStories' (SentencePiece, which prefixes a space after special tokens).
TEST(Model, PiecewiseTokenizationEqualsLlamaCpps) {
  std::vector<std::shared_ptr<Model>> models = {load_ok(test::tiny_pair().small_path)};
  const auto shared = test::shared_data_dir();
  if (shared && std::filesystem::exists(*shared + "/gguf/stories260K.gguf"))
    models.push_back(load_ok(*shared + "/gguf/stories260K.gguf"));
  std::string chat;
  for (int i = 0; i < 300; ++i)
    chat += std::string("<|start_header_id|>") + (i % 2 ? "assistant" : "user") + "<|end_header_id|>\n\n" +
            "turn " + std::to_string(i) + ": x<y and <|eot_ not a token, <s> </s>  spaces\t\n<|eot_id|>";
  const std::vector<std::string> texts = {
      chat, chat + "trailing text", "   " + chat, "<s>" + chat + "</s>", std::string(5000, '<') + "<|eot_id|>",
      "<|eot_id|><|eot_id|>" + chat + "<|eot_id|>\n\n\n", "plain text with no special tokens at all"};
  for (const auto &m : models) {
    ASSERT_TRUE(m);
    for (const std::string &text : texts)
      for (const bool bos : {true, false}) {
        std::vector<llama_token> whole(text.size() + 2);
        const int32_t n = llama_tokenize(m->vocab(), text.data(), static_cast<int32_t>(text.size()), whole.data(),
                                         static_cast<int32_t>(whole.size()), bos && llama_vocab_get_add_bos(m->vocab()), true);
        ASSERT_GE(n, 0);
        whole.resize(static_cast<size_t>(n));
        auto pieces = m->tokenize(text, bos, true);
        ASSERT_TRUE(pieces.ok());
        EXPECT_EQ(*pieces, whole) << m->info().name << " bos=" << bos << ": " << text.substr(0, 80);
      }
  }
}

TEST(Model, TokenizeRoundTrips) {
  auto m = load_ok(test::tiny_pair().small_path);
  ASSERT_TRUE(m);
  const std::string text = "def add(a, b):\n    return a + b  # 加法";
  auto tokens = m->tokenize(text, /*add_bos=*/false);
  ASSERT_TRUE(tokens.ok());
  EXPECT_FALSE(tokens->empty());
  EXPECT_EQ(m->detokenize(*tokens), text);
  auto with_bos = m->tokenize(text, /*add_bos=*/true);
  EXPECT_EQ(with_bos->size(), tokens->size() + 1);
  if (test::tiny_pair().llama3_vocab) { EXPECT_LT(tokens->size(), text.size() / 2) << "real BPE merges should apply"; }
}

TEST(Model, ByteVocabularyTokenizesEveryByte) {
  auto m = load_ok(test::write_byte_vocab_model("tiny-small", test::make_temp_dir("bv")));
  ASSERT_TRUE(m);
  auto tokens = m->tokenize("héllo", /*add_bos=*/false);
  ASSERT_TRUE(tokens.ok());
  EXPECT_EQ(tokens->size(), 6u); // 'é' is two bytes
  EXPECT_EQ(m->detokenize(*tokens), "héllo");
}

TEST(Model, AppliesItsChatTemplate) {
  auto m = load_ok(test::tiny_pair().small_path);
  ASSERT_TRUE(m);
  auto prompt = m->apply_chat_template({{"system", "Be brief."}, {"user", "What is 2+2?"}});
  ASSERT_TRUE(prompt.ok()) << prompt.status().to_string();
  EXPECT_NE(prompt->find("<|start_header_id|>user<|end_header_id|>"), std::string::npos);
  EXPECT_NE(prompt->find("What is 2+2?<|eot_id|>"), std::string::npos);
  EXPECT_TRUE(prompt->ends_with("<|start_header_id|>assistant<|end_header_id|>\n\n"));
  auto tokens = m->tokenize(*prompt, false, /*parse_special=*/true);
  ASSERT_TRUE(tokens.ok());
  EXPECT_TRUE(m->is_end_of_generation(*m->tokenize("<|eot_id|>", false, true)->begin()));
}

// A formatted chat is tokenized one way on every path: the model's BOS once, whether or not the template wrote it.
TEST(Model, AFormattedChatGetsItsBosOnce) {
  auto m = load_ok(test::tiny_pair().small_path);
  ASSERT_TRUE(m);
  const std::string chat = *m->apply_chat_template({{"user", "What is 2+2?"}});
  auto plain = m->tokenize(chat, /*add_bos=*/false, /*parse_special=*/true);
  auto tokens = m->tokenize_chat(chat);
  ASSERT_TRUE(plain.ok() && tokens.ok());
  const llama_token bos = llama_vocab_bos(m->vocab());
  if (llama_vocab_get_add_bos(m->vocab())) {
    ASSERT_EQ(tokens->size(), plain->size() + 1);
    EXPECT_EQ(tokens->front(), bos);
    // A template that writes the BOS itself does not get a second one.
    const std::string bos_text = m->token_to_piece(bos, /*special=*/true);
    auto written = m->tokenize_chat(bos_text + chat);
    ASSERT_TRUE(written.ok());
    EXPECT_EQ(*written, *tokens);
  } else {
    EXPECT_EQ(*tokens, *plain);
  }
}

TEST(ModelErrors, MissingFile) {
  auto m = Model::load({.path = "/nonexistent/model.gguf"});
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::not_found);
  EXPECT_NE(m.status().message().find("/nonexistent/model.gguf"), std::string::npos);
}

TEST(ModelErrors, NotAGgufFile) {
  const std::string path = test::make_temp_dir("bad") + "/notes.gguf";
  std::ofstream(path) << "this is a text file, not a model";
  auto m = Model::load({.path = path});
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::invalid_file);
  EXPECT_NE(m.status().message().find("not a GGUF file"), std::string::npos);
}

TEST(ModelErrors, DirectoryInsteadOfFile) {
  auto m = Model::load({.path = test::make_temp_dir("dir")});
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::invalid_file);
}

TEST(ModelErrors, TruncatedInTheMetadataOrInTheWeights) {
  const std::string src = test::tiny_pair().large_path;
  const auto size = std::filesystem::file_size(src);
  const std::string dir = test::make_temp_dir("trunc");
  for (size_t cut : {size_t{64}, size_t{2'000'000}, static_cast<size_t>(size * 0.8), static_cast<size_t>(size - 1)}) {
    const std::string path = dir + "/cut-" + std::to_string(cut) + ".gguf";
    copy_prefix(src, path, cut);
    auto m = Model::load({.path = path});
    ASSERT_FALSE(m.ok()) << "a file cut at " << cut << " of " << size << " bytes loaded";
    EXPECT_EQ(m.status().code(), StatusCode::invalid_file);
    EXPECT_NE(m.status().message().find("truncated or corrupt"), std::string::npos);
  }
}

TEST(ModelErrors, CorruptHeader) {
  const std::string path = test::make_temp_dir("corrupt") + "/c.gguf";
  copy_prefix(test::tiny_pair().small_path, path, 4096);
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(4);
    const char garbage[8] = {'\x7f', '\x7f', '\x7f', '\x7f', '\x01', '\x02', '\x03', '\x04'};
    f.write(garbage, sizeof(garbage)); // version and tensor count
  }
  auto m = Model::load({.path = path});
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::invalid_file);
}

} // namespace
} // namespace aio::engine
