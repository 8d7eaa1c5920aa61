// Scheduler: the thread that drives engines - a step of an engine with work, then the next one's - and their orderly
// shutdown: stop taking jobs, let running ones finish within a grace period, then end the rest with an error so no
// caller waits forever.
//
// Co-resident models share the cores. Driven from ONE scheduler they step in turn: each step has every core to itself,
// and since ggml's CPU backend runs on the calling thread's OpenMP team (the pinned build has GGML_OPENMP on), all
// models share one thread pool - instead of two models' pools competing for the cores and spinning at each other's
// barriers. Turns are shared by time, not by step: the engine with work that has used the least stepping time goes
// next (a fair share, as CFS does it: exec/fair_share.h), so a small model's short steps are not held to the pace of a
// large model's long ones - with two busy models each gets half of the machine's time. One scheduler per engine
// (side by side) is the alternative; bench/serve_aio_vs_llama_server.py measures both.
//
// Two other turn orders can be chosen (Turns) and are measured against fair share on goodput
// (bench/serve_goodput.py --turns): the engine with the most requests (its batch fuller, more tokens per weight read),
// and the engine holding the request that has waited longest for a token (the nearest to a latency objective).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "exec/batch_engine.h"
#include "exec/fair_share.h"

namespace aio::exec {

// Which engine with work steps next.
enum class Turns {
  fair,   // the least stepping time so far (each busy engine gets an equal share of the machine's time)
  fuller, // the most requests running and queued (ties: fair)
  oldest, // the longest-waiting request for a token (BatchEngine::waiting_since)
};
Expected<Turns> parse_turns(const std::string &name); // "fair", "fuller", "oldest"

class Scheduler {
public:
  // Starts the thread. The engines must outlive the scheduler; it takes their on_submit hook.
  explicit Scheduler(std::vector<BatchEngine *> engines, Turns turns = Turns::fair);
  ~Scheduler(); // stops with no grace
  Scheduler(const Scheduler &) = delete;
  Scheduler &operator=(const Scheduler &) = delete;

  // Stops accepting, waits up to `grace` for running and queued jobs, aborts what is left, joins the thread.
  void stop(std::chrono::milliseconds grace);

private:
  void run();
  void wake();
  // The index of the engine to step next, by the turn order (nullopt when none has work).
  std::optional<size_t> pick();
  std::vector<BatchEngine *> engines_;
  Turns turns_;
  FairShare share_; // each engine's stepping time (scheduler thread only)
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t n_wakes_ = 0;                 // guarded by mu_: bumped on every submit, so no wake-up is missed
  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> deadline_ns_{0}; // steady_clock time after which remaining jobs are aborted
  std::thread thread_;
};

} // namespace aio::exec
