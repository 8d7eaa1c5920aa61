#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "observe/step_trace.h"

namespace aio::observe {
namespace {

namespace fs = std::filesystem;

fs::path scratch(const std::string &name) {
  fs::path dir = fs::temp_directory_path() / ("aio-step-trace-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return dir / name;
}

std::vector<nlohmann::json> read_lines(const fs::path &path) {
  std::ifstream in(path);
  std::vector<nlohmann::json> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

exec::StepEvent step(int decode, int prefill) {
  exec::StepEvent e;
  e.start = std::chrono::steady_clock::now();
  e.ms = 12.5;
  e.tokens = {.decode = decode, .prefill = prefill, .forward_ms = 11.25};
  e.active = 3;
  e.queued = 1;
  e.others_waiting = true;
  return e;
}

TEST(StepTrace, WritesOneJsonLinePerStepAsItEnds) {
  const fs::path path = scratch("steps.jsonl");
  auto trace = StepTrace::open(path.string());
  ASSERT_TRUE(trace.ok()) << trace.status().message();
  (*trace)->record("small", step(6, 0));
  // Flushed per line: readable while the trace is still open, as a running server's would be.
  auto lines = read_lines(path);
  ASSERT_EQ(lines.size(), 1u);
  (*trace)->record("large", step(2, 40));
  lines = read_lines(path);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["model"], "small");
  EXPECT_EQ(lines[0]["decode"], 6);
  EXPECT_EQ(lines[0]["prefill"], 0);
  EXPECT_EQ(lines[1]["model"], "large");
  EXPECT_EQ(lines[1]["decode"], 2);
  EXPECT_EQ(lines[1]["prefill"], 40);
  EXPECT_DOUBLE_EQ(lines[1]["ms"].get<double>(), 12.5);
  EXPECT_DOUBLE_EQ(lines[1]["forward_ms"].get<double>(), 11.25);
  EXPECT_EQ(lines[1]["active"], 3);
  EXPECT_EQ(lines[1]["queued"], 1);
  EXPECT_EQ(lines[1]["others_waiting"], true);
  EXPECT_GE(lines[1]["t"].get<double>(), lines[0]["t"].get<double>());
  EXPECT_GE(lines[0]["t"].get<double>(), 0.0);
}

TEST(StepTrace, AModelNameWithQuotesNewlinesOrBadUtf8StaysOneValidLine) {
  const fs::path path = scratch("names.jsonl");
  auto trace = StepTrace::open(path.string());
  ASSERT_TRUE(trace.ok());
  (*trace)->record("a \"quoted\"\nname\\", step(1, 0));
  (*trace)->record(std::string("bad \xff\xfe utf-8"), step(1, 0));
  (*trace)->record(std::string(10000, 'm'), step(1, 0)); // no line buffer to overflow
  const auto lines = read_lines(path);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0]["model"], "a \"quoted\"\nname\\");
  EXPECT_EQ(lines[2]["model"].get<std::string>().size(), 10000u);
}

TEST(StepTrace, APathThatCannotBeWrittenIsRefusedByName) {
  const fs::path missing = scratch("no-such-dir") / "steps.jsonl";
  auto trace = StepTrace::open(missing.string());
  ASSERT_FALSE(trace.ok());
  EXPECT_NE(trace.status().message().find(missing.string()), std::string::npos) << trace.status().message();
  EXPECT_NE(trace.status().message().find("No such file"), std::string::npos) << trace.status().message();
  auto dir = StepTrace::open(scratch("").string());
  ASSERT_FALSE(dir.ok());
  EXPECT_NE(dir.status().message().find("directory"), std::string::npos) << dir.status().message();
  auto empty = StepTrace::open("");
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.status().message().find("--trace-steps FILE"), std::string::npos);
}

TEST(StepTrace, AFullDiskEndsTheTraceOnceAndNothingElse) {
  // /dev/full accepts the open and fails every write with ENOSPC, as a full disk does.
  if (!fs::exists("/dev/full")) GTEST_SKIP() << "no /dev/full here";
  auto trace = StepTrace::open("/dev/full");
  ASSERT_TRUE(trace.ok()) << trace.status().message();
  testing::internal::CaptureStderr();
  for (int i = 0; i < 100; ++i) (*trace)->record("small", step(1, 0));
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_FALSE((*trace)->writing());
  EXPECT_NE(err.find("/dev/full stopped: a write failed (No space left on device)"), std::string::npos) << err;
  EXPECT_EQ(err.find("stopped", err.find("stopped") + 1), std::string::npos) << "said more than once: " << err;
}

TEST(StepTrace, StopsAtItsSizeLimitWithoutWritingAPartLine) {
  const fs::path path = scratch("capped.jsonl");
  auto trace = StepTrace::open(path.string(), 1000);
  ASSERT_TRUE(trace.ok());
  testing::internal::CaptureStderr();
  for (int i = 0; i < 100; ++i) (*trace)->record("small", step(i, 0));
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_FALSE((*trace)->writing());
  EXPECT_NE(err.find("limit of 1000 bytes"), std::string::npos) << err;
  EXPECT_LE(fs::file_size(path), 1000u);
  EXPECT_EQ(fs::file_size(path), (*trace)->bytes_written());
  const auto lines = read_lines(path); // every line whole
  EXPECT_GT(lines.size(), 3u);
  for (size_t i = 0; i < lines.size(); ++i) EXPECT_EQ(lines[i]["decode"], static_cast<int>(i));
}

TEST(StepTrace, SchedulersOnSeveralThreadsInterleaveWholeLines) {
  const fs::path path = scratch("threads.jsonl");
  auto trace = StepTrace::open(path.string());
  ASSERT_TRUE(trace.ok());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) (*trace)->record("model-" + std::to_string(t), step(i, t));
    });
  for (auto &th : threads) th.join();
  const auto lines = read_lines(path); // a torn line would not parse
  ASSERT_EQ(lines.size(), 2000u);
  std::vector<int> next(4, 0);
  for (const auto &l : lines) {
    const int t = l["prefill"];
    EXPECT_EQ(l["model"], "model-" + std::to_string(t));
    EXPECT_EQ(l["decode"], next[t]++); // each thread's lines in its order
  }
}

} // namespace
} // namespace aio::observe
