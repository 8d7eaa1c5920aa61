// What generating a continuation takes (GenerateParams) and gives (GenerationRecord). The decoding itself is the
// executor's (exec::BatchEngine): one engine decodes for the server, the CLI and the benchmarks alike.
#pragma once

#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aio/route.h"
#include "aio/status.h"
#include "engine/sampling.h"
#include "engine/session.h"

namespace aio::engine {

// One generated token's log-probability under the model (log-softmax of its logits, before sampling filters and
// constraints), and the most likely alternatives at that position, best first.
struct TokenLogprob {
  llama_token token = -1;
  std::string piece; // the token's bytes as they go into the text (may be part of a UTF-8 character)
  float logprob = 0.0f;
  struct Alternative {
    llama_token token = -1;
    std::string piece;
    float logprob = 0.0f;
  };
  std::vector<Alternative> top;
};

// One generation: its text and tokens, and the stats the route record carries.
struct GenerationRecord : GenerationStats {
  std::string text;                  // the output, cut at a stop string
  std::vector<llama_token> tokens;   // every generated token (including the ones a stop string cut from the text)
  std::vector<TokenLogprob> logprobs; // when asked for: one per token of `text` (not of what a stop string cut)
};

// Index of the largest logit (greedy decoding).
llama_token argmax(const float *logits, int32_t n);

// `token`'s log-probability in one row of logits, and the n_top most likely tokens'.
TokenLogprob logprob_of(const Model &model, const float *logits, llama_token token, int32_t n_top);

// Called with each newly emitted piece of text and the token that produced it (-1 for text held back until the end),
// and - when GenerateParams::logprobs asks for them - the log-probabilities of the tokens whose text this piece
// completes (tokens cut off by a stop string never get theirs). Return false to cancel.
using TokenCallback =
    std::function<bool(std::string_view text, llama_token token, std::span<const TokenLogprob> logprobs)>;

} // namespace aio::engine
