// Generator: plain autoregressive decoding of one sequence on a Session, with streaming, stop strings and timings.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "aio/status.h"
#include "engine/sampling.h"
#include "engine/session.h"

namespace aio::engine {

struct GenerateParams {
  int32_t max_tokens = 128;              // stop after this many generated tokens
  std::vector<std::string> stop;         // stop strings: output ends before the first one (it is not included)
  SamplingParams sampling;               // greedy by default
  bool ignore_eos = false;               // keep going past end-of-generation tokens (benchmarks only)
  Status validate() const;
};

enum class FinishReason { stop_string, end_of_generation, max_tokens, context_full, cancelled };
const char *finish_reason_name(FinishReason r);

// What one generation did and how long each phase took.
struct GenerationRecord {
  std::string text;                  // the output, cut at a stop string
  std::vector<llama_token> tokens;   // every generated token (including the ones a stop string cut from the text)
  int32_t n_prompt_tokens = 0;
  double prefill_ms = 0;             // prompt processing plus sampling of the first token (= time to first token)
  int32_t n_prefill_tokens_saved = 0; // prompt tokens whose KV was already cached (not prefilled again)
  int32_t n_generated = 0;           // tokens generated
  int32_t n_decode_steps = 0;        // forward passes of the model after the prompt (one per token for plain)
  double decode_ms = 0;              // time from the first generated token to the last
  int32_t n_drafted = 0;             // tokens proposed by PLD or a draft model
  int32_t n_accepted = 0;            // of those, tokens the model agreed with
  FinishReason finish_reason = FinishReason::max_tokens;

  double prefill_tokens_per_second() const { return prefill_ms > 0 ? n_prompt_tokens * 1000.0 / prefill_ms : 0; }
  // Tokens after the first per second of decode time; for plain decoding this is llama-bench's tg measure.
  double decode_tokens_per_second() const {
    return decode_ms > 0 && n_generated > 1 ? (n_generated - 1) * 1000.0 / decode_ms : 0;
  }
  double acceptance_rate() const { return n_drafted > 0 ? static_cast<double>(n_accepted) / n_drafted : 0; }
};

// Index of the largest logit (greedy decoding).
llama_token argmax(const float *logits, int32_t n);

// Called with each newly emitted piece of text and the token that produced it; return false to cancel.
using TokenCallback = std::function<bool(std::string_view text, llama_token token)>;

// Plain decoding (one token per forward pass) of a continuation of `prompt` in sequence `seq` of `session`.
// The first n_cached prompt tokens may already be in that sequence's KV cache (kept from the lm probe); everything
// else in the sequence is discarded first. Fails with context_overflow when the prompt does not fit the context (no
// silent truncation).
Expected<GenerationRecord> generate(Session &session, const std::vector<llama_token> &prompt,
                                    const GenerateParams &params, const TokenCallback &on_token = {},
                                    llama_seq_id seq = 0, int32_t n_cached = 0);

} // namespace aio::engine
