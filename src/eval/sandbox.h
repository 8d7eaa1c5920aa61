// Sandbox: runs untrusted Python (a model's HumanEval completion and its tests) the way a careful evaluator must.
// Each run gets a fresh writable directory and nothing else: the rest of the filesystem is read-only, there is no
// network (an empty network namespace), every process it starts lives in its own PID namespace and dies with it,
// and rlimits cap memory, CPU, file size, processes and open files. A wall-clock timeout kills the whole run.
// Where the kernel refuses unprivileged namespaces, runs fall back to rlimits + a process group + a fresh directory,
// and isolation() says plainly what is missing.
#pragma once

#include <string>

#include "aio/status.h"

namespace aio::eval {

struct SandboxLimits {
  double timeout_seconds = 10;             // wall clock, whole run
  size_t memory_bytes = size_t{1} << 30;   // address space per process (RLIMIT_AS)
  size_t file_size_bytes = 16u << 20;      // largest file it may write (RLIMIT_FSIZE)
  int max_processes = 32;                  // processes it may start (RLIMIT_NPROC above what already runs)
  size_t output_bytes = 64u << 10;         // stdout + stderr kept (the rest is read and dropped)
  size_t scratch_bytes = 64u << 20;        // size of its writable directory (tmpfs)
};

struct SandboxResult {
  enum class Outcome { ok, failed, timed_out, crashed, setup_error };
  Outcome outcome = Outcome::setup_error;
  int exit_code = -1;       // when it exited
  int signal = 0;           // when a signal ended it
  std::string output;       // stdout and stderr interleaved, at most output_bytes
  bool output_truncated = false;
  std::string output_tail;  // the last bytes written, whatever was truncated before them (the scorer's pass marker)
  double seconds = 0;
  bool passed() const { return outcome == Outcome::ok; }
  // One word: ok, failed, timeout, crashed (signal), setup-error.
  const char *outcome_name() const;
};

struct SandboxIsolation {
  bool namespaces = false;  // user + mount + network + PID namespaces available
  std::string note;         // what the runs are protected by, in a sentence (printed by `aio score`)
};

class Sandbox {
public:
  // Finds the interpreter (`python` = "" -> /usr/bin/python3, else python3 on PATH) and probes once which isolation
  // this machine allows.
  static Expected<Sandbox> create(std::string python = "");

  const SandboxIsolation &isolation() const { return isolation_; }
  const std::string &python() const { return python_; }

  // Runs `program` as a Python script (python3 -I -B) in a fresh directory under the limits.
  SandboxResult run_python(const std::string &program, const SandboxLimits &limits) const;

private:
  std::string python_;
  SandboxIsolation isolation_;
};

} // namespace aio::eval
