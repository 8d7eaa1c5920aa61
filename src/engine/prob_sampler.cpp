#include "engine/prob_sampler.h"

#include <algorithm>
#include <cmath>

namespace aio::engine {

ProbSampler::ProbSampler(const SamplingParams &params, int32_t n_vocab, std::unique_ptr<Constrainer> constraints)
    : params_(params), n_vocab_(n_vocab), rng_(params.seed), constraints_(std::move(constraints)) {
  llama_sampler_chain_params cp = llama_sampler_chain_default_params();
  cp.no_perf = true;
  filter_.reset(llama_sampler_chain_init(cp));
  if (params.top_k > 0) llama_sampler_chain_add(filter_.get(), llama_sampler_init_top_k(params.top_k));
  if (params.top_p < 1.0f) llama_sampler_chain_add(filter_.get(), llama_sampler_init_top_p(params.top_p, 1));
  if (!params.greedy()) llama_sampler_chain_add(filter_.get(), llama_sampler_init_temp(params.temperature));
}

TokenDistribution ProbSampler::distribution(const float *raw) {
  const float *logits = constraints_ ? constraints_->adjust(raw) : raw;
  if (params_.greedy()) {
    const llama_token best = constraints_ ? constraints_->best(logits)
                                          : static_cast<llama_token>(std::max_element(logits, logits + n_vocab_) - logits);
    return {{best, logits[best], 1.0f}};
  }
  TokenDistribution cand(static_cast<size_t>(n_vocab_));
  for (llama_token t = 0; t < n_vocab_; ++t) cand[static_cast<size_t>(t)] = {t, logits[t], 0.0f};
  llama_token_data_array arr = {cand.data(), cand.size(), -1, false};
  if (constraints_) constraints_->restrict(&arr); // the grammar first: the filters then choose among allowed tokens
  llama_sampler_apply(filter_.get(), &arr);
  cand.resize(arr.size); // the filters keep their survivors at the front
  std::erase_if(cand, [](const llama_token_data &c) { return !std::isfinite(c.logit); }); // what the grammar refused
  if (cand.empty()) return {{constraints_->best(logits), 0.0f, 1.0f}}; // nothing allowed: best() ends the output
  float max = -INFINITY;
  for (const auto &c : cand) max = std::max(max, c.logit);
  double sum = 0;
  for (auto &c : cand) sum += c.p = std::exp(c.logit - max);
  for (auto &c : cand) c.p = static_cast<float>(c.p / sum);
  return cand;
}

llama_token ProbSampler::draw(const TokenDistribution &dist) {
  AIO_CHECK(!dist.empty());
  double r = uniform(), acc = 0;
  for (const auto &c : dist) {
    acc += c.p;
    if (r < acc) return c.id;
  }
  return dist.back().id; // rounding left a sliver above the last bucket
}

llama_token ProbSampler::sample(const float *raw) {
  const bool plain_temperature = !params_.greedy() && params_.top_k <= 0 && params_.top_p >= 1.0f;
  if (!constraints_ || !constraints_->has_grammar() || !plain_temperature) return draw(distribution(raw));
  const float *logits = constraints_->adjust(raw);
  const float max = *std::max_element(logits, logits + n_vocab_);
  cumulative_.resize(static_cast<size_t>(n_vocab_));
  double sum = 0;
  for (int32_t t = 0; t < n_vocab_; ++t)
    cumulative_[static_cast<size_t>(t)] = sum += std::exp((logits[t] - max) / params_.temperature);
  // The draws come in batches whose distinct tokens go through the grammar together (one pass over a few hundred
  // tokens instead of the vocabulary); the first allowed draw, in order, is the sample - as if drawn one by one.
  // verdicts_: 0 not checked yet, 1 allowed, -1 refused; reset for the tokens this call touched before it returns.
  verdicts_.resize(static_cast<size_t>(n_vocab_), 0);
  std::vector<llama_token> draws, touched;
  std::vector<llama_token_data> distinct;
  llama_token chosen = -1;
  for (const size_t batch : {8, 256, 4096}) {
    draws.clear();
    distinct.clear();
    for (size_t i = 0; i < batch; ++i) {
      const auto at = std::upper_bound(cumulative_.begin(), cumulative_.end(), uniform() * sum);
      const auto token = static_cast<llama_token>(std::min<ptrdiff_t>(at - cumulative_.begin(), n_vocab_ - 1));
      draws.push_back(token);
      if (verdicts_[static_cast<size_t>(token)] == 0) {
        verdicts_[static_cast<size_t>(token)] = -1;
        touched.push_back(token);
        distinct.push_back({token, 0.0f, 0.0f});
      }
    }
    llama_token_data_array array{distinct.data(), distinct.size(), -1, false};
    constraints_->restrict(&array);
    for (size_t i = 0; i < array.size; ++i)
      if (std::isfinite(array.data[i].logit)) verdicts_[static_cast<size_t>(array.data[i].id)] = 1;
    const auto first = std::find_if(draws.begin(), draws.end(),
                                    [&](llama_token t) { return verdicts_[static_cast<size_t>(t)] == 1; });
    if (first != draws.end()) {
      chosen = *first;
      break;
    }
  }
  for (const llama_token t : touched) verdicts_[static_cast<size_t>(t)] = 0;
  return chosen >= 0 ? chosen : draw(distribution(raw));
}

double ProbSampler::uniform() { return std::uniform_real_distribution<double>(0.0, 1.0)(rng_); }

double probability_of(const TokenDistribution &dist, llama_token token) {
  for (const auto &c : dist)
    if (c.id == token) return c.p;
  return 0.0;
}

} // namespace aio::engine
