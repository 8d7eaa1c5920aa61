// DecodeLoop: one sequence decoded on its own Session, shared by every single-sequence strategy (plain, PLD, draft):
// the prompt check and prefill (reusing KV the probe left), the KV position, and an OutputTracker for everything that
// happens to the generated tokens.
#pragma once

#include <span>
#include <vector>

#include "engine/generator.h"
#include "engine/output_tracker.h"

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
  bool emit(llama_token token) { return out_.emit(token); }

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
  GenerationRecord &record() { return out_.record(); }

  // Flushes held-back text and closes the timings; returns the record.
  GenerationRecord finish() { return out_.finish(); }

private:
  Session &session_;
  const GenerateParams &params_;
  llama_seq_id seq_;
  OutputTracker out_;
  std::vector<llama_token> prompt_;
  llama_pos n_past_ = 0;
  llama_batch batch_{};
  int32_t batch_capacity_ = 0;
};

} // namespace aio::engine
