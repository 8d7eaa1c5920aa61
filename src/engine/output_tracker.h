// OutputTracker: what happens to each generated token of ONE sequence, however it was decoded (alone, speculatively,
// or in a batch with other sequences): end-of-generation, stop strings, streaming to the callback, cancellation,
// max_tokens, the context limit, and the timings of the record.
#pragma once

#include <chrono>

#include "engine/generation.h"
#include "engine/text_stream.h"

namespace aio::engine {

class OutputTracker {
public:
  // The callback is held by reference: it must outlive the tracker.
  OutputTracker(const Model &model, const GenerateParams &params, const TokenCallback &on_token, uint32_t n_ctx);

  // Marks the start of prompt processing (prefill time runs from here to the first token).
  void start(int32_t n_prompt_tokens, int32_t n_prefill_tokens_saved);
  // Takes the next generated token. Returns false when generation is over (record().finish_reason says why).
  bool emit(llama_token token);
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
  Clock::time_point t_prefill_, t_decode_;
};

} // namespace aio::engine
