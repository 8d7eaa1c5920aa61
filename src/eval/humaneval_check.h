// HumanEval's verdict from a process the candidate cannot reach (issue 19). The candidate's code runs in a sandbox of
// its own and answers calls to its entry point; the test runs in a trusted checker, another sandboxed program that
// lives for many items, with a stand-in for the candidate that sends each call's arguments as plain data and reads
// plain data back (numbers, strings, bytes, None, and lists, tuples, sets and dicts of them). aio sits between them
// and relays whole frames, so the candidate has no channel to the checker but its answers, and no way to send a
// verdict: only the checker's own pipe carries those. Nothing the candidate does to its own interpreter - shadowing
// builtins, reading a marker from its files or frames, exiting early, returning an object that equals everything -
// reaches the test. It computes the values the test expects, or it fails.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "sandbox/sandbox.h"
#include "eval/tasks.h"

namespace aio::eval {

struct CheckVerdict {
  bool passed = false;
  // ok, failed, timeout, memory-cap, setup-error, ... setup-error: the sandbox could not start the trusted checker or a
  // run (aio's side, never the candidate's doing - the candidate's own exit codes and output cannot make it); the
  // item was not judged and is no wrong answer.
  std::string outcome;
  std::string detail;  // why it failed: the test's error ("AssertionError", "NameError: ..."), "timed out", ...
};

class HumanEvalChecker {
public:
  HumanEvalChecker(const sandbox::Sandbox &sandbox, sandbox::SandboxLimits limits);
  ~HumanEvalChecker();
  // Runs `completion` for `item` against the item's test. Safe to call from several threads (each call takes a
  // checker of its own). A setup error (e.g. the machine out of processes for a moment) is tried twice more, after
  // 0.2 and 0.8 s.
  CheckVerdict check(const TaskItem &item, const std::string &completion) const;

  // The programs, for inspection and tests: the candidate's (prompt + completion, serving calls) and the checker's.
  static std::string candidate_program(const TaskItem &item, const std::string &completion);
  static std::string checker_program();

private:
  struct Checker;
  CheckVerdict check_once(const TaskItem &item, const std::string &completion) const;
  std::unique_ptr<Checker> take() const;
  void give_back(std::unique_ptr<Checker> checker) const;

  const sandbox::Sandbox &sandbox_;
  sandbox::SandboxLimits limits_;
  mutable std::mutex mu_;
  mutable std::vector<std::unique_ptr<Checker>> idle_;
};

} // namespace aio::eval
