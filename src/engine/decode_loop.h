// DecodeLoop: the bookkeeping every decoding strategy shares, so plain, PLD and draft decoding behave identically
// at the edges: the prompt check and prefill (reusing KV the probe left), end-of-generation, stop strings, streaming,
// cancellation, max_tokens, the context limit, and the timings of the record.
#pragma once

#include <chrono>
#include <span>
#include <vector>

#include "engine/generator.h"
#include "engine/text_stream.h"

namespace aio::engine {

class DecodeLoop {
public:
  DecodeLoop(Session &session, const GenerateParams &params, const TokenCallback &on_token, llama_seq_id seq);
  ~DecodeLoop();
  DecodeLoop(const DecodeLoop &) = delete;
  DecodeLoop &operator=(const DecodeLoop &) = delete;

  // Checks the prompt fits, then prefills prompt[n_cached:] at positions n_cached.. (the first n_cached tokens are
  // already in the KV cache of this sequence, e.g. from the lm probe). Logits of the last prompt token are ready after.
  Status start(const std::vector<llama_token> &prompt, int32_t n_cached = 0);

  // Takes the next generated token. Returns false when generation is over (the record's finish_reason says why).
  bool emit(llama_token token);

  // Decodes `tokens` at positions n_past().. with logits for every one of them (for verification) or only the last.
  Status decode(std::span<const llama_token> tokens, bool all_logits);
  // Forgets KV positions from `pos` on (rejected draft tokens) and makes n_past() = pos.
  void rollback(llama_pos pos);

  llama_pos n_past() const { return n_past_; }
  // Positions still free in the context.
  int32_t room() const { return static_cast<int32_t>(session_.n_ctx()) - n_past_; }
  // Logits of output i of the last decode (-1 = last).
  const float *logits(int32_t i = -1) const { return session_.logits(i); }
  Session &session() { return session_; }
  const std::vector<llama_token> &prompt() const { return prompt_; }
  GenerationRecord &record() { return rec_; }

  // Flushes held-back text and closes the timings; returns the record.
  GenerationRecord finish();

private:
  using Clock = std::chrono::steady_clock;
  Session &session_;
  const GenerateParams &params_;
  const TokenCallback &on_token_;
  llama_seq_id seq_;
  TextStream stream_;
  GenerationRecord rec_;
  std::vector<llama_token> prompt_;
  llama_pos n_past_ = 0;
  llama_batch batch_{};
  int32_t batch_capacity_ = 0;
  Clock::time_point t_prefill_, t_decode_;
};

} // namespace aio::engine
