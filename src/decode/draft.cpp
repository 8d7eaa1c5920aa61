// Draft-model speculative decoding: the small model proposes k tokens, the routed model verifies them in one batch.
#include <algorithm>

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
  engine::SamplingParams draft_sampling = params.sampling;
  draft_sampling.seed = params.sampling.seed ^ 0x5DEECE66DULL; // independent stream for the drafter's own draws
  engine::ProbSampler draft_sampler(draft_sampling, n_vocab);
  engine::GenerationRecord &rec = loop.record();

  // Adaptive speculation: the draft length follows the acceptance (grow after a fully accepted step, shrink to what
  // was kept otherwise), and after repeated total misses drafting pauses for a doubling number of plain steps, so a
  // drafter that never agrees costs little more than plain decoding. Plain steps are lossless too.
  int32_t draft_len = sp.draft_tokens, misses = 0, pause = 0, next_pause = 4;
  std::vector<llama_token> text = prompt; // prompt + output: what the drafter must have seen
  llama_token pending = sampler.draw(sampler.distribution(loop.logits()));
  if (loop.emit(pending)) {
    text.push_back(pending);
    for (bool going = true; going;) {
      const int32_t k = pause > 0 ? 0
                                  : std::min({draft_len, params.max_tokens - rec.n_generated, loop.room() - 1,
                                              drafter.room() - (static_cast<int32_t>(text.size()) - drafter.n_past())});
      pause = std::max(0, pause - 1);
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
        draft_len = accepted == k ? std::min(draft_len + 1, sp.draft_tokens) : std::max(1, accepted);
        misses = accepted == 0 ? misses + 1 : 0;
        if (accepted > 0) next_pause = 4;
        if (misses >= 3) {
          pause = next_pause;
          next_pause = std::min(next_pause * 2, 256);
          misses = 0;
        }
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
