#include "engine/constrainer.h"

#include <algorithm>
#include <cmath>

#include "engine/generation.h"
#include "engine/model.h"

namespace aio::engine {

namespace {
bool same_grammar(const TokenConstraints &a, const TokenConstraints &b) {
  return a.grammar == b.grammar && a.grammar_lazy == b.grammar_lazy &&
         a.grammar_trigger_patterns == b.grammar_trigger_patterns && a.grammar_trigger_tokens == b.grammar_trigger_tokens;
}
} // namespace

llama_sampler_ptr compile_grammar(const Model &model, const TokenConstraints &constraints) {
  if (constraints.grammar_lazy) {
    std::vector<const char *> patterns;
    for (const auto &p : constraints.grammar_trigger_patterns) patterns.push_back(p.c_str());
    return llama_sampler_ptr(llama_sampler_init_grammar_lazy_patterns(
        model.vocab(), constraints.grammar.c_str(), "root", patterns.data(), patterns.size(),
        constraints.grammar_trigger_tokens.data(), constraints.grammar_trigger_tokens.size()));
  }
  return llama_sampler_ptr(llama_sampler_init_grammar(model.vocab(), constraints.grammar.c_str(), "root"));
}

Expected<std::shared_ptr<PreparedGrammar>> PreparedGrammar::prepare(const Model &model,
                                                                   const TokenConstraints &constraints) {
  std::shared_ptr<PreparedGrammar> g(new PreparedGrammar());
  g->model_ = &model;
  g->made_for_ = constraints;
  g->made_for_.prepared.reset(); // itself: no cycle
  g->sampler_ = compile_grammar(model, constraints);
  if (!g->sampler_)
    return invalid_argument("the grammar does not parse (llama.cpp's GBNF; a JSON schema it was made from may use "
                            "features it cannot express)");
  return g;
}

bool PreparedGrammar::made_for(const Model &model, const TokenConstraints &constraints) const {
  return same_grammar(made_for_, constraints) && (&model == model_ || model.shares_vocab_with(*model_));
}

bool PreparedGrammar::fits(const Model &model, const TokenConstraints &constraints) const {
  if (!made_for(model, constraints)) return false;
  std::lock_guard lock(mu_);
  return sampler_ != nullptr;
}

llama_sampler_ptr PreparedGrammar::take(const Model &model, const TokenConstraints &constraints) {
  if (!made_for(model, constraints)) return nullptr;
  std::lock_guard lock(mu_);
  return std::move(sampler_);
}

Constrainer::Constrainer(const Model &model, const TokenConstraints &constraints)
    : model_(model), c_(constraints), n_vocab_(model.info().n_vocab) {}

Expected<std::unique_ptr<Constrainer>> Constrainer::create(const Model &model, const TokenConstraints &constraints) {
  std::unique_ptr<Constrainer> c(new Constrainer(model, constraints));
  for (const auto &[token, bias] : constraints.logit_bias)
    if (token < 0 || token >= c->n_vocab_)
      return invalid_argument("logit_bias names token " + std::to_string(token) + ", but " + model.info().name +
                              " has token ids 0.." + std::to_string(c->n_vocab_ - 1));
  if (!constraints.grammar.empty()) {
    // Compiled ahead when the Router could (PreparedGrammar); here only when it could not.
    if (constraints.prepared) c->grammar_ = constraints.prepared->take(model, constraints);
    if (!c->grammar_) c->grammar_ = compile_grammar(model, constraints);
    if (!c->grammar_)
      return invalid_argument("the grammar does not parse (llama.cpp's GBNF; a JSON schema it was made from may use "
                              "features it cannot express)");
    try {
      for (llama_token t : constraints.grammar_prefill) llama_sampler_accept(c->grammar_.get(), t);
    } catch (const std::exception &e) {
      return invalid_argument(std::string("the grammar does not accept the answer's opening tokens: ") + e.what());
    }
  }
  return c;
}

const float *Constrainer::adjust(const float *logits) {
  if (c_.logit_bias.empty() && counts_.empty()) return logits;
  adjusted_.assign(logits, logits + n_vocab_);
  for (const auto &[token, bias] : c_.logit_bias) adjusted_[static_cast<size_t>(token)] += bias;
  // OpenAI's definition: logit - count * frequency_penalty - (count > 0) * presence_penalty.
  for (const auto &[token, count] : counts_)
    adjusted_[static_cast<size_t>(token)] -= static_cast<float>(count) * c_.frequency_penalty + c_.presence_penalty;
  return adjusted_.data();
}

bool Constrainer::allows(llama_token token) {
  if (!grammar_) return true;
  llama_token_data one{token, 0.0f, 0.0f};
  llama_token_data_array array{&one, 1, -1, false};
  llama_sampler_apply(grammar_.get(), &array);
  return std::isfinite(one.logit);
}

void Constrainer::restrict(llama_token_data_array *candidates) {
  if (grammar_) llama_sampler_apply(grammar_.get(), candidates);
}

llama_token Constrainer::best(const float *adjusted) {
  const llama_token top = argmax(adjusted, n_vocab_);
  // The unconstrained best is usually allowed (llama-server checks it first too): one token instead of the vocabulary.
  if (allows(top)) return top;
  // Then widening windows of the highest-logit tokens: the best allowed token in a window holds every token outside
  // it at a lower logit, so it is the best allowed token of the whole vocabulary. A grammar costs (its live
  // alternatives) x (tokens checked) per step - a 1,000-value enum over 128k tokens took 0.4 s on the engine thread,
  // stalling every sequence; a window of a few hundred tokens usually settles it in a millisecond.
  candidates_.resize(static_cast<size_t>(n_vocab_));
  for (llama_token t = 0; t < n_vocab_; ++t) candidates_[static_cast<size_t>(t)] = {t, adjusted[t], 0.0f};
  const auto higher = [](const llama_token_data &a, const llama_token_data &b) { return a.logit > b.logit; };
  size_t done = 0;
  for (size_t window = 256; done < candidates_.size(); window *= 8) {
    const size_t end = std::min(window, candidates_.size());
    if (end < candidates_.size()) std::partial_sort(candidates_.begin() + done, candidates_.begin() + end, candidates_.end(), higher);
    llama_token_data_array array{candidates_.data() + done, end - done, -1, false};
    restrict(&array);
    llama_token chosen = -1;
    for (size_t i = 0; i < array.size; ++i)
      if (std::isfinite(array.data[i].logit) && (chosen < 0 || array.data[i].logit > adjusted[chosen]))
        chosen = array.data[i].id;
    if (chosen >= 0) return chosen;
    done = end;
  }
  // Nothing allowed cannot happen with a well-formed grammar (when it is complete, end-of-generation is allowed);
  // should it, end the output rather than break the grammar.
  return llama_vocab_eos(model_.vocab());
}

void Constrainer::accept(llama_token token) {
  if (c_.presence_penalty != 0.0f || c_.frequency_penalty != 0.0f) ++counts_[token];
  // End of generation ends the output: the grammar needs no more (and llama.cpp aborts on one it did not allow).
  if (!grammar_ || model_.is_end_of_generation(token)) return;
  try {
    llama_sampler_accept(grammar_.get(), token);
  } catch (const std::exception &) {
    // Only tokens the grammar allowed reach here; should one still not fit, the next restrict() shows it as no
    // allowed token at all, and best() ends the output.
  }
}

} // namespace aio::engine
