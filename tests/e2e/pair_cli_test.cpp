// Two GGUFs, no YAML: `aio serve|generate|route --small A --large B` and `aio config init`, as a new user runs them.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "support/aio_server.h"
#include "support/paths.h"
#include "support/process.h"
#include "support/tiny_models.h"

namespace aio::test {
namespace {
using nlohmann::json;
namespace fs = std::filesystem;

std::vector<std::string> pair_args() { return {"--small", tiny_pair().small_path, "--large", tiny_pair().large_path}; }

std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string> &b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::string file_text(const std::string &path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(PairCli, ServeWithTwoGgufsAnswersAndRoutesWithTheBuiltInProbe) {
  AioServer server(with(pair_args(), {"--slots", "1"}), AioServer::kNoConfig);
  ASSERT_GT(server.port, 0) << server.proc->output();
  auto code = server.chat(chat_body("Write a Python function that reverses a linked list."));
  ASSERT_TRUE(code) << server.proc->output();
  ASSERT_EQ(code->status, 200) << code->body;
  EXPECT_EQ(code->get_header_value("x-aio-model"), "small"); // the aio policy: confident short code -> small
  EXPECT_EQ(code->get_header_value("x-aio-category"), "code");
  auto qa = server.chat(chat_body("What is the capital of Australia?"));
  ASSERT_TRUE(qa);
  ASSERT_EQ(qa->status, 200) << qa->body;
  EXPECT_EQ(qa->get_header_value("x-aio-model"), "large");
}

TEST(PairCli, ConfigInitWritesTheConfigThePairFlagsServe) {
  const std::string dir = make_temp_dir("config-init");
  const std::string path = dir + "/aio.yaml";
  auto r = run_aio(with({"config", "init", "-o", path}, pair_args()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("aio serve --config " + path), std::string::npos) << r.out;
  const std::string text = file_text(path);
  EXPECT_NE(text.find("\"" + fs::absolute(tiny_pair().small_path).lexically_normal().string() + "\""),
            std::string::npos) << text;
  EXPECT_NE(text.find("policy: aio"), std::string::npos);
  EXPECT_NE(text.find("fasttext_model: builtin"), std::string::npos);

  // The written file and the two flags route a request alike (same policy, probe and models).
  for (const char *prompt : {"def fib(n): # complete this Python function", "Why is the sky blue?",
                             "A train travels 60 km in 1.5 hours. What is its average speed?"}) {
    auto from_file = run_aio({"route", "--config", path, "-p", prompt, "--chat", "--json"});
    auto from_flags = run_aio(with({"route", "-p", prompt, "--chat", "--json"}, pair_args()));
    ASSERT_EQ(from_file.exit_code, 0) << from_file.err;
    ASSERT_EQ(from_flags.exit_code, 0) << from_flags.err;
    const json a = json::parse(from_file.out), b = json::parse(from_flags.out);
    EXPECT_EQ(a["route"], b["route"]) << prompt;
    EXPECT_EQ(a["probe"]["distribution"], b["probe"]["distribution"]) << prompt;
  }

  // An existing file is kept unless --force; '-' prints the config instead of writing one.
  auto again = run_aio(with({"config", "init", "-o", path}, pair_args()));
  EXPECT_EQ(again.exit_code, 2);
  EXPECT_NE(again.err.find("--force"), std::string::npos) << again.err;
  EXPECT_EQ(run_aio(with({"config", "init", "--force", "-o", path}, pair_args())).exit_code, 0);
  auto printed = run_aio(with({"config", "init", "-o", "-"}, pair_args()));
  ASSERT_EQ(printed.exit_code, 0) << printed.err;
  EXPECT_EQ(printed.out, text);
  // A directory that does not exist: a clear error, nothing half-written.
  auto bad = run_aio(with({"config", "init", "-o", dir + "/missing/aio.yaml"}, pair_args()));
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("cannot write"), std::string::npos) << bad.err;
}

TEST(PairCli, GenerateTakesThePair) {
  auto r = run_aio(with({"generate", "-p", "What is 2 + 2?", "--chat", "-n", "4", "--json"}, pair_args()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_EQ(j["aio"]["route"]["policy"], "aio");
  EXPECT_GE(j["tokens"].size(), 1u);
  EXPECT_LE(j["tokens"].size(), 4u);
}

TEST(PairCli, ModelsWithDifferentTokenizersAreRefusedWithTheReason) {
  if (!tiny_pair().llama3_vocab) GTEST_SKIP() << "the Llama-3 tokenizer was not fetched: the tiny pair has the byte one";
  const std::string other = write_byte_vocab_model("tiny-large", make_temp_dir("mismatch"));
  for (const std::vector<std::string> &cmd : std::vector<std::vector<std::string>>{
           {"serve", "--port", "0"}, {"route", "-p", "hi"}, {"config", "init", "-o", "-"}}) {
    auto r = run_aio(with(cmd, {"--small", tiny_pair().small_path, "--large", other}));
    EXPECT_EQ(r.exit_code, 2) << cmd[0] << ": " << r.err;
    EXPECT_NE(r.err.find("do not share a tokenizer"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("vocab"), std::string::npos) << r.err; // the first difference is named
  }
}

TEST(PairCli, FlagMistakesAreUsageErrors) {
  // Both a config and the pair; half a pair; a missing file (named with its flag); neither.
  auto both = run_aio(with({"route", "-p", "hi", "--config", "aio.yaml"}, pair_args()));
  EXPECT_EQ(both.exit_code, 2);
  EXPECT_NE(both.err.find("excludes"), std::string::npos) << both.err;
  auto half = run_aio({"serve", "--small", tiny_pair().small_path});
  EXPECT_EQ(half.exit_code, 2);
  EXPECT_NE(half.err.find("--large"), std::string::npos) << half.err;
  auto missing = run_aio({"route", "-p", "hi", "--small", "/nonexistent/a.gguf", "--large", tiny_pair().large_path});
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find("--small"), std::string::npos) << missing.err;
  EXPECT_NE(missing.err.find("/nonexistent/a.gguf"), std::string::npos) << missing.err;
  auto neither = run_aio({"route", "-p", "hi"});
  EXPECT_EQ(neither.exit_code, 2);
  EXPECT_NE(neither.err.find("--small SMALL.gguf --large LARGE.gguf"), std::string::npos) << neither.err;
}

} // namespace
} // namespace aio::test
