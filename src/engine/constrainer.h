// Constrainer: one sequence's TokenConstraints (include/aio/generate_params.h) while it generates - logit bias,
// presence and frequency penalties counted over what it has generated so far, and the grammar's state (llama.cpp's
// grammar sampler). Every token chooser of the engine applies it to the target model's logits before choosing or
// verifying, and feeds it each emitted token, so plain and speculative decoding obey it alike.
#pragma once

#include <memory>
#include <unordered_map>
#include <vector>

#include "aio/generate_params.h"
#include "aio/status.h"
#include "llama-cpp.h"

namespace aio::engine {

class Model;

class Constrainer {
public:
  // Errors: a logit_bias token outside the model's vocabulary; a grammar llama.cpp cannot parse.
  static Expected<std::unique_ptr<Constrainer>> create(const Model &model, const TokenConstraints &constraints);

  // The logits with bias and penalties applied: a copy, or `logits` itself when neither is set.
  const float *adjust(const float *logits);
  bool has_grammar() const { return grammar_ != nullptr; }
  // Whether the grammar allows `token` next (always true without a grammar). Cheap: checks one token.
  bool allows(llama_token token);
  // Sets the logit of every token the grammar does not allow next to -infinity.
  void restrict(llama_token_data_array *candidates);
  // The best token the grammar allows under `adjusted` logits (the greedy choice).
  llama_token best(const float *adjusted);
  // Advances the state by one emitted token.
  void accept(llama_token token);

private:
  Constrainer(const Model &model, const TokenConstraints &constraints);
  const Model &model_;
  TokenConstraints c_;
  int32_t n_vocab_ = 0;
  llama_sampler_ptr grammar_;
  std::unordered_map<llama_token, int32_t> counts_; // generated tokens so far, for the penalties
  std::vector<float> adjusted_;
  std::vector<llama_token_data> candidates_;
};

} // namespace aio::engine
