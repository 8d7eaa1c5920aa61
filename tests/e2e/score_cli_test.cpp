// `aio score` as a user runs it: a completions file against a dataset in its official format.
#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "support/paths.h"
#include "support/process.h"

namespace aio::test {
namespace {

std::string sample(const std::string &name) { return std::string(AIO_SOURCE_DIR) + "/data/sample/" + name; }

TEST(ScoreCli, CompletionsAreScoredPerItemWithATotal) {
  const std::string dir = make_temp_dir("score");
  std::ofstream(dir + "/c.jsonl") << R"({"task_id": "Sample/0", "completion": "    return [x + y for x, y in zip(xs, ys)]\n"})"
                                  << "\n"
                                  << R"({"task_id": "Sample/1", "completion": "    return text == text[::-1]\n"})" << "\n"
                                  << R"({"task_id": "Sample/2", "completion": "    while True:\n        pass\n"})" << "\n";
  auto r = run_aio({"score", "--task", "humaneval", "--data", sample("HumanEval.jsonl"), "--completions",
                    dir + "/c.jsonl", "--timeout", "2", "-o", dir + "/scored.jsonl"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Sample/0                     PASS"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Sample/1                     FAIL"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("timed out"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("humaneval: 1 / 8 correct = 12.50% (pass@1)"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("sandbox: "), std::string::npos);
  std::ifstream scored(dir + "/scored.jsonl");
  int lines = 0;
  for (std::string line; std::getline(scored, line); ++lines) EXPECT_TRUE(nlohmann::json::parse(line).contains("correct"));
  EXPECT_EQ(lines, 8);
}

TEST(ScoreCli, ReferenceAnswersScoreFull) {
  auto r = run_aio({"score", "--task", "gsm8k", "--data", sample("gsm8k.jsonl"), "--reference", "-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("gsm8k: 8 / 8 correct = 100.00%"), std::string::npos) << r.out;
}

TEST(ScoreCli, MistakesAreExplained) {
  const std::string dir = make_temp_dir("score-bad");
  std::ofstream(dir + "/unknown.jsonl") << R"({"task_id": "HumanEval/0", "completion": "x"})" << "\n";
  std::ofstream(dir + "/twice.jsonl") << R"({"id": "a", "completion": "1"})" << "\n" << R"({"id": "a", "completion": "2"})" << "\n";
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--task", "humaneval", "--data", sample("HumanEval.jsonl"), "--completions", dir + "/unknown.jsonl"},
       "id 'HumanEval/0' is not an item of"},
      {{"--task", "gsm8k", "--data", sample("gsm8k.jsonl"), "--completions", dir + "/twice.jsonl"},
       "twice.jsonl:2: id a appears twice"},
      {{"--task", "trivia", "--data", sample("gsm8k.jsonl"), "--reference"}, "unknown task 'trivia'"},
      {{"--task", "gsm8k", "--data", sample("gsm8k.jsonl")}, "exactly one of --completions"},
      {{"--task", "mmlu", "--data", dir + "/nowhere", "--reference"}, "no such file or folder"},
  };
  for (const auto &[args, expect] : cases) {
    std::vector<std::string> argv = {"score"};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = run_aio(argv);
    EXPECT_NE(r.exit_code, 0) << expect;
    EXPECT_NE(r.err.find(expect), std::string::npos) << r.err;
  }
}

// An empty dataset or a folder given as the completions file is an error that says so, never "0 / 0 = -nan%" with
// exit 0.
TEST(ScoreCli, EmptyDataAndFolderCompletionsAreErrors) {
  const std::string dir = make_temp_dir("score-empty");
  std::ofstream(dir + "/empty.csv") << "";
  auto empty = run_aio({"score", "--task", "mmlu", "--data", dir + "/empty.csv", "--reference"});
  EXPECT_NE(empty.exit_code, 0);
  EXPECT_NE(empty.err.find("holds no mmlu items"), std::string::npos) << empty.err;
  EXPECT_EQ(empty.out.find("nan"), std::string::npos) << empty.out;
  auto folder = run_aio({"score", "--task", "gsm8k", "--data", std::string(AIO_SOURCE_DIR) + "/data/sample/gsm8k.jsonl",
                         "--completions", dir});
  EXPECT_NE(folder.exit_code, 0);
  EXPECT_NE(folder.err.find("is a folder"), std::string::npos) << folder.err;
}

} // namespace
} // namespace aio::test
