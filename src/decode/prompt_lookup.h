// The proposer of Prompt Lookup Decoding.
#pragma once

#include <span>
#include <vector>

#include "llama.h"

namespace aio::decode {

// NOTE: Prompt Lookup Decoding (Saxena 2023): for n from `window` down to 1, take the last n tokens of `history`
// (prompt + output so far) and find their most recent earlier occurrence; propose the up to `lookahead` tokens that
// followed it. Returns nothing when no suffix recurs. The paper uses window N = 6, lookahead L = 2.
std::vector<llama_token> propose_prompt_lookup(std::span<const llama_token> history, int window, int lookahead);

} // namespace aio::decode
