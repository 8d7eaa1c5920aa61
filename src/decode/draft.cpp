// Draft-model speculative decoding: the small model proposes k tokens, the routed model verifies them in one batch.
#include <algorithm>

#include "decode/adaptive_draft.h"
#include "decode/speculative.h"
#include "decode/strategy.h"

namespace aio::decode {

Expected<engine::GenerationRecord> generate_draft(engine::Session &session, engine::Session &draft,
                                                  const std::vector<llama_token> &prompt,
                                                  const engine::GenerateParams &params, const StrategyParams &sp,
                                                  const engine::TokenCallback &on_token, llama_seq_id seq,
                                                  int32_t n_cached) {
  AIO_RETURN_IF_ERROR(sp.validate());
  std::string why;
  if (!session.model().shares_vocab_with(draft.model(), &why))
    return invalid_argument("draft model " + draft.model().info().name + " cannot draft for " +
                            session.model().info().name + ": their vocabularies differ (" + why +
                            "); speculative decoding needs two models with the same tokenizer");

  engine::DecodeLoop loop(session, params, on_token, seq);
  AIO_RETURN_IF_ERROR(loop.start(prompt, n_cached));
  // The drafter runs its own loop over the same sequence: only its KV bookkeeping is used.
  engine::GenerateParams draft_params;
  draft_params.max_tokens = std::numeric_limits<int32_t>::max();
  engine::DecodeLoop drafter(draft, draft_params, {}, seq);
  AIO_RETURN_IF_ERROR(drafter.start(prompt));

  const int32_t n_vocab = session.model().info().n_vocab;
  engine::ProbSampler sampler(params.sampling, n_vocab);
  engine::ProbSampler draft_sampler(drafter_sampling(params.sampling), n_vocab);
  engine::GenerationRecord &rec = loop.record();

  AdaptiveDraftLength adaptive(sp.draft_tokens);
  std::vector<llama_token> text = prompt; // prompt + output: what the drafter must have seen
  llama_token pending = sampler.draw(sampler.distribution(loop.logits()));
  if (loop.emit(pending)) {
    text.push_back(pending);
    for (bool going = true; going;) {
      const int32_t k = std::min({adaptive.next(), params.max_tokens - rec.n_generated, loop.room() - 1,
                                  drafter.room() - (static_cast<int32_t>(text.size()) - drafter.n_past())});
      std::vector<llama_token> out;
      if (k <= 0) {
        auto next = plain_step(loop, pending, sampler);
        if (!next) return next.status();
        out.push_back(*next);
      } else {
        // Catch the drafter up on everything it has not seen (at least the pending token), then let it run k steps.
        AIO_RETURN_IF_ERROR(drafter.decode(std::span(text).subspan(static_cast<size_t>(drafter.n_past())), false));
        Proposal proposal;
        for (int32_t i = 0; i < k; ++i) {
          engine::TokenDistribution q = draft_sampler.distribution(drafter.logits());
          const llama_token d = draft_sampler.draw(q);
          proposal.tokens.push_back(d);
          if (!params.sampling.greedy()) proposal.draft_dists.push_back(std::move(q));
          if (i + 1 < k) AIO_RETURN_IF_ERROR(drafter.decode(std::span(&d, 1), false));
        }
        int32_t accepted = 0;
        auto verified = verify(loop, pending, proposal, sampler, accepted);
        if (!verified) return verified.status();
        rec.n_drafted += k;
        rec.n_accepted += accepted;
        out = std::move(*verified);
        adaptive.observe(k, accepted);
        // The drafter keeps what the target kept: pending and the accepted drafts it has decoded.
        drafter.rollback(std::min(drafter.n_past(), loop.n_past()));
      }
      for (llama_token t : out) {
        if (!(going = loop.emit(t))) break;
        text.push_back(t);
      }
      pending = out.back();
    }
  }
  engine::GenerationRecord done = loop.finish();
  done.prefill_ms += drafter.record().prefill_ms;
  return done;
}

} // namespace aio::decode
