// Draft-then-verify, shared by PLD and draft-model decoding: the target model checks a proposal in one batch.
#pragma once

#include <functional>
#include <vector>

#include "llama.h"

#include "engine/prob_sampler.h"

namespace aio::decode {

// Proposed continuation of the text after the pending token.
struct Proposal {
  std::vector<llama_token> tokens;
  // For each proposed token, the distribution it was drawn from (sampled draft-model decoding only). Empty means a
  // deterministic proposal (PLD, or any greedy drafter): q is a point mass on the proposed token.
  std::vector<engine::TokenDistribution> draft_dists;
};

// NOTE: Speculative verification (Leviathan et al. 2023; Chen et al. 2023). The target decodes [pending, d1..dk] in
// one batch. Greedy: d_i is kept while it equals the target's argmax, and the target's own token follows the kept
// prefix, so the output equals plain greedy decoding token for token. Sampling: d_i is kept with probability
// min(1, p(d_i) / q(d_i)); at the first rejection a token is drawn from norm(max(0, p - q)); if all are kept, one more
// is drawn from p. This leaves the output distribution exactly that of plain sampling.
// The acceptance rule, for the executor that decoded [pending, d1..dk] in its batched step: logits_at(i) are the target's logits after pending and d1..di. Returns the tokens to emit; the caller keeps
// pending + the first n_accepted drafts in its KV cache and forgets the rest.
std::vector<llama_token> accept_drafts(const std::function<const float *(int32_t)> &logits_at,
                                       const Proposal &proposal, engine::ProbSampler &sampler, int32_t &n_accepted);

// The drafter's sampling: the request's settings with an independent random stream (its own draws must not
// consume the target's).
inline SamplingParams drafter_sampling(SamplingParams target) {
  target.seed ^= 0x5DEECE66DULL;
  return target;
}

} // namespace aio::decode
