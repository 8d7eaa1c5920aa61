// What generating a continuation takes (GenerateParams) and gives (GenerationRecord). The decoding itself is the
// executor's (exec::BatchEngine): one engine decodes for the server, the CLI and the benchmarks alike.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "aio/route.h"
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

using aio::FinishReason;
using aio::finish_reason_name;

// One generation: its text and tokens, and the stats the route record carries.
struct GenerationRecord : GenerationStats {
  std::string text;                  // the output, cut at a stop string
  std::vector<llama_token> tokens;   // every generated token (including the ones a stop string cut from the text)
};

// Index of the largest logit (greedy decoding).
llama_token argmax(const float *logits, int32_t n);

// Called with each newly emitted piece of text and the token that produced it; return false to cancel.
using TokenCallback = std::function<bool(std::string_view text, llama_token token)>;

} // namespace aio::engine
