// Every loader against files built to exhaust it (issue 19): a 2 GB one-line JSONL or YAML (sparse: no disk used)
// is refused by its size before a byte is read, under an address-space cap that reading it whole could not fit in;
// a line nested 100,000 levels deep is refused by its depth. Each refusal names the limit and the flag.
#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <fstream>

#include "support/paths.h"
#include "support/process.h"

namespace aio::test {
namespace {

// A file of `bytes` that takes no disk: a hole, read back as zeros.
std::string sparse_file(const std::string &path, off_t bytes) {
  std::ofstream(path) << "{";
  EXPECT_EQ(truncate(path.c_str(), bytes), 0);
  return path;
}

// `aio ARGS` with its address space capped at 1 GiB (a 2 GB file read whole cannot fit): exit code and stderr.
ProcessResult run_capped(const std::vector<std::string> &args) {
  std::string cmd = "ulimit -v 1048576; exec";
  for (const std::string &a : std::vector<std::string>{aio_binary()}) cmd += " '" + a + "'";
  for (const std::string &a : args) cmd += " '" + a + "'";
  const auto t0 = std::chrono::steady_clock::now();
  ProcessResult r = run_process({"/bin/sh", "-c", cmd}, 60);
  std::printf("aio %s ...: exit %d in %.3f s\n", args.front().c_str(), r.exit_code,
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  return r;
}

TEST(LoaderLimits, TwoGigabyteFilesAreRefusedByTheirSize) {
  const std::string dir = make_temp_dir("bigfiles");
  const off_t two_gb = off_t{2} << 30;
  const std::string jsonl = sparse_file(dir + "/big.jsonl", two_gb);
  const std::string yaml = sparse_file(dir + "/big.yaml", two_gb);
  const std::string sample = std::string(AIO_SOURCE_DIR) + "/data/sample/HumanEval.jsonl";
  const std::vector<std::vector<std::string>> commands = {
      {"score", "--task", "humaneval", "--data", sample, "--completions", jsonl},
      {"score", "--task", "gsm8k", "--data", jsonl, "--reference"},
      {"probe", "eval", "--data", jsonl},
      {"report", jsonl, "-o", dir + "/report"},
      {"route", "--config", yaml, "-p", "hello"},
      {"synth", "--preset", "tiny-small", "--tokenizer", jsonl, "-o", dir + "/t.gguf"},
  };
  for (const auto &args : commands) {
    const ProcessResult r = run_capped(args);
    EXPECT_NE(r.exit_code, 0) << args[0];
    EXPECT_FALSE(r.timed_out) << args[0];
    EXPECT_NE(r.err.find("2.0 GiB"), std::string::npos) << args[0] << ": " << r.err;
    EXPECT_NE(r.err.find("--max-file-size"), std::string::npos) << args[0] << ": " << r.err;
  }
  // The flag moves the bound: a 1 KiB limit refuses the sample dataset, which loads by default.
  const ProcessResult small = run_process({aio_binary(), "--max-file-size", "1024", "score", "--task", "humaneval",
                                           "--data", sample, "--reference"});
  EXPECT_NE(small.exit_code, 0);
  EXPECT_NE(small.err.find("files over 1024 bytes are refused"), std::string::npos) << small.err;
}

TEST(LoaderLimits, DeeplyNestedLinesAreRefusedByTheirDepth) {
  const std::string dir = make_temp_dir("deepfiles");
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  const std::string sample = std::string(AIO_SOURCE_DIR) + "/data/sample/HumanEval.jsonl";
  std::ofstream(dir + "/completions.jsonl") << R"({"task_id": "Sample/0", "completion": "x", "extra": )" << deep << "}\n";
  std::ofstream(dir + "/labelled.jsonl") << R"({"text": "hi", "label": "qa", "extra": )" << deep << "}\n";
  std::ofstream(dir + "/results.jsonl") << deep << "\n" << deep << "\n";
  std::ofstream(dir + "/tokenizer.json") << R"({"model": )" << deep << "}";
  const std::vector<std::vector<std::string>> commands = {
      {"score", "--task", "humaneval", "--data", sample, "--completions", dir + "/completions.jsonl"},
      {"probe", "eval", "--data", dir + "/labelled.jsonl"},
      {"report", dir + "/results.jsonl", "-o", dir + "/report"},
      {"synth", "--preset", "tiny-small", "--tokenizer", dir + "/tokenizer.json", "-o", dir + "/t.gguf"},
  };
  for (const auto &args : commands) {
    const ProcessResult r = run_process([&] {
      std::vector<std::string> a = {aio_binary()};
      a.insert(a.end(), args.begin(), args.end());
      return a;
    }());
    EXPECT_NE(r.exit_code, 0) << args[0];
    EXPECT_LT(r.exit_code, 128) << args[0] << " crashed: " << r.err;
    EXPECT_TRUE(r.err.find("nests deeper") != std::string::npos || r.err.find("bad JSON") != std::string::npos)
        << args[0] << ": " << r.err;
  }
}

} // namespace
} // namespace aio::test
