// Prompt Lookup Decoding: drafts copied from earlier text, verified by the model itself. No second model involved.
#include <algorithm>

#include "decode/prompt_lookup.h"
#include "decode/speculative.h"
#include "decode/strategy.h"

namespace aio::decode {

Expected<engine::GenerationRecord> generate_pld(engine::Session &session, const std::vector<llama_token> &prompt,
                                                const engine::GenerateParams &params, const StrategyParams &sp,
                                                const engine::TokenCallback &on_token, llama_seq_id seq,
                                                int32_t n_cached) {
  AIO_RETURN_IF_ERROR(sp.validate());
  engine::DecodeLoop loop(session, params, on_token, seq);
  AIO_RETURN_IF_ERROR(loop.start(prompt, n_cached));
  engine::ProbSampler sampler(params.sampling, session.model().info().n_vocab);
  engine::GenerationRecord &rec = loop.record();

  std::vector<llama_token> history = prompt; // prompt + output: where the lookups search
  llama_token pending = sampler.draw(sampler.distribution(loop.logits()));
  if (loop.emit(pending)) {
    history.push_back(pending);
    for (bool going = true; going;) {
      // Never draft past the token budget or the context: room for pending + drafts.
      const int32_t budget = std::min({sp.pld_lookahead, params.max_tokens - rec.n_generated, loop.room() - 1});
      Proposal proposal;
      if (budget > 0) proposal.tokens = propose_prompt_lookup(history, sp.pld_window, budget);
      std::vector<llama_token> out;
      if (proposal.tokens.empty()) {
        auto next = plain_step(loop, pending, sampler);
        if (!next) return next.status();
        out.push_back(*next);
      } else {
        int32_t accepted = 0;
        auto verified = verify(loop, pending, proposal, sampler, accepted);
        if (!verified) return verified.status();
        rec.n_drafted += static_cast<int32_t>(proposal.tokens.size());
        rec.n_accepted += accepted;
        out = std::move(*verified);
      }
      for (llama_token t : out) {
        if (!(going = loop.emit(t))) break;
        history.push_back(t);
      }
      pending = out.back();
    }
  }
  return loop.finish();
}

} // namespace aio::decode
