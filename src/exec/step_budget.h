// How many prefill tokens one batched step may carry beside its decode tokens (chunked prefill, as Sarathi-Serve and
// vLLM do it): decode tokens go first, then prefill and lm-probe chunks up to this budget, so that a long prompt
// arriving among running streams never stalls their next token for long.
//
// The budget comes from a cost model the engine measures on its own steps, on this machine, for this model: the time
// of a decode-only step, and the marginal time of one prefill token (a step's time beyond a decode-only step, per
// prefill token). A step with prefill may take up to `step_factor` times a decode-only step, so the prefill tokens
// are (step_factor - 1) x decode step / per-token cost. With no decode running, nobody waits: prefill takes the whole
// batch. A fixed budget (tokens per step, decode included) replaces the measured one when given.
#pragma once

#include <cstdint>
#include <string>

#include "aio/status.h"

namespace aio::exec {

struct StepBudgetParams {
  int32_t fixed_tokens = 0;  // > 0: tokens per step, decode + prefill (no measuring); 0: measured (auto)
  // auto: a step with prefill may last this many decode-only steps. Measured (bench/serve_long_prompt.py, 1B, 2
  // cores, 6 streams, a 3,000-token prompt): the streams' inter-token p99 is about 1.4x the mean step, so 2.0 keeps
  // it under 3x a plain decode step (2.70x; 3.74x at 3.0), at the price of the long prompt's first token (143 s
  // instead of 34 s with whole-batch chunks).
  double step_factor = 2.0;
  int32_t min_chunk = 4;     // at least this many prefill tokens per step: a long prompt still advances
  int32_t first_chunk = 32;  // until the per-token prefill cost is measured
  Status validate() const;
  // "auto" or a number of tokens, as `--step-budget` and the config's step_budget take it.
  static Expected<StepBudgetParams> parse(const std::string &budget, double step_factor);
  std::string describe() const; // "auto (3x a decode step)" or "64 tokens"
};

class StepBudget {
public:
  explicit StepBudget(StepBudgetParams params = {}) : p_(params) {}
  // The most prefill tokens the next step may carry, given its decode tokens and the room left in the batch.
  int32_t prefill_tokens(int32_t n_decode, int32_t room) const;
  // A step ran: its decode tokens (pending tokens and drafts), prefill tokens, and the time of its forward pass.
  void observe(int32_t n_decode, int32_t n_prefill, double ms);
  // The measurements (0 until measured).
  double decode_step_ms() const { return decode_ms_; }
  double prefill_token_ms() const { return token_ms_; }

private:
  StepBudgetParams p_;
  double decode_ms_ = 0; // moving average of decode-only steps
  double token_ms_ = 0;  // moving average of the marginal cost of a prefill token
};

} // namespace aio::exec
