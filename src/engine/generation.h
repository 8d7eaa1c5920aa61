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

using aio::GenerateParams; // include/aio/generate_params.h

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
