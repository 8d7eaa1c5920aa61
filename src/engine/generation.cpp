#include "engine/generation.h"

#include <algorithm>
#include <cmath>

#include "engine/model.h"

namespace aio::engine {

llama_token argmax(const float *logits, int32_t n) {
  return static_cast<llama_token>(std::max_element(logits, logits + n) - logits);
}

TokenLogprob logprob_of(const Model &model, const float *logits, llama_token token, int32_t n_top) {
  const int32_t n_vocab = model.info().n_vocab;
  // log-softmax: logit - (max + log sum exp(logit - max)), in double so 128K terms lose nothing.
  const float max = *std::max_element(logits, logits + n_vocab);
  double sum = 0;
  for (int32_t i = 0; i < n_vocab; ++i) sum += std::exp(static_cast<double>(logits[i]) - max);
  const double log_z = max + std::log(sum);
  TokenLogprob lp;
  lp.token = token;
  lp.piece = model.token_to_piece(token);
  lp.logprob = static_cast<float>(logits[token] - log_z);
  if (n_top > 0) {
    // The n_top largest logits in one pass (n_top <= 20), then sorted best first.
    std::vector<llama_token> best;
    best.reserve(static_cast<size_t>(n_top) + 1);
    auto worse = [&](llama_token a, llama_token b) { return logits[a] > logits[b]; }; // a min-heap on the logit
    for (llama_token t = 0; t < n_vocab; ++t) {
      if (best.size() < static_cast<size_t>(n_top)) {
        best.push_back(t);
        std::push_heap(best.begin(), best.end(), worse);
      } else if (logits[t] > logits[best.front()]) {
        std::pop_heap(best.begin(), best.end(), worse);
        best.back() = t;
        std::push_heap(best.begin(), best.end(), worse);
      }
    }
    std::sort_heap(best.begin(), best.end(), worse);
    for (llama_token t : best)
      lp.top.push_back({t, model.token_to_piece(t), static_cast<float>(logits[t] - log_z)});
  }
  return lp;
}

} // namespace aio::engine
