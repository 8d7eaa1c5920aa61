// Sandbox: runs untrusted Python (a model's HumanEval completion and its tests) the way a careful evaluator must,
// with what the kernel and the distribution already trust. Each run is started by bubblewrap (Debian's `bwrap`, as
// an unprivileged uid of the run's own when we are root) in new mount, PID, network, IPC, UTS and user namespaces: it sees
// /usr read-only, a fresh /proc of its own PID namespace, a minimal /dev, and two small tmpfs (/work, its directory,
// and /tmp) - no host /tmp, no host sockets, no network. All capabilities are dropped (the bounding set too),
// no_new_privs is set, and a seccomp filter (libseccomp) refuses mounts, namespaces, ptrace, keyrings, BPF and the
// like. A cgroup caps the memory and processes of the whole run where the machine gives us one (rlimits per process
// always); a wall-clock timeout kills it, and so does our own death (PR_SET_PDEATHSIG on bwrap, whose
// --die-with-parent and PID-namespace init take every process of the run along).
// Where bubblewrap is missing or refused, create() fails (closed) unless the caller explicitly allows running
// unisolated (`--no-sandbox`); then runs get rlimits + a process group only, and isolation() says so.
#pragma once

#include <array>
#include <memory>
#include <utility>
#include <string>
#include <vector>

#include "aio/status.h"

namespace aio::sandbox {

struct SandboxLimits {
  double timeout_seconds = 10;             // wall clock, whole run
  size_t memory_bytes = size_t{1} << 30;   // address space per process (RLIMIT_AS)
  size_t file_size_bytes = 16u << 20;      // largest file it may write (RLIMIT_FSIZE)
  int max_processes = 32;                  // processes it may start (its cgroup's pids cap, or RLIMIT_NPROC)
  size_t output_bytes = 64u << 10;         // stdout + stderr kept (the rest is read and dropped)
  size_t scratch_bytes = 64u << 20;        // size of its writable directory (tmpfs)
};

struct SandboxResult {
  // memory_exceeded: the run's memory cap (cgroup) ended it; stopped: we ended it (SandboxProcess::finish).
  enum class Outcome { ok, failed, timed_out, crashed, setup_error, memory_exceeded, stopped };
  Outcome outcome = Outcome::setup_error;
  int exit_code = -1;       // when it exited
  int signal = 0;           // when a signal ended it
  std::string output;       // stdout and stderr interleaved, at most output_bytes
  bool output_truncated = false;
  bool memory_cap_hit = false; // the run's memory cap (cgroup) was reached
  double seconds = 0;
  bool passed() const { return outcome == Outcome::ok; }
  // One word: ok, failed, timeout, crashed (signal), setup-error, memory-cap, stopped.
  const char *outcome_name() const;
};

// What holds, as checked from inside a probe run when the sandbox is created (not assumed).
struct SandboxIsolation {
  bool namespaces = false;      // bubblewrap: mount/PID/network/IPC/UTS/user namespaces, read-only /usr, fresh /proc
  bool seccomp = false;         // the filter is installed (Seccomp: 2 in the run's /proc/self/status)
  bool no_capabilities = false; // effective, permitted and bounding sets empty
  bool no_new_privs = false;
  std::string cgroup;           // "cgroup v1" / "cgroup v2": the whole run's memory and processes are capped
  std::string note;             // all of it in a sentence (printed by `aio score`)
};

class SandboxProcess;

class Sandbox {
public:
  // Finds the interpreter (`python` = "" -> /usr/bin/python3, else python3 on PATH) and bubblewrap, and probes once
  // which isolation this machine allows. Where the sandbox cannot start, a failed_precondition saying why - unless
  // `allow_uncontained` (the user's --no-sandbox), when runs go ahead unisolated.
  static Expected<Sandbox> create(std::string python = "", bool allow_uncontained = false);
  bool contained() const { return isolation_.namespaces; }

  const SandboxIsolation &isolation() const { return isolation_; }
  const std::string &python() const { return python_; }

  // Runs `program` as a Python script (python3 -I -B) in a fresh directory under the limits.
  SandboxResult run_python(const std::string &program, const SandboxLimits &limits) const;

  // A program started under the limits and left running, to talk to over its descriptors 5 (it reads) and 6 (it
  // writes); see SandboxProcess. The limits' timeout is its CPU-time limit, not a wall-clock one: the caller decides
  // when to stop it.
  std::unique_ptr<SandboxProcess> spawn(const std::string &program, const SandboxLimits &limits) const;

private:
  friend class SandboxProcess;
  struct Run;
  std::unique_ptr<Run> start(const std::string &program, const SandboxLimits &limits,
                             std::array<int, 2> channel = {-1, -1}) const;
  // Reads the run's output until it ends or the timeout passes, then reaps and classifies it.
  void collect(Run &run, const SandboxLimits &limits) const;

  std::string python_;
  std::string bwrap_;                      // "" = not contained (see isolation_)
  std::shared_ptr<const std::vector<char>> seccomp_bpf_;
  bool cgroups_ = false;                   // a cgroup per run works here
  bool allow_uncontained_ = false;         // --no-sandbox
  SandboxIsolation isolation_;
};

// A running sandboxed program (Sandbox::spawn) and the ends of its channel. The caller polls the three descriptors
// itself; finish() stops the program if it still runs, reaps it and says how it ended, with its output.
class SandboxProcess {
public:
  ~SandboxProcess();
  SandboxProcess(const SandboxProcess &) = delete;
  SandboxProcess &operator=(const SandboxProcess &) = delete;

  bool running() const;            // started, and not finished yet
  const std::string &setup_error() const; // why it did not start ("" when it did)
  int to_program() const { return to_; }    // arrives at its descriptor 5 (non-blocking)
  int from_program() const { return from_; } // what it writes to its descriptor 6 (non-blocking)
  int output() const;              // its stdout + stderr (non-blocking); read it with read_output()
  // Reads what waits on output() into the kept output; false once it is closed.
  bool read_output();
  // Stops it (stopped = true: we ended it) unless it ended by itself - within `grace_seconds`, for one that closed
  // its channel and is on its way out - reaps it and classifies the end.
  SandboxResult finish(bool timed_out = false, double grace_seconds = 0);

private:
  friend class Sandbox;
  SandboxProcess(const Sandbox &sandbox, std::unique_ptr<Sandbox::Run> run, SandboxLimits limits, int to, int from);
  const Sandbox &sandbox_;
  std::unique_ptr<Sandbox::Run> run_;
  SandboxLimits limits_;
  int to_ = -1, from_ = -1;
  bool output_closed_ = false;
};

} // namespace aio::sandbox
