// ProbSampler: the sampling distribution as explicit probabilities, for speculative decoding's acceptance rule.
// It applies the same llama.cpp filters as make_sampler (top-k -> top-p -> temperature) and then a softmax, i.e.
// exactly the distribution make_sampler's final draw samples from; only the random stream differs.
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include "engine/constrainer.h"
#include "engine/sampling.h"

namespace aio::engine {

using TokenDistribution = std::vector<llama_token_data>; // candidates with .p summing to 1

class ProbSampler {
public:
  // `constraints` (may be null): the request's logit bias, penalties and grammar, applied before the filters.
  ProbSampler(const SamplingParams &params, int32_t n_vocab, std::unique_ptr<Constrainer> constraints = nullptr);

  // The distribution over the vocabulary that `params` (and the constraints in their current state) define for these
  // logits (greedy: the best allowed token with p = 1).
  TokenDistribution distribution(const float *logits);
  // The token chosen at this position was `token`: advances the constraints (penalty counts, the grammar's state).
  // Called for every emitted token, in order.
  void accept(llama_token token) {
    if (constraints_) constraints_->accept(token);
  }
  // A token drawn from `dist`.
  llama_token draw(const TokenDistribution &dist);
  // One token drawn from distribution(logits), without building it when it need not be: under a grammar with plain
  // temperature sampling (no top-k / top-p), tokens are drawn from the unconstrained distribution until the grammar
  // allows one - exactly a draw from the distribution restricted to allowed tokens (rejection sampling), at the cost
  // of a one-token check per try instead of the grammar over the whole vocabulary (0.1-0.4 s a step for a large
  // enum). Draws are checked in batches (8, 256, 4,096); when none is allowed it builds the distribution after all.
  llama_token sample(const float *logits);
  // A uniform draw in [0, 1).
  double uniform();
  int32_t n_vocab() const { return n_vocab_; }

private:
  SamplingParams params_;
  int32_t n_vocab_;
  llama_sampler_ptr filter_;
  std::mt19937_64 rng_;
  std::vector<double> cumulative_; // sample()'s running sums of the unconstrained probabilities
  std::vector<int8_t> verdicts_;   // sample()'s grammar verdicts per token, all 0 between calls
  std::unique_ptr<Constrainer> constraints_;
};

// Probability of `token` in `dist` (0 when it is not a candidate).
double probability_of(const TokenDistribution &dist, llama_token token);

} // namespace aio::engine
