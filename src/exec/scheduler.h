// Scheduler: the thread that drives engines - a step of an engine with work, then the next one's - and their orderly
// shutdown: stop taking jobs, let running ones finish within a grace period, then end the rest with an error so no
// caller waits forever.
//
// Co-resident models share the cores. Driven from ONE scheduler they step in turn: each step has every core to itself,
// and since ggml's CPU backend runs on the calling thread's OpenMP team (the pinned build has GGML_OPENMP on), all
// models share one thread pool - instead of two models' pools competing for the cores and spinning at each other's
// barriers. One scheduler per engine (side by side) is the alternative; bench/serve_aio_vs_llama_server.py measures
// both.
//
// Which engine steps next is the turn order (Turns). The default, `first`, serves time to first token: the engine
// holding the request without a first token whose response ratio is highest goes next - time waited against the
// time its prompt takes to read (StepBudget::response_ratio), so a short prompt passes a long one that is part-way
// through, and a prompt routed to the large model alone is prefilled in consecutive steps - unless some engine's
// running streams have waited longer than two of the slowest engine's decode-only steps for their next token, or
// are owed time that a step reading another model's prompt held them for (exec/held_time.h). With no request waiting
// for a first token, turns are shared by time: the engine with work that has used the least stepping time goes next
// (a fair share, as CFS does it: exec/fair_share.h), so a small model's short steps are not held to the pace of a
// large model's long ones. The fair share alone, the engine with the most requests, and the engine whose request has
// waited longest for any token are the alternatives, measured against it on goodput and time to first token
// (bench/serve_goodput.py --turns; docs/benchmarks.md).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "exec/batch_engine.h"
#include "exec/fair_share.h"
#include "exec/held_time.h"

namespace aio::exec {

// Which engine with work steps next.
enum class Turns {
  fair,   // the least stepping time so far (each busy engine gets an equal share of the machine's time)
  fuller, // the most requests running and queued (ties: fair)
  oldest, // the longest-waiting request for a token (BatchEngine::waiting_since)
  // The engine whose request waiting for its FIRST token (queued or prefilling) has the highest response ratio -
  // waited against the reading its prompt needs (BatchEngine::Waiting; equal: the oldest) - unless some
  // engine's decoding streams have waited longer than two of the slowest busy engine's decode-only steps for their
  // next token - then that engine (ties and no waiting request: fair). A prompt routed to a large model is prefilled
  // in consecutive steps instead of taking turns with the small model's streams, which still get a token every two
  // large steps.
  // Streams held by a step that only read a prompt are then owed its time and step first until it is paid
  // (exec/held_time.h).
  first,
  // As `first`, but with no request waiting for a first token the busy engines take turns by steps, not by time: one
  // step each a round, so every running stream, on whichever model, gets about one token a round. Under the time
  // share a small model's short steps take half the machine whenever it has a stream (a dozen 135M steps for each 3B
  // step), which doubles the large model's time per token; here they take one short step per large one, and the
  // small model's streams keep the large one's pace - within a time-per-token objective both models' streams meet.
  // Held time is paid back as in `first`.
  rounds,
};
Expected<Turns> parse_turns(const std::string &name); // "fair", "fuller", "oldest", "first", "rounds"

// One step the scheduler drove, as an observer hears it (a step trace: observe/step_trace.h).
struct StepEvent {
  size_t engine = 0;                           // its index in the scheduler's engines
  std::chrono::steady_clock::time_point start; // when the step began
  double ms = 0;                  // the whole step: admission, the batch, the forward pass, the tokens out
  BatchEngine::StepTokens tokens; // what it carried
  size_t active = 0, queued = 0;  // the engine's requests after the step
  bool others_waiting = false;    // another engine's streams were waiting for a token through it
};
// Called on the scheduler's thread after every step that did work; it must be quick (it delays the next step).
using StepObserver = std::function<void(const StepEvent &)>;

class Scheduler {
public:
  // Starts the thread. The engines must outlive the scheduler; it takes their on_submit hook.
  explicit Scheduler(std::vector<BatchEngine *> engines, Turns turns = Turns::first, StepObserver on_step = {});
  ~Scheduler(); // stops with no grace
  Scheduler(const Scheduler &) = delete;
  Scheduler &operator=(const Scheduler &) = delete;

  // Stops accepting, waits up to `grace` for running and queued jobs, aborts what is left, joins the thread.
  void stop(std::chrono::milliseconds grace);

  // How long running streams may wait for their next token before their engine goes first (Turns::first, rounds):
  // two of the slowest busy engine's decode-only steps (decode_ms; 0 = not measured yet: its last step, last_step_s),
  // in seconds.
  static double gap_bound_s(const std::vector<bool> &is_busy, const std::vector<double> &decode_ms,
                            const std::vector<double> &last_step_s);

private:
  void run();
  void wake();
  // The engine to step next, by the turn order, and whether its step pays back held time (not one of its turns).
  struct Pick {
    size_t engine = 0;
    bool repaying = false;
  };
  std::optional<Pick> pick(); // nullopt when no engine has work
  // Turns::first's choice among the busy engines; `fair` when no request waits for a first token.
  std::optional<Pick> first_tokens_first(const std::vector<bool> &is_busy, std::optional<size_t> fair);
  std::vector<BatchEngine *> engines_;
  Turns turns_;
  StepObserver on_step_;
  FairShare share_; // each engine's stepping time (scheduler thread only)
  FairShare rounds_; // each engine's steps, for Turns::rounds (scheduler thread only)
  std::vector<double> last_step_s_; // each engine's last step, in seconds (scheduler thread only)
  HeldTime held_;                   // streams' time held by another engine's prompt reading (Turns::first, rounds)
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t n_wakes_ = 0;                 // guarded by mu_: bumped on every submit, so no wake-up is missed
  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> deadline_ns_{0}; // steady_clock time after which remaining jobs are aborted
  std::thread thread_;
};

} // namespace aio::exec
