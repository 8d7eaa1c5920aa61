// The `aio` binary as a user runs it: exit codes, messages on stderr, output on stdout.
#include <gtest/gtest.h>

#include <sys/stat.h>

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

ProcessResult aio(std::vector<std::string> args) { return run_aio(std::move(args)); }

std::vector<json> json_lines(const std::string &out) {
  std::vector<json> lines;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(json::parse(line));
  return lines;
}

TEST(Cli, HelpForEverySubcommand) {
  auto top = aio({"--help"});
  EXPECT_EQ(top.exit_code, 0);
  for (const char *sub : {"synth", "info", "generate"}) {
    EXPECT_NE(top.out.find(sub), std::string::npos) << sub;
    auto r = aio({sub, "--help"});
    EXPECT_EQ(r.exit_code, 0) << sub;
    EXPECT_NE(r.out.find("Usage"), std::string::npos) << sub;
  }
}

TEST(Cli, UsageErrorsExitWithTwo) {
  EXPECT_EQ(aio({}).exit_code, 2);
  EXPECT_EQ(aio({"frobnicate"}).exit_code, 2);
  auto r = aio({"generate", "--prompt", "hi"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--model"), std::string::npos);
  r = aio({"synth", "--preset", "no-such-preset", "-o", "/tmp/x.gguf"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("aio synth --list"), std::string::npos);
}

TEST(Cli, SynthThenInfo) {
  const std::string out = make_temp_dir("cli") + "/m.gguf";
  auto r = aio({"synth", "--preset", "tiny-small", "--type", "q4_0", "--seed", "3", "--tokenizer", "byte", "-o", out});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("SYNTHETIC"), std::string::npos);
  EXPECT_TRUE(std::filesystem::exists(out));

  auto again = aio({"synth", "--preset", "tiny-small", "--tokenizer", "byte", "-o", out});
  EXPECT_EQ(again.exit_code, 2);
  EXPECT_NE(again.err.find("--force"), std::string::npos);

  auto info = aio({"info", out, "--json"});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  json j = json::parse(info.out);
  EXPECT_EQ(j["arch"], "llama");
  EXPECT_EQ(j["file_type"], "Q4_0");
  EXPECT_EQ(j["n_vocab"], 261);
  EXPECT_EQ(j["synthetic"], true);
  auto text = aio({"info", out});
  EXPECT_NE(text.out.find("SYNTHETIC"), std::string::npos);
}

TEST(Cli, GenerateStreamsTextAndReportsJson) {
  const std::string small = tiny_pair().small_path;
  auto js = aio({"generate", "-m", small, "-p", "def add(a, b):", "-n", "12", "--ignore-eos", "-t", "1", "--json"});
  ASSERT_EQ(js.exit_code, 0) << js.err;
  auto lines = json_lines(js.out);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["n_generated"], 12);
  EXPECT_EQ(lines[0]["synthetic"], true);
  EXPECT_GT(lines[0]["decode_tokens_per_second"].get<double>(), 0);
  EXPECT_GT(lines[0]["peak_rss_bytes"].get<double>(), 0);

  auto plain = aio({"generate", "-m", small, "-p", "def add(a, b):", "-n", "12", "--ignore-eos", "-t", "1"});
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_EQ(plain.out, lines[0]["text"].get<std::string>() + "\n");
  EXPECT_NE(plain.err.find("decode"), std::string::npos);
  EXPECT_NE(plain.err.find("SYNTHETIC"), std::string::npos);
}

TEST(Cli, BothModelsResidentGiveTheSameTokensAsEachAlone) {
  const auto &pair = tiny_pair();
  const std::vector<std::string> common = {"-p", "Solve: 12 * 7 =", "-n", "10", "--ignore-eos", "-t", "1", "--json"};
  auto run = [&](std::vector<std::string> models) {
    std::vector<std::string> args = {"generate"};
    for (auto &m : models) args.insert(args.end(), {"-m", m});
    args.insert(args.end(), common.begin(), common.end());
    auto r = aio(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return json_lines(r.out);
  };
  auto both = run({pair.small_path, pair.large_path});
  auto small = run({pair.small_path});
  auto large = run({pair.large_path});
  ASSERT_EQ(both.size(), 2u);
  EXPECT_EQ(both[0]["tokens"], small[0]["tokens"]);
  EXPECT_EQ(both[1]["tokens"], large[0]["tokens"]);
}

TEST(Cli, BadModelFilesFailCleanly) {
  const std::string dir = make_temp_dir("cli-bad");
  auto missing = aio({"generate", "-m", dir + "/absent.gguf", "-p", "hi"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("not found"), std::string::npos);

  const std::string cut = dir + "/cut.gguf";
  {
    std::ifstream in(tiny_pair().large_path, std::ios::binary);
    std::string data(std::filesystem::file_size(tiny_pair().large_path) / 2, '\0');
    in.read(data.data(), static_cast<std::streamsize>(data.size()));
    std::ofstream(cut, std::ios::binary) << data;
  }
  auto truncated = aio({"generate", "-m", cut, "-p", "hi"});
  EXPECT_EQ(truncated.exit_code, 1);
  EXPECT_NE(truncated.err.find("truncated or corrupt"), std::string::npos);

  const std::string junk = dir + "/junk.gguf";
  std::ofstream(junk) << "not a model";
  auto not_gguf = aio({"info", junk});
  EXPECT_EQ(not_gguf.exit_code, 1);
  EXPECT_NE(not_gguf.err.find("not a GGUF file"), std::string::npos);
}

TEST(Cli, PromptLongerThanTheContextFails) {
  const std::string file = make_temp_dir("cli-long") + "/prompt.txt";
  {
    std::ofstream out(file);
    for (int i = 0; i < 600; ++i) out << "word ";
  }
  auto r = aio({"generate", "-m", tiny_pair().small_path, "--prompt-file", file, "--ctx-size", "256"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("may use"), std::string::npos);
  EXPECT_TRUE(r.out.empty());
}

// `aio generate` is unchanged by the move to one executor: these tokens were produced by the single-sequence decode
// loop that came before it (commit ea063c4) and are produced again by the batched engine with one slot - sampled (the
// llama.cpp sampler chain, seeded), greedy, and on the real TinyStories model when ../shared is present.
TEST(GenerateCli, OutputIsPinnedAcrossTheExecutorRewrite) {
  const std::string dir = make_temp_dir("pin");
  const std::string model = dir + "/tiny-large-byte-11.gguf";
  ASSERT_EQ(aio({"synth", "--preset", "tiny-large", "--tokenizer", "byte", "--seed", "11", "-o", model}).exit_code, 0);
  auto tokens = [&](const std::string &path, std::vector<std::string> extra) {
    std::vector<std::string> args = {"generate", "-m", path, "-t", "1", "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = aio(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.exit_code == 0 ? nlohmann::json::parse(r.out)["tokens"].get<std::vector<int>>() : std::vector<int>{};
  };
  EXPECT_EQ(tokens(model, {"-p", "def fibonacci(n):", "-n", "24", "--ignore-eos", "--temp", "0.8", "--seed", "5"}),
            (std::vector<int>{175, 183, 145, 174, 235, 63,  0,   164, 124, 216, 44, 139,
                              130, 132, 14,  130, 29,  167, 63,  17,  206, 206, 0,  201}));
  EXPECT_EQ(tokens(model, {"-p", "def fibonacci(n):", "-n", "24", "--ignore-eos"}), std::vector<int>(24, 247));

  const auto shared = shared_data_dir();
  const std::string stories = shared ? *shared + "/gguf/stories260K.gguf" : "";
  if (stories.empty() || !std::filesystem::exists(stories)) GTEST_SKIP() << "stories260K.gguf is absent";
  EXPECT_EQ(tokens(stories, {"-p", "Once upon a time", "-n", "32"}),
            (std::vector<int>{432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338, 401, 396, 267, 337,
                              410, 408, 419, 292, 411, 322, 265, 282, 295, 433, 426, 385, 328, 432, 358, 394}));
  EXPECT_EQ(tokens(stories, {"-p", "Once upon a time", "-n", "32", "--temp", "0.9", "--seed", "3"}),
            (std::vector<int>{432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338, 401, 396, 267, 282,
                              323, 282, 417, 429, 413, 425, 276, 419, 335, 311, 357, 426, 385, 328, 432, 317}));
}

// Every path a user names is checked before it is read: a folder, a symbolic-link loop or a pipe given where a file
// belongs is a clear error with exit 1 or 2 - never an abort (these once died with an uncaught std::ios_failure).
TEST(Cli, LoadersNeverAbortOnPathsThatAreNotFiles) {
  const std::string dir = make_temp_dir("notfiles");
  const std::string folder = dir + "/a-folder", loop = dir + "/loop-a", fifo = dir + "/a-fifo";
  std::filesystem::create_directory(folder);
  std::filesystem::create_symlink(dir + "/loop-b", loop);
  std::filesystem::create_symlink(loop, dir + "/loop-b");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const std::string sample = std::string(AIO_SOURCE_DIR) + "/data/sample";
  struct Case {
    std::vector<std::string> args;
    const char *says;
  };
  const std::vector<Case> cases = {
      {{"route", "--config", folder, "-p", "hi"}, "is a folder"},
      {{"route", "--config", loop, "-p", "hi"}, "symbolic-link loop"},
      {{"route", "--config", fifo, "-p", "hi"}, "not a regular file"},
      {{"serve", "--config", folder, "--port", "0"}, "is a folder"},
      {{"report", folder}, "is a folder"},
      {{"plan", "--profile", folder}, "is a folder"},
      {{"bench", "--config", serve_config(), "--scenario", "A", "--data", sample, "-o", folder, "--resume"},
       "is a folder"},
      {{"generate", "-m", folder, "--prompt-file", folder}, "is a folder"},
  };
  for (const Case &c : cases) {
    auto r = aio(c.args);
    std::string line;
    for (const auto &a : c.args) line += a + " ";
    EXPECT_TRUE(r.exit_code == 1 || r.exit_code == 2) << line << "exit " << r.exit_code << "\n" << r.err;
    EXPECT_NE(r.err.find(c.says), std::string::npos) << line << r.err;
  }
}

} // namespace
} // namespace aio::test
