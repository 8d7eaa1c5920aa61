// `aio bench` end to end on the tiny pair and the sample workload: records appear as requests finish, and a run that
// is killed and resumed loses no finished record and repeats none.
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "support/aio_server.h"
#include "support/paths.h"
#include "support/process.h"

namespace aio::test {
namespace {
using nlohmann::json;

std::vector<std::string> lines_of(const std::string &path, bool complete_only = true) {
  std::ifstream in(path);
  const std::string text((std::istreambuf_iterator<char>(in)), {});
  std::vector<std::string> out;
  size_t pos = 0;
  for (size_t nl; (nl = text.find('\n', pos)) != std::string::npos; pos = nl + 1) out.push_back(text.substr(pos, nl - pos));
  if (!complete_only && pos < text.size()) out.push_back(text.substr(pos));
  return out;
}

std::vector<std::string> bench_args(const std::string &config, const std::string &out, int n) {
  return {"bench", "--config", config, "--scenario", "A", "--data", std::string(AIO_SOURCE_DIR) + "/data/sample",
          "--n", std::to_string(n), "--policies", "static-small,aio", "-o", out};
}

TEST(BenchCli, RecordsCarryRouteScoreAndRunInfo) {
  const std::string out = make_temp_dir("bench") + "/r.jsonl";
  auto r = run_aio(bench_args(serve_config(), out, 5), 300);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto lines = lines_of(out);
  ASSERT_EQ(lines.size(), 10u);
  std::set<std::string> policies;
  for (const auto &l : lines) {
    const json j = json::parse(l);
    policies.insert(j["policy"]);
    EXPECT_EQ(j["scenario"], "A");
    EXPECT_TRUE(j["route"].contains("probe"));
    EXPECT_TRUE(j["score"].contains("correct"));
    EXPECT_TRUE(j["run"]["synthetic_models"].get<bool>());
    EXPECT_EQ(j["true_label"], j["task"] == "humaneval" ? "code" : j["task"] == "gsm8k" ? "math" : "qa");
    if (j["policy"] == "static-small") { EXPECT_EQ(j["route"]["route"]["model"], "small"); }
  }
  EXPECT_EQ(policies, (std::set<std::string>{"static-small", "aio"}));

  // The report: tables on stdout and in report.md, a JSON summary, the plots.
  const std::string report_dir = make_temp_dir("bench-report");
  auto rep = run_aio({"report", out, "-o", report_dir});
  ASSERT_EQ(rep.exit_code, 0) << rep.err;
  EXPECT_NE(rep.out.find("## Scenario A"), std::string::npos) << rep.out;
  EXPECT_NE(rep.out.find("Synthetic models"), std::string::npos);
  EXPECT_NE(rep.out.find("| static-small"), std::string::npos);
  for (const char *f : {"report.md", "report.json", "pareto-A.svg", "routes-A.svg", "entropy-A.svg"})
    EXPECT_TRUE(std::ifstream(report_dir + "/" + f).good()) << f;
  const json summary = json::parse(std::ifstream(report_dir + "/report.json"));
  EXPECT_EQ(summary["scenarios"]["A"]["policies"]["aio"]["n"], 5);

  auto again = run_aio(bench_args(serve_config(), out, 5));
  EXPECT_NE(again.exit_code, 0);
  EXPECT_NE(again.err.find("--resume"), std::string::npos) << again.err;
}

TEST(BenchCli, AKilledRunResumesWithoutLossOrRepeats) {
  const std::string out = make_temp_dir("bench-kill") + "/r.jsonl";
  const std::string config = serve_config();
  std::vector<std::string> argv = {aio_binary()};
  const auto args = bench_args(config, out, 12);
  argv.insert(argv.end(), args.begin(), args.end());
  {
    BackgroundProcess run(argv);
    // Killed once a few records are in (slow builds such as ASAN take longer to get there).
    for (int i = 0; i < 6000 && lines_of(out).size() < 3; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    run.send_signal(SIGKILL);
    run.wait();
  }
  const auto before = lines_of(out);
  ASSERT_GE(before.size(), 3u);
  ASSERT_LT(before.size(), 24u) << "the run finished before it could be killed; the test proves nothing";
  std::ofstream(out, std::ios::app) << R"({"scenario": "A", "policy": "aio", "id": "torn)"; // as if killed mid-line

  auto resumed = run_aio([&] {
    auto a = bench_args(config, out, 12);
    a.push_back("--resume");
    return a;
  }(), 300);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  const auto after = lines_of(out, /*complete_only=*/false);
  ASSERT_EQ(after.size(), 24u);
  for (size_t i = 0; i < before.size(); ++i) EXPECT_EQ(after[i], before[i]) << "finished records are kept as they were";
  std::set<std::string> keys;
  for (const auto &l : after) {
    const json j = json::parse(l);
    keys.insert(j["policy"].get<std::string>() + "|" + j["id"].get<std::string>());
  }
  EXPECT_EQ(keys.size(), 24u) << "no request was run twice";
}

// --concurrency N: N requests in flight through the engines (as a server with N clients); every request is still
// recorded exactly once, with its wall-clock span, and the requests did overlap.
TEST(BenchCli, ConcurrentRequestsAreBatchedAndEachRecordedOnce) {
  const std::string out = make_temp_dir("bench-conc") + "/r.jsonl";
  auto args = bench_args(serve_config(), out, 6);
  args.insert(args.end(), {"--concurrency", "3"});
  auto r = run_aio(args, 300);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto lines = lines_of(out);
  ASSERT_EQ(lines.size(), 12u);
  std::set<std::string> keys;
  std::vector<std::pair<double, double>> spans;
  for (const auto &l : lines) {
    const json j = json::parse(l);
    keys.insert(j["policy"].get<std::string>() + "|" + j["id"].get<std::string>());
    EXPECT_EQ(j["run"]["concurrency"], 3);
    spans.emplace_back(j["wall_s"]["start"].get<double>(), j["wall_s"]["end"].get<double>());
    EXPECT_LE(spans.back().first, spans.back().second);
    EXPECT_TRUE(j.contains("route")) << l;
  }
  EXPECT_EQ(keys.size(), 12u) << "a request was recorded twice";
  bool overlapped = false;
  for (size_t a = 0; a < spans.size(); ++a)
    for (size_t b = a + 1; b < spans.size(); ++b)
      overlapped = overlapped || (spans[a].first < spans[b].second && spans[b].first < spans[a].second);
  EXPECT_TRUE(overlapped) << "with 3 in flight some requests run at the same time";
  auto zero = args;
  zero.back() = "0";
  zero[zero.size() - 3] = make_temp_dir("bench-c1") + "/r.jsonl"; // -o
  auto refused = run_aio(zero);
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("--concurrency"), std::string::npos) << refused.err;
}

} // namespace
} // namespace aio::test
