// StepTrace: every engine step the scheduler drives, one JSON line each, written to a file (`aio serve --trace-steps
// FILE`): which model stepped, when and for how long, what the step carried (decode and prefill tokens), the model's
// requests after it, and whether another model's streams waited through it. Aggregates (time to first token, tokens a
// second) say that something is slow; a step trace says which steps made it so - one settled where a 135M's 2.6-s
// gaps beside a 1B's long prompt came from (docs/benchmarks.md), after two sessions of aggregate figures had not.
//
// Lines go out as steps end, each flushed, so the trace of a run that dies is readable up to its last step, and a FIFO
// can be watched live. A write that fails (a full disk) ends the trace with one message on stderr, as does reaching
// max_bytes (so a forgotten flag cannot fill the disk); the server goes on serving either way.
//
// Thread-safety: record() may be called from any thread (with --schedule parallel each model has a scheduler thread).
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>

#include "aio/status.h"
#include "exec/scheduler.h"

namespace aio::observe {

class StepTrace {
public:
  static constexpr uint64_t kDefaultMaxBytes = uint64_t{1} << 30;
  // Creates (or truncates) `path`. An error names the path and why it cannot be written.
  static Expected<std::unique_ptr<StepTrace>> open(const std::string &path, uint64_t max_bytes = kDefaultMaxBytes);
  ~StepTrace();
  StepTrace(const StepTrace &) = delete;
  StepTrace &operator=(const StepTrace &) = delete;

  // One line: {"t": seconds since the trace opened, at the step's start, "model", "ms" (the whole step),
  // "forward_ms" (its batched forward pass), "decode" and "prefill" tokens, "active" and "queued" requests after it,
  // "others_waiting"}.
  void record(const std::string &model, const exec::StepEvent &step);
  // False once the trace stopped (a failed write, or max_bytes reached).
  bool writing() const;
  uint64_t bytes_written() const;

private:
  StepTrace(std::string path, std::FILE *file, uint64_t max_bytes);
  void stop(const std::string &why); // mu_ held

  const std::string path_;
  const uint64_t max_bytes_;
  const std::chrono::steady_clock::time_point t0_;
  mutable std::mutex mu_;
  std::FILE *file_;      // guarded by mu_; null once stopped
  uint64_t written_ = 0; // guarded by mu_
};

} // namespace aio::observe
