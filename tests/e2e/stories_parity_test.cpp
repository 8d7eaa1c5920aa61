// A real pretrained model: ../shared/data/gguf/stories260K.gguf (TinyStories, real weights; see its SOURCES.txt).
// Every strategy the executor runs - plain, prompt lookup, draft (the model drafting for itself) - gives llama.cpp's
// llama-server's greedy tokens, token for token, on the same prompt tokens; and on real story text prompt lookup's
// drafts are accepted (stories repeat their names and phrases).
// NOTE: "token for token" holds up to the batch invariance of llama.cpp's CPU kernels: verifying drafts decodes several
// tokens in one batch, which can move a logit by ~1e-3 on this model, so at a near-tie the argmax can flip. The
// strategies benchmark found one (128 tokens after "The cat and the dog were friends. One day, the cat": PLD departs
// at token 87, where the top two logits differ by 0.0003). These prompts and lengths have no such tie; the
// comparison is deterministic either way (same kernels, same batches every run).
#include <gtest/gtest.h>

#include <filesystem>

#include "exec/batch_engine.h"
#include "support/aio_server.h"
#include "support/paths.h"
#include "support/tiny_models.h"

namespace aio::test {
namespace {
using nlohmann::json;

std::string stories_path() {
  const auto data = shared_data_dir();
  const std::string path = data ? *data + "/gguf/stories260K.gguf" : "";
  return data && std::filesystem::exists(path) ? path : "";
}

engine::GenerateParams greedy(int n) {
  engine::GenerateParams p;
  p.max_tokens = n;
  return p;
}

TEST(StoriesParity, EveryStrategyGivesLlamaServersGreedyTokens) {
  const std::string path = stories_path();
  if (path.empty()) GTEST_SKIP() << "../shared/data/gguf/stories260K.gguf is absent";
  if (LlamaServer::binary().empty()) GTEST_SKIP() << "this build has no llama-server (AIO_LLAMA_TOOLS=OFF)";
  auto model = engine::Model::load({.path = path});
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  EXPECT_FALSE((*model)->info().synthetic);
  auto engine = one_slot_engine(*model, 512);
  ASSERT_TRUE(engine);
  LlamaServer server(path, 512);
  ASSERT_TRUE(server.ready) << server.proc->output();
  httplib::Client client("127.0.0.1", server.port);
  client.set_read_timeout(120, 0);

  int32_t drafted = 0, accepted = 0;
  for (const char *text : {"Once upon a time, there was a little girl named Lily.",
                           "Tom and his dog went to the park. Tom and his dog",
                           "The sun was shining. The birds were singing."}) {
    const auto prompt = (*model)->tokenize(text);
    ASSERT_TRUE(prompt.ok());
    const int n = 48;
    // llama-server on the very same prompt tokens: greedy, no prompt cache between requests, its tokens returned.
    json body = {{"prompt", *prompt}, {"n_predict", n}, {"temperature", 0}, {"top_k", 1}, {"cache_prompt", false},
                 {"return_tokens", true}};
    auto r = client.Post("/completion", body.dump(), "application/json");
    ASSERT_TRUE(r && r->status == 200) << (r ? r->body : "no answer");
    const json answer = json::parse(r->body);
    const std::vector<llama_token> reference = answer.at("tokens").get<std::vector<llama_token>>();
    ASSERT_FALSE(reference.empty());

    for (Strategy s : {Strategy::plain, Strategy::pld, Strategy::draft}) {
      exec::Decoding d{s, {}, s == Strategy::draft ? *model : nullptr};
      auto ours = exec::generate(*engine, *prompt, greedy(n), d);
      ASSERT_TRUE(ours.ok()) << ours.status().to_string();
      EXPECT_EQ(ours->tokens, reference) << strategy_name(s) << ": " << text;
      EXPECT_EQ(ours->text, answer.at("content").get<std::string>()) << strategy_name(s);
      if (s == Strategy::pld) {
        drafted += ours->n_drafted;
        accepted += ours->n_accepted;
      }
      if (s == Strategy::draft) EXPECT_EQ(ours->n_accepted, ours->n_drafted) << "a model drafting for itself";
    }
  }
  EXPECT_GT(accepted, 0) << "prompt lookup found nothing to reuse in real story text (drafted " << drafted << ")";
}

} // namespace
} // namespace aio::test
