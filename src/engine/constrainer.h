// Constrainer: one sequence's TokenConstraints (include/aio/generate_params.h) while it generates - logit bias,
// presence and frequency penalties counted over what it has generated so far, and the grammar's state (llama.cpp's
// grammar sampler). Every token chooser of the engine applies it to the target model's logits before choosing or
// verifying, and feeds it each emitted token, so plain and speculative decoding obey it alike.
#pragma once

#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "aio/generate_params.h"
#include "aio/status.h"
#include "llama-cpp.h"

namespace aio::engine {

class Model;

// A request's grammar compiled for one model's vocabulary ahead of its job - parsing the GBNF and building its stacks,
// which for a large schema is the costly part - on the thread that prepares the job, not the engine's. The engine's
// Constrainer takes it (once) when its model reads the same vocabulary and the grammar is the same.
class PreparedGrammar {
public:
  static Expected<std::shared_ptr<PreparedGrammar>> prepare(const Model &model, const TokenConstraints &constraints);
  // The compiled sampler, when it fits `model` and `constraints`' grammar and has not been taken yet; else null.
  llama_sampler_ptr take(const Model &model, const TokenConstraints &constraints);
  // Whether it was made for this grammar and a vocabulary `model` shares, and is still there to take.
  bool fits(const Model &model, const TokenConstraints &constraints) const;

private:
  PreparedGrammar() = default;
  bool made_for(const Model &model, const TokenConstraints &constraints) const;
  const Model *model_ = nullptr; // models outlive requests
  TokenConstraints made_for_;    // the grammar fields it was compiled from (prepared left empty)
  mutable std::mutex mu_;
  llama_sampler_ptr sampler_;
};

// The grammar sampler for `constraints` (strict or lazy), or null when llama.cpp cannot parse it.
llama_sampler_ptr compile_grammar(const Model &model, const TokenConstraints &constraints);

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
