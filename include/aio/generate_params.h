// How a continuation is generated: length, stop strings and sampling. Plain structs shared by every layer (the
// workload a benchmark builds, the request the server parses, the job the engine runs).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "aio/status.h"

namespace aio {

namespace engine {
class PreparedGrammar; // engine/constrainer.h: a grammar compiled ahead, off the engine's thread
}

struct SamplingParams {
  float temperature = 0.0f; // 0 = greedy (argmax); > 0 samples from the softened distribution
  int32_t top_k = 40;       // keep the k most likely tokens before sampling (0 = all)
  float top_p = 0.95f;      // then keep the smallest set whose probability reaches p (1 = all)
  uint32_t seed = 0;        // random seed for sampling; the same seed gives the same output
  bool greedy() const { return temperature <= 0.0f; }
  Status validate() const;
};

// What a request asks of every token beyond sampling settings (the OpenAI API's logit_bias, presence and frequency
// penalties, and structured outputs as a grammar). Applied to the answering model's logits before a token is chosen
// or a draft verified, so speculative decoding stays lossless under them.
struct TokenConstraints {
  std::vector<std::pair<int32_t, float>> logit_bias; // token id -> added to its logit (-100 bans it, +100 all but forces)
  float presence_penalty = 0.0f;  // subtracted from a token's logit once it has been generated (OpenAI: -2..2)
  float frequency_penalty = 0.0f; // subtracted per time it has been generated so far
  std::string grammar;            // GBNF (llama.cpp's grammar format): the output must match it; "" = free
  // A lazy grammar constrains nothing until one of its triggers appears in the output (a tool call's opening marker
  // when the model may also answer in text); then the output from the trigger on must match it.
  bool grammar_lazy = false;
  std::vector<std::string> grammar_trigger_patterns; // regular expressions over the output
  std::vector<int32_t> grammar_trigger_tokens;
  std::vector<int32_t> grammar_prefill; // tokens fed to a strict grammar before the first generated one
  // The grammar already compiled for a model's vocabulary on the request's own thread (the Router does it before the
  // job is queued), so the engine's thread only steps; when absent or made for another grammar or vocabulary, the
  // engine compiles it itself.
  std::shared_ptr<engine::PreparedGrammar> prepared;
  bool any() const {
    return !logit_bias.empty() || presence_penalty != 0.0f || frequency_penalty != 0.0f || !grammar.empty();
  }
};

struct GenerateParams {
  int32_t max_tokens = 128;              // stop after this many generated tokens
  std::vector<std::string> stop;         // stop strings: output ends before the first one (it is not included)
  SamplingParams sampling;               // greedy by default
  TokenConstraints constraints;          // none by default
  // Per-token log-probabilities in the record: -1 none; 0..20 each token's own and that many most likely alternatives
  // (the model's distribution, before sampling filters and constraints - what the OpenAI API reports).
  int32_t logprobs = -1;
  bool ignore_eos = false;               // keep going past end-of-generation tokens (benchmarks only)
  // Special tokens whose text stays in the output (normally control tokens are hidden): a chat format's tool-call
  // markers, which the answer's parser must see.
  std::vector<int32_t> shown_special_tokens;
  Status validate() const;
};

} // namespace aio
