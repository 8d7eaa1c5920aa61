// How many prefill tokens one batched step may carry beside its decode tokens (chunked prefill, as Sarathi-Serve and
// vLLM do it): decode tokens go first, then prefill and lm-probe chunks up to this budget, so that a long prompt
// arriving among running streams never stalls their next token for long.
//
// The budget is found on this machine, for this model, from the engine's own steps: the time of a decode-only step
// is measured, and the prefill chunk is adjusted after every step that carried one - grown while such steps stay well
// under `step_factor` decode-only steps, shrunk in proportion when one runs over (below min_chunk tokens, a duty
// cycle: min_chunk tokens every few steps, at the rate that keeps the mean step at the factor). A controller rather
// than a per-token cost, because on a CPU a token's cost falls steeply with the chunk's size (small batches re-read
// the weights, large ones run as matrix products): a chunk of 50 can cost little more than one of 8 - except deep in
// a long context, where each token's attention over it dominates. With no stream running - on this
// engine or on another sharing the cores - nobody waits: prefill takes the whole batch, unless another model takes
// turns on the cores (Neighbours::resident), whose next request would wait out the step. A fixed budget (tokens per
// step, decode included) replaces the controller.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "aio/status.h"

namespace aio::exec {

// Who else is on this engine's cores through its next step, as the scheduler that steps engines in turns says.
enum class Neighbours {
  none,     // the engine steps alone (one model, or an engine in a thread of its own)
  resident, // another model's engine takes turns with it: a request that arrives for that one waits for this step
  waiting,  // ... and has streams waiting for their next token through this step
};

struct StepBudgetParams {
  int32_t fixed_tokens = 0;  // > 0: tokens per step, decode + prefill (no measuring); 0: measured (auto)
  // auto: a step with prefill may last this many decode-only steps. Measured (bench/serve_long_prompt.py, 1B, 2
  // cores, 6 streams, a 3,000-token prompt): the streams' inter-token p50 sits near 1.9x a plain step and the p99 at
  // 2.4-3.7x (3.7x at 3.0 with an earlier controller), against 30-38x with whole-batch chunks; the long prompt's
  // first token comes after 91-132 s instead of 31-39 s.
  double step_factor = 2.0;
  int32_t min_chunk = 4;     // the fewest prefill tokens a step beside running streams carries, if it carries any
  // Where even min_chunk tokens make a step run over the factor (a prompt token's attention grows with its depth: at
  // 2,500 tokens of context a 1B's 4-token chunk added ~190 ms to a 59 ms decode step), the chunk becomes a duty
  // cycle: min_chunk tokens every few steps, the steps between them decode-only, so that the streams' mean step stays
  // near the factor. A long prompt beside streams still advances at least this many tokens a step on average.
  double min_tokens_per_step = 0.25;
  // > 0: a prompt whose whole remaining prefill the engine expects to take at most this long (ms, the step included)
  // goes in one step even beside running streams - its first token comes without the budget's many small steps, each
  // of which also carries the streams' decode (on a compute-bound prefill, a short prompt in budget chunks takes about
  // twice its prefill time alone), at the price of one longer gap for the streams. The streams wait for the same
  // prefill work either way, so their mean time per token barely moves; longer prompts still go in budget chunks.
  // 0: every prompt beside running streams goes in budget chunks. kStallAuto (the default): kAutoStallSteps decode-only
  // steps of this model as it runs now, so the allowance follows the machine and the batch (on a GPU whose step is
  // 20 ms it is 140 ms, not seconds).
  static constexpr double kStallAuto = -1;
  // Measured: 1,500 ms beside a 3B's 223 ms decode step (6.7 steps) cut the p99 time to first token of short chat
  // prompts in 12 of 13 paired measurements, open and closed loop (docs/benchmarks.md), at equal goodput.
  static constexpr double kAutoStallSteps = 7;
  double max_stall_ms = kStallAuto;
  int32_t first_chunk = 128; // the chunk before any step is measured (the controller shrinks it at once if too big)
  // Neighbours::resident: a step that only reads prompts carries at most the stall allowance's tokens, and at least
  // this many (0: the whole batch). Nobody waits when such a step starts, but a request that arrives for the other
  // model during it waits for its end: whole 512-token steps of a 1B at 2-4k tokens of context took 8.6-14.8 s, and
  // they were where the 135M's requests still waited 10 s in the long mix (docs/benchmarks.md). 128, because on a CPU
  // a batch of 128 reads about as fast as one of 512 (llama-bench, 1B at depth 2,400: 42 against 40 tokens/s; 32 read
  // 22), so a long prompt loses little; where a step is fast, the allowance lets more through.
  int32_t resident_chunk = 128;
  Status validate() const;
  // "auto" or a number of tokens, as `--step-budget` and the config's step_budget take it.
  static Expected<StepBudgetParams> parse(const std::string &budget, double step_factor);
  std::string describe() const; // "auto (3x a decode step)" or "64 tokens"
};

class StepBudget {
public:
  explicit StepBudget(StepBudgetParams params = {}) : p_(params), chunk_(params.first_chunk) {}
  // The most prefill tokens the next step may carry, given its decode tokens, the room left in the batch and the
  // remaining prompt of each request waiting for its prefill, longest-waiting first (the order the step fills them).
  // Within the stall allowance, waiting prompts go whole in that order as long as their sum fits: requests that
  // arrive together (a burst of short chats) start together, as they would with no stream running, instead of the
  // first one whole and the rest a chunk a step - which left them a step or more behind it for the rest of their
  // answers, in steps with fewer sequences (measured: 8 streams arriving together at 0.92-0.95x llama-server's rate).
  // Neighbours::waiting: another engine on the same cores has streams waiting for their next token (the scheduler
  // steps one engine at a time, so this step holds them up as much as this engine's own): with no decode token here, a
  // step of prefill may then last the stall allowance (at least the chunk), not the whole batch. (Without it a
  // 3,000-token prompt for a 1B went in 512-token steps of ~12 s while a 135M's streams waited: inter-token p99 41 s
  // in the long mix.) Neighbours::resident: nobody waits yet, and the step is held to resident_chunk or the allowance.
  int32_t prefill_tokens(int32_t n_decode, int32_t room, const std::vector<int32_t> &waiting = {},
                         Neighbours neighbours = Neighbours::none) const;
  // A step ran: its decode tokens (pending tokens and drafts), prefill tokens, the time of its forward pass, and
  // whether a prompt was waiting for its prefill when the step was filled (a duty-cycled chunk is earned by steps
  // that had one waiting, and spent by the step that carries it).
  void observe(int32_t n_decode, int32_t n_prefill, double ms, bool prompt_waited = true);
  // The measurements: a decode-only step's time (0 until measured) and the current prefill chunk beside decodes:
  // tokens per step on average (below min_chunk: a duty cycle of min_chunk-token chunks).
  double decode_step_ms() const { return decode_ms_; }
  double chunk() const { return chunk_; }
  // The measured cost of one prefill token (ms; 0 until a step with prefill was seen).
  double prefill_token_ms() const { return token_ms_; }
  // The longest step a short prompt may make whole now (ms; 0: off or not yet measured).
  double stall_allowance_ms() const;
  // A request waiting for its first token, weighed for highest-response-ratio-next (HRRN, as Brinch Hansen's
  // scheduler has it): (time waited + time its prompt takes to read) / that reading time. A short prompt's ratio
  // climbs fast, so it goes before a long one that arrived a little earlier - its first token costs the long one a
  // moment - while a long prompt's ratio still climbs as it waits, so it is never passed for good. The reading is the
  // request's whole prompt (less what the cache holds), not what is left of it: weighed by what is left, a long prompt
  // near its end counts as a one-step job that has waited a minute and outranks every short request (in one paired
  // long-mix rung, the small model's median queue wait was 8.0 s that way and 2.0 s weighed whole:
  // docs/benchmarks.md). Its time is the tokens at the measured cost per token, at least one decode step (a first
  // token takes one step), and at least 1 ms before anything is measured (an unmeasured engine's requests then go
  // first, and measure it).
  double response_ratio(double waited_ms, int64_t prompt_tokens) const;

private:
  StepBudgetParams p_;
  double decode_ms_ = 0; // moving average of decode-only steps
  double chunk_;         // prefill tokens beside running decodes (auto), on average per step
  double credit_ = 0;    // chunk_ < min_chunk: tokens earned towards the next min_chunk chunk
  double token_ms_ = 0;  // moving average of a prefill token's cost: a step's time beyond its decode, per token
};

} // namespace aio::exec
