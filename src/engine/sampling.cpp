#include "engine/sampling.h"

#include <cmath>
#include <vector>

namespace aio::engine {

llama_sampler_ptr make_sampler(const SamplingParams &params) {
  llama_sampler_chain_params cp = llama_sampler_chain_default_params();
  cp.no_perf = true;
  llama_sampler_ptr chain(llama_sampler_chain_init(cp));
  if (params.greedy()) {
    llama_sampler_chain_add(chain.get(), llama_sampler_init_greedy());
    return chain;
  }
  if (params.top_k > 0) llama_sampler_chain_add(chain.get(), llama_sampler_init_top_k(params.top_k));
  if (params.top_p < 1.0f) llama_sampler_chain_add(chain.get(), llama_sampler_init_top_p(params.top_p, 1));
  llama_sampler_chain_add(chain.get(), llama_sampler_init_temp(params.temperature));
  llama_sampler_chain_add(chain.get(), llama_sampler_init_dist(params.seed));
  return chain;
}

llama_token sample_from(llama_sampler *sampler, const float *logits, int32_t n_vocab) {
  thread_local std::vector<llama_token_data> candidates;
  candidates.resize(static_cast<size_t>(n_vocab));
  for (int32_t i = 0; i < n_vocab; ++i) candidates[static_cast<size_t>(i)] = {i, logits[i], 0.0f};
  llama_token_data_array array{candidates.data(), candidates.size(), -1, false};
  llama_sampler_apply(sampler, &array);
  AIO_CHECK(array.selected >= 0 && array.selected < static_cast<int64_t>(array.size));
  const llama_token token = array.data[array.selected].id;
  llama_sampler_accept(sampler, token);
  return token;
}

} // namespace aio::engine
