// How long a request arriving now would wait for its first token from an engine: what a load-aware policy reads
// (policy condition `load: {model, wait_ms_gt}`). The engine publishes, after each step, how many steps each busy
// slot still needs; a request's wait for a slot is found by letting the queue ahead of it take the slots as they free
// up, each for the steps a finished job typically took; then its own prompt is prefilled in the chunks the step budget
// allows. Steps count at the engine's wall-clock time per step (which includes the other models' turns on a shared
// scheduler). An estimate: a job that stops early (an end token) frees its slot sooner, so
// expected lengths are scaled by the share of max_tokens that finished jobs actually used.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <vector>

#include "aio/route.h"

namespace aio::exec {

// Steps until a slot is free for a request behind `queued` others: `remaining` holds the steps each busy slot still
// needs, `slots` the slots in all, `service_steps` the steps each queued job will hold its slot. Pure (for tests).
double wait_steps(std::vector<double> remaining, int32_t slots, int32_t queued, double service_steps);

class LoadEstimate {
public:
  explicit LoadEstimate(int32_t slots) : slots_(slots) {}
  // Engine thread. A step began (busy = the engine had work when the last one ended: idle gaps are not steps).
  void step_started(std::chrono::steady_clock::time_point t, bool was_busy);
  // Engine thread, after each step: the steps each busy slot still needs, and the prompt tokens a newcomer's prefill
  // gets per step (the step budget's chunk beside running streams; the whole batch when none runs).
  void publish(std::vector<double> remaining, double prefill_chunk = 0);
  // Engine thread: a job finished after holding its slot `steps` steps, generating `generated` of `max_tokens`.
  void job_finished(int32_t steps, int32_t generated, int32_t max_tokens);
  // The share of max_tokens finished jobs used (1 until one finished): scales a running job's expected length.
  double used_share() const;
  // Any thread: the load now, with `queued` requests waiting, for a request of `prompt_tokens` tokens (its wait
  // counts its own prefill in chunks too: a free slot does not mean a first token soon).
  ModelLoad load(int32_t queued, int32_t prompt_tokens = 0) const;

private:
  const int32_t slots_;
  mutable std::mutex mu_;
  std::vector<double> remaining_;  // guarded by mu_
  double prefill_chunk_ = 0;       // guarded
  double step_ms_ = 0;             // guarded: wall-clock time per step while busy (moving average)
  double service_steps_ = 0;       // guarded: steps a finished job held its slot (moving average; 0 = none yet)
  double used_share_ = 1;          // guarded
  std::chrono::steady_clock::time_point last_start_{}; // engine thread only
};

} // namespace aio::exec
