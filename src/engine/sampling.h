// Sampling settings and the llama.cpp sampler chain built from them.
#pragma once

#include <cstdint>

#include "aio/generate_params.h"
#include "aio/status.h"
#include "llama-cpp.h"

namespace aio::engine {

// Greedy when params.greedy(), else top-k -> top-p -> temperature -> seeded draw.
llama_sampler_ptr make_sampler(const SamplingParams &params);

// Draws the next token with `sampler` from one row of logits (what llama_sampler_sample does for a context's output
// row, for logits the caller keeps: the engine saves the prompt's last logits while the lm probe reads on).
llama_token sample_from(llama_sampler *sampler, const float *logits, int32_t n_vocab);

} // namespace aio::engine
