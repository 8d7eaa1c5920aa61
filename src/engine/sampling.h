// Sampling settings and the llama.cpp sampler chain built from them.
#pragma once

#include <cstdint>

#include "aio/status.h"
#include "llama-cpp.h"

namespace aio::engine {

struct SamplingParams {
  float temperature = 0.0f; // 0 = greedy (argmax); > 0 samples from the softened distribution
  int32_t top_k = 40;       // keep the k most likely tokens before sampling (0 = all)
  float top_p = 0.95f;      // then keep the smallest set whose probability reaches p (1 = all)
  uint32_t seed = 0;        // random seed for sampling; the same seed gives the same output
  bool greedy() const { return temperature <= 0.0f; }
  Status validate() const;
};

// Greedy when params.greedy(), else top-k -> top-p -> temperature -> seeded draw.
llama_sampler_ptr make_sampler(const SamplingParams &params);

// Draws the next token with `sampler` from one row of logits (what llama_sampler_sample does for a context's output
// row, for logits the caller keeps: the engine saves the prompt's last logits while the lm probe reads on).
llama_token sample_from(llama_sampler *sampler, const float *logits, int32_t n_vocab);

} // namespace aio::engine
