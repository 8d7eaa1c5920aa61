#include "decode/proposer.h"

#include <algorithm>

#include "decode/prompt_lookup.h"

namespace aio::decode {

Status PromptLookupProposer::propose(std::span<ProposalRequest> requests) {
  for (ProposalRequest &r : requests) {
    const StrategyParams &p = params_.at(r.seq);
    const int32_t k = std::min(r.max_tokens, p.pld_lookahead);
    if (k > 0) r.out->tokens = propose_prompt_lookup(r.history, p.pld_window, k);
  }
  return {};
}

} // namespace aio::decode
