// `aio route`, `aio generate --config` and `aio probe` as a user runs them.
#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "support/paths.h"
#include "support/process.h"
#include "support/tiny_models.h"

namespace aio::test {
namespace {
using nlohmann::json;

ProcessResult aio(std::vector<std::string> args) { return run_aio(std::move(args)); }

std::string config(const std::string &probe_kind) {
  const std::string path = make_temp_dir("cfg") + "/aio.yaml";
  std::ofstream(path) << "models:\n  small: {path: " << tiny_pair().small_path << ", n_ctx: 1024}\n"
                      << "  large: {path: " << tiny_pair().large_path << ", n_ctx: 1024}\n"
                      << "probe: {kind: " << probe_kind << ", fasttext_model: builtin}\nthreads: 1\n"
                      // A policy that reads the probe (for the strategy) and sends everything to the small model.
                      << "policies:\n  probe-then-small:\n    rules:\n"
                      << "      - {when: {category: math}, route: {model: small, strategy: pld}}\n"
                      << "      - {route: {model: small, strategy: plain}}\n";
  return path;
}

TEST(RouteCli, CodeGoesSmallAndQuestionsGoLargeWithTheFastTextProbe) {
  const std::string cfg = config("fasttext");
  auto code = aio({"route", "--config", cfg, "-p", "Write a Python function that reverses a linked list.", "--json"});
  ASSERT_EQ(code.exit_code, 0) << code.err;
  json c = json::parse(code.out);
  EXPECT_EQ(c["probe"]["category"], "code");
  EXPECT_EQ(c["probe"]["entropy_unit"], "bits");
  EXPECT_EQ(c["route"]["model"], "small");
  EXPECT_EQ(c["route"]["strategy"], "plain");
  EXPECT_LT(c["timings_ms"]["route"].get<double>(), 5.0); // sanity, not a timing threshold

  auto qa = aio({"route", "--config", cfg, "-p", "Which planet is largest?\nA. Mars\nB. Jupiter\nC. Venus\nD. Earth\nAnswer:"});
  ASSERT_EQ(qa.exit_code, 0) << qa.err;
  EXPECT_NE(qa.out.find("category     qa"), std::string::npos) << qa.out;
  EXPECT_NE(qa.out.find("large / pld"), std::string::npos) << qa.out;
}

TEST(RouteCli, PolicyFlagAndErrors) {
  const std::string cfg = config("fasttext");
  auto r = aio({"route", "--config", cfg, "-p", "hello", "--policy", "static-large", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["route"]["model"], "large");
  auto unknown = aio({"route", "--config", cfg, "-p", "hello", "--policy", "fastest"});
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_NE(unknown.err.find("no policy named 'fastest'"), std::string::npos) << unknown.err;
  auto missing = aio({"route", "--config", "/nonexistent/aio.yaml", "-p", "hello"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("config file not found"), std::string::npos);
}

TEST(GenerateCli, ConfigRoutesGeneratesAndPrintsTheRouteRecord) {
  const std::string cfg = config("lm");
  auto r = aio({"generate", "--config", cfg, "-p", "def add(a, b):", "-n", "8", "--ignore-eos", "--policy",
                "probe-then-small", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["synthetic"], true);
  EXPECT_EQ(j["aio"]["route"]["model"], "small");
  EXPECT_EQ(j["aio"]["tokens"]["generated"], 8);
  EXPECT_GT(j["aio"]["tokens"]["prefill_saved"].get<int>(), 0) << "the lm probe's KV cache was not reused";
  for (const char *stage : {"template", "probe", "route", "switch", "queue", "prefill", "decode"})
    EXPECT_TRUE(j["aio"]["timings_ms"].contains(stage)) << stage;

  auto text = aio({"generate", "--config", cfg, "-p", "def add(a, b):", "-n", "8", "--ignore-eos", "--policy",
                   "probe-then-small"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_EQ(text.out, j["text"].get<std::string>() + "\n");
  EXPECT_NE(text.err.find("[route]"), std::string::npos);
  EXPECT_NE(text.err.find("already in the KV cache"), std::string::npos);
}

TEST(ProbeCli, TrainThenEvalPrintsTheConfusionMatrix) {
  const std::string dir = make_temp_dir("probe-cli");
  const std::string data = std::string(AIO_SOURCE_DIR) + "/data/calibration.jsonl";
  auto train = aio({"probe", "train", "--data", data, "-o", dir + "/p.bin", "--epoch", "10"});
  ASSERT_EQ(train.exit_code, 0) << train.err;
  auto eval = aio({"probe", "eval", "--data", data, "--model", dir + "/p.bin"});
  ASSERT_EQ(eval.exit_code, 0) << eval.err;
  EXPECT_NE(eval.out.find("True \\ Pred"), std::string::npos);
  EXPECT_NE(eval.out.find("Recall"), std::string::npos);
  EXPECT_NE(eval.out.find("latency      p50"), std::string::npos);
  auto js = aio({"probe", "eval", "--data", data, "--json"});
  ASSERT_EQ(js.exit_code, 0) << js.err;
  json j = json::parse(js.out);
  EXPECT_GE(j["accuracy"].get<double>(), 0.95); // the shipped probe on its own training data
  EXPECT_EQ(j["confusion"].size(), 3u);
  auto bad = aio({"probe", "eval", "--data", "/nonexistent.jsonl"});
  EXPECT_NE(bad.exit_code, 0);
}

TEST(ProbeCli, LmProbeEvalRunsOnTheSmallModel) {
  const std::string file = make_temp_dir("lm-eval") + "/few.jsonl";
  std::ofstream(file) << "{\"text\": \"def f(x): return x\", \"label\": \"code\"}\n"
                      << "{\"text\": \"What is 3 + 4?\", \"label\": \"math\"}\n";
  auto r = aio({"probe", "eval", "--probe", "lm", "--config", config("lm"), "--data", file, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["n"], 2);
}

// fastText's escalation table says what a cascade would send on to the lm probe at each threshold; the cascade,
// run, sends on exactly that many (the same fastText verdicts decide), at 0 every request it is not certain of.
TEST(ProbeCli, ACascadeEscalatesWhatTheFastTextTableSays) {
  const std::string file = make_temp_dir("cascade-eval") + "/mixed.jsonl";
  {
    std::ifstream in(std::string(AIO_SOURCE_DIR) + "/data/calibration.jsonl");
    std::ofstream out(file);
    std::string line;
    for (int i = 0; i < 842 && std::getline(in, line); ++i)
      if (i % 14 == 0) out << line << "\n"; // 61 prompts of every category
  }
  auto ft = aio({"probe", "eval", "--data", file, "--json"});
  ASSERT_EQ(ft.exit_code, 0) << ft.err;
  const json table = json::parse(ft.out);
  const int n = table["n"];
  ASSERT_EQ(table["escalation"].size(), 7u);
  int previous = n;
  for (const auto &row : table["escalation"]) {
    EXPECT_LE(row["escalated"].get<int>(), previous) << "a higher threshold sends fewer on";
    previous = row["escalated"];
  }
  auto text = aio({"probe", "eval", "--data", file});
  EXPECT_NE(text.out.find("sent on to the lm probe"), std::string::npos) << text.out;
  int at_0 = -1, at_05 = -1;
  for (const auto &row : table["escalation"]) {
    if (row["entropy_gt"] == 0.0) at_0 = row["escalated"];
    if (row["entropy_gt"] == 0.5) at_05 = row["escalated"];
  }
  ASSERT_GE(at_05, 0);
  EXPECT_GT(at_0, at_05) << "some prompts are between certain and 0.5 bits";
  for (const auto &[threshold, want] : std::vector<std::pair<std::string, int>>{{"0.5", at_05}, {"0", at_0}}) {
    auto r = aio({"probe", "eval", "--probe", "cascade", "--config", config("cascade"), "--data", file,
                  "--escalate-entropy-gt", threshold, "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json j = json::parse(r.out);
    EXPECT_EQ(j["n"], n);
    EXPECT_EQ(j["read_by"].value("lm", 0), want) << "threshold " << threshold;
    EXPECT_EQ(j["read_by"].value("fasttext", 0), n - want) << "threshold " << threshold;
  }
  for (const char *bad : {"nan", "-1", "1.6"}) {
    auto r = aio({"probe", "eval", "--probe", "cascade", "--config", config("cascade"), "--data", file,
                  "--escalate-entropy-gt", bad});
    EXPECT_NE(r.exit_code, 0) << bad;
    EXPECT_NE(r.err.find("escalate_entropy_gt must be at least 0 and below log2"), std::string::npos) << bad << r.err;
  }
  auto misuse = aio({"probe", "eval", "--data", file, "--escalate-entropy-gt", "0.5"});
  EXPECT_NE(misuse.exit_code, 0);
  EXPECT_NE(misuse.err.find("--escalate-entropy-gt is for --probe cascade"), std::string::npos) << misuse.err;
}

TEST(CalibrateCli, PrintsOneRowPerTauAndChoosesOne) {
  const std::string file = make_temp_dir("calib") + "/few.jsonl";
  std::ofstream(file) << "{\"text\": \"Write a Python function that adds two numbers.\", \"label\": \"code\"}\n"
                      << "{\"text\": \"def f(x):\\n    return x\", \"label\": \"code\"}\n"
                      << "{\"text\": \"What is the capital of Peru?\", \"label\": \"qa\"}\n"
                      << "{\"text\": \"Tom has 3 apples and buys 5 more. How many apples does he have?\", \"label\": \"math\"}\n";
  auto r = aio({"calibrate", "--config", config("fasttext"), "--data", file, "--step", "0.5", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("chosen: tau ="), std::string::npos) << r.out;
  const auto j = json::parse(r.out.substr(r.out.find("{\n")));
  EXPECT_EQ(j["rows"].size(), 4u); // 0, 0.5, 1.0, 1.5 bits
  EXPECT_EQ(j["rows"][0]["small_share"], 0.0); // tau 0: nothing is certain enough for the small model
  auto no_var = aio({"calibrate", "--config", config("fasttext"), "--data", file, "--policy", "static-large"});
  EXPECT_NE(no_var.exit_code, 0);
  EXPECT_NE(no_var.err.find("no variable 'tau'"), std::string::npos);
}

} // namespace
} // namespace aio::test
