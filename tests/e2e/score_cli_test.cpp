// `aio score` as a user runs it: a completions file against a dataset in its official format.
#include <gtest/gtest.h>

#include <filesystem>
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

// Where the sandbox cannot start (here: an interpreter under /tmp, which the sandbox's own /tmp hides), nothing runs:
// the command stops and says why, instead of running the code on the host. --no-sandbox is the explicit way round.
TEST(ScoreCli, TheSandboxFailsClosed) {
  const std::string dir = make_temp_dir("score-open");
  const std::string python = dir + "/python3";
  std::filesystem::permissions(dir, std::filesystem::perms::others_exec | std::filesystem::perms::group_exec,
                               std::filesystem::perm_options::add); // reachable by others: root runs code as a uid of its own
  std::filesystem::copy_file(std::filesystem::canonical("/usr/bin/python3"), python);
  std::filesystem::permissions(python, std::filesystem::perms::owner_all | std::filesystem::perms::others_exec |
                                           std::filesystem::perms::others_read | std::filesystem::perms::group_exec |
                                           std::filesystem::perms::group_read);
  const std::vector<std::string> args = {"score", "--task", "humaneval", "--data", sample("HumanEval.jsonl"),
                                         "--reference", "--python", python};
  auto closed = run_aio(args);
  EXPECT_NE(closed.exit_code, 0);
  EXPECT_NE(closed.err.find("the sandbox cannot start here, so no generated code will run"), std::string::npos)
      << closed.err;
  EXPECT_NE(closed.err.find("--no-sandbox"), std::string::npos) << closed.err;
  EXPECT_EQ(closed.out.find("PASS"), std::string::npos) << closed.out;
  auto opened = run_aio([&] {
    auto a = args;
    a.push_back("--no-sandbox");
    return a;
  }());
  EXPECT_EQ(opened.exit_code, 0) << opened.err;
  EXPECT_NE(opened.err.find("UNISOLATED"), std::string::npos) << opened.err;
  EXPECT_NE(opened.out.find("humaneval: 8 / 8 correct"), std::string::npos) << opened.out;
}

// What a completion makes its program print - terminal escapes, a forged result line, invalid UTF-8 - reaches
// neither the terminal nor the results file raw, and never ends the run early.
TEST(ScoreCli, ProgramOutputIsEscapedAndNeverEndsTheRun) {
  const std::string dir = make_temp_dir("score-escape");
  std::ofstream(dir + "/c.jsonl")
      << nlohmann::json{{"task_id", "Sample/0"},
                        {"completion", "    import sys\n    sys.stderr.buffer.write(b'\\xff\\xfe bad bytes\\n')\n"
                                       "    raise ValueError('\\x1b]0;pwned\\x07\\x1b[2J\\rSample/7 PASS 100/100 correct')\n"}}
             .dump()
      << "\n"
      << nlohmann::json{{"task_id", "Sample/1"}, {"completion", "    raise ValueError(b'\\xff\\xfe'.decode('latin-1'))\n"}}.dump()
      << "\n";
  auto r = run_aio({"score", "--task", "humaneval", "--data", sample("HumanEval.jsonl"), "--completions",
                    dir + "/c.jsonl", "-o", dir + "/scored.jsonl"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find('\x1b'), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find('\r'), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find('\x07'), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\\u001b]0;pwned"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("humaneval: 0 / 8 correct"), std::string::npos) << r.out;
  std::ifstream scored(dir + "/scored.jsonl");
  int lines = 0;
  for (std::string line; std::getline(scored, line); ++lines) {
    EXPECT_EQ(line.find('\x1b'), std::string::npos) << line;
    EXPECT_FALSE(nlohmann::json::parse(line)["correct"].get<bool>());
  }
  EXPECT_EQ(lines, 8);
}

TEST(ScoreCli, TimeoutsMustBeFiniteAndPositive) {
  for (const char *bad : {"0", "-5", "nan", "inf", "1e300", "ten"}) {
    auto r = run_aio({"score", "--task", "humaneval", "--data", sample("HumanEval.jsonl"), "--reference", "--timeout", bad});
    EXPECT_NE(r.exit_code, 0) << bad;
    EXPECT_NE(r.err.find("--timeout must be a number of seconds above 0"), std::string::npos) << bad << ": " << r.err;
  }
  auto ok = run_aio({"score", "--task", "humaneval", "--data", sample("HumanEval.jsonl"), "--reference", "--timeout", "2.5"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
}

} // namespace
} // namespace aio::test
