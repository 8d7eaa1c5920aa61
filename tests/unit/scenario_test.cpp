// Scenarios and workloads: the built-in mixes, their errors, reproducible sampling in the right shares, long-context
// padding that keeps HumanEval programs valid, and the results log that survives a crash.
#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "eval/results_log.h"
#include "eval/scenario.h"
#include "eval/scoring.h"
#include "support/paths.h"

namespace aio::eval {
namespace {

std::string sample(const std::string &name) { return std::string(AIO_SOURCE_DIR) + "/data/sample/" + name; }

// About one token per word: enough to test padding without a model.
int32_t words(const std::string &text) {
  int32_t n = 0;
  bool in_word = false;
  for (char c : text) {
    const bool w = !std::isspace(static_cast<unsigned char>(c));
    n += w && !in_word;
    in_word = w;
  }
  return n;
}

std::map<Task, std::vector<TaskItem>> sample_data() {
  return {{Task::humaneval, *load_task(Task::humaneval, sample("HumanEval.jsonl"))},
          {Task::gsm8k, *load_task(Task::gsm8k, sample("gsm8k.jsonl"))},
          {Task::ceval, *load_task(Task::ceval, sample("ceval.csv"))}};
}

TEST(Scenario, BuiltInMixesAreThePapers) {
  auto a = load_scenario("A");
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  ASSERT_EQ(a->mix.size(), 3u);
  EXPECT_EQ(a->mix[0].task, Task::humaneval);
  EXPECT_DOUBLE_EQ(a->mix[0].share, 0.7);
  auto b = load_scenario("B");
  ASSERT_TRUE(b.ok());
  EXPECT_DOUBLE_EQ(b->mix[1].share, 0.4);
  auto c = load_scenario("C");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->mix[0].context_tokens, 4096);
  EXPECT_EQ(c->mix[1].context_tokens, 0);
  c->set_long_context(512);
  EXPECT_EQ(c->mix[0].context_tokens, 512);
  EXPECT_FALSE(c->tasks.at(Task::humaneval).chat) << "code is continued as text";
  EXPECT_TRUE(c->tasks.at(Task::ceval).chat);
}

TEST(Scenario, FileMistakesAreExplained) {
  const std::string dir = test::make_temp_dir("scen");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"mix: [{task: humaneval, share: 0.5}]\n", "add up to 0.5"},
      {"mix: [{task: poetry, share: 1}]\n", "unknown task 'poetry'"},
      {"mix: [{task: gsm8k, share: 1, context_tokens: 4}]\n", "at least 16"},
      {"mix: [{task: gsm8k}]\n", "needs 'task' and 'share'"},
      {"description: x\n", "needs a 'mix'"},
      {"mix: [{task: gsm8k, share: 1}]\ntasks: {gsm8k: {format: poem}}\n", "format must be chat or completion"},
  };
  for (const auto &[yaml, expect] : cases) {
    std::ofstream(dir + "/s.yaml") << yaml;
    auto s = load_scenario(dir + "/s.yaml");
    ASSERT_FALSE(s.ok()) << yaml;
    EXPECT_NE(s.status().message().find(expect), std::string::npos) << s.status().message();
  }
  EXPECT_NE(load_scenario("Z").status().message().find("built in are A, B, C"), std::string::npos);
}

TEST(Scenario, WorkloadsHaveTheSharesAndAreReproducible) {
  auto a = *load_scenario("A");
  auto w = build_workload(a, sample_data(), 20, 7, words);
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  std::map<Task, int> count;
  std::set<std::string> ids;
  for (const auto &item : *w) {
    ++count[item.item.task];
    ids.insert(item.id);
    EXPECT_EQ(item.params.max_tokens, a.tasks.at(item.item.task).max_tokens);
  }
  EXPECT_EQ(count[Task::humaneval], 14);
  EXPECT_EQ(count[Task::ceval], 4);
  EXPECT_EQ(count[Task::gsm8k], 2);
  EXPECT_EQ(ids.size(), 20u) << "ids are unique even when an item is reused (#2)";
  EXPECT_TRUE(ids.count("humaneval/Sample/0#2") || ids.count("humaneval/Sample/1#2"));

  auto again = build_workload(a, sample_data(), 20, 7, words);
  auto other = build_workload(a, sample_data(), 20, 8, words);
  std::vector<std::string> x, y, z;
  for (const auto &i : *w) x.push_back(i.id);
  for (const auto &i : *again) y.push_back(i.id);
  for (const auto &i : *other) z.push_back(i.id);
  EXPECT_EQ(x, y);
  EXPECT_NE(x, z);
  // Largest remainder: 7 requests of A = 4.9 / 1.4 / 0.7 -> 5 / 1 / 1.
  auto seven = *build_workload(a, sample_data(), 7, 1, words);
  std::map<Task, int> c7;
  for (const auto &i : seven) ++c7[i.item.task];
  EXPECT_EQ(c7[Task::humaneval], 5);
  EXPECT_EQ(c7[Task::ceval], 1);
  EXPECT_EQ(c7[Task::gsm8k], 1);
}

TEST(Scenario, LongContextPaddingKeepsProgramsValid) {
  auto c = *load_scenario("C");
  c.set_long_context(300);
  auto w = build_workload(c, sample_data(), 4, 3, words);
  ASSERT_TRUE(w.ok());
  auto sandbox = *sandbox::Sandbox::create();
  const Scorer scorer(&sandbox, sandbox::SandboxLimits{});
  int padded = 0;
  for (const auto &item : *w) {
    if (item.item.task != Task::humaneval) {
      EXPECT_EQ(item.context_tokens, 0);
      continue;
    }
    ++padded;
    EXPECT_EQ(item.context_tokens, 300);
    EXPECT_GE(words(item.item.prompt), 300);
    EXPECT_LT(words(item.item.prompt), 340);
    EXPECT_GT(item.item.n_padding_tokens, 200);
    EXPECT_NE(item.id.find("@300"), std::string::npos);
    // The filler is Python comments: the padded prompt + the reference still passes its tests.
    EXPECT_TRUE(scorer.score(item.item, Scorer::reference_completion(item.item)).correct) << item.item.prompt;
  }
  EXPECT_EQ(padded, 2);
}

TEST(Scenario, DatasetsAreFoundOrTheSearchIsExplained) {
  auto a = *load_scenario("A");
  auto found = locate_datasets(a, sample(""), {});
  ASSERT_TRUE(found.ok()) << found.status().to_string();
  EXPECT_EQ(found->at(Task::humaneval), sample("HumanEval.jsonl"));
  auto missing = locate_datasets(a, "/nonexistent", {});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("looked for HumanEval.jsonl.gz"), std::string::npos);
  EXPECT_NE(missing.status().message().find("--dataset humaneval=PATH"), std::string::npos);
  auto over = locate_datasets(a, "/nonexistent", {{Task::humaneval, "h"}, {Task::ceval, "c"}, {Task::gsm8k, "g"}});
  ASSERT_TRUE(over.ok());
  EXPECT_EQ(over->at(Task::ceval), "c");
}

// A record of a request that failed by itself (no route): the smallest complete record.
ResultRecord failed(const std::string &id, const std::string &error) {
  ResultRecord r;
  r.scenario = "A";
  r.policy = "aio";
  r.id = id;
  r.task = "gsm8k";
  r.error = error;
  return r;
}

TEST(ResultsLogTest, AppendsResumesAndRepairsATornLine) {
  const std::string path = test::make_temp_dir("log") + "/r.jsonl";
  {
    auto log = ResultsLog::open(path, false);
    ASSERT_TRUE(log.ok()) << log.status().to_string();
    ASSERT_TRUE(log->append(failed("x", "e1")).ok());
    ASSERT_TRUE(log->append(failed("y", "e2")).ok());
  }
  EXPECT_FALSE(ResultsLog::open(path, false).ok()) << "an existing run is not overwritten without --resume";
  std::ofstream(path, std::ios::app) << R"({"scenario": "A", "policy": "aio", "id": "z", "e)"; // died mid-write
  {
    auto log = ResultsLog::open(path, true);
    ASSERT_TRUE(log.ok()) << log.status().to_string();
    EXPECT_EQ(log->n_done(), 2u);
    EXPECT_TRUE(log->done(ResultsLog::key("A", "aio", "y")));
    EXPECT_FALSE(log->done(ResultsLog::key("A", "aio", "z")));
    ASSERT_TRUE(log->append(failed("z", "e3")).ok());
  }
  auto records = read_results(path);
  ASSERT_TRUE(records.ok()) << records.status().to_string();
  ASSERT_EQ(records->size(), 3u);
  EXPECT_EQ((*records)[2].error, "e3");
}

// A complete JSON line that is not a record (e.g. `{}`) is refused with its line number, by --resume and the readers.
TEST(ResultsLogTest, ALineThatIsNotARecordIsRefusedByName) {
  const std::string path = test::make_temp_dir("log") + "/r.jsonl";
  {
    auto log = ResultsLog::open(path, false);
    ASSERT_TRUE(log.ok());
    ASSERT_TRUE(log->append(failed("x", "e1")).ok());
  }
  std::ofstream(path, std::ios::app) << "{}\n";
  auto resumed = ResultsLog::open(path, true);
  ASSERT_FALSE(resumed.ok());
  EXPECT_NE(resumed.status().message().find("r.jsonl:2"), std::string::npos) << resumed.status().message();
  EXPECT_NE(resumed.status().message().find("scenario is missing"), std::string::npos) << resumed.status().message();
  EXPECT_FALSE(read_results(path).ok());
}

} // namespace
} // namespace aio::eval
