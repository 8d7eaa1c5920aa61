// OutputTracker: what happens to each generated token of ONE sequence, however it was decoded (alone, speculatively,
// or in a batch with other sequences): end-of-generation, stop strings, streaming to the callback, cancellation,
// max_tokens, the context limit, and the timings of the record.
#pragma once

#include <chrono>
#include <deque>
#include <optional>

#include "engine/generation.h"
#include "engine/text_stream.h"

namespace aio::engine {

class OutputTracker {
public:
  // The callback is held by reference: it must outlive the tracker.
  OutputTracker(const Model &model, const GenerateParams &params, const TokenCallback &on_token, uint32_t n_ctx);

  // Marks the start of prompt processing (prefill time runs from here to the first token).
  void start(int32_t n_prompt_tokens, int32_t n_prefill_tokens_saved, double queue_ms = 0);
  // Takes the next generated token (and its log-probability, when the params ask for them). Returns false when
  // generation is over (record().finish_reason says why).
  bool emit(llama_token token, std::optional<TokenLogprob> logprob = std::nullopt);
  // Flushes held-back text and closes the timings; returns the record.
  GenerationRecord finish();

  GenerationRecord &record() { return rec_; }

private:
  using Clock = std::chrono::steady_clock;
  const Model &model_;
  const GenerateParams &params_;
  const TokenCallback &on_token_;
  uint32_t n_ctx_;
  TextStream stream_;
  GenerationRecord rec_;
  // Log-probabilities wait here until the text they produced is emitted (text may be held back for a stop string,
  // and what a stop string cuts never is): then they move to rec_.logprobs and go out with that text.
  std::deque<TokenLogprob> waiting_;
  size_t covered_bytes_ = 0; // bytes of emitted text whose tokens' log-probabilities went out
  // Moves the waiting log-probabilities whose text is now emitted to the record; returns how many.
  size_t release_logprobs();
  Clock::time_point t_prefill_, t_decode_;
};

} // namespace aio::engine
