#include "aio/generate_params.h"

#include <cmath>

namespace aio {

Status SamplingParams::validate() const {
  if (!std::isfinite(temperature) || temperature < 0.0f) return invalid_argument("temperature must be a number >= 0");
  if (top_k < 0) return invalid_argument("top_k must be >= 0 (0 = no limit)");
  if (!std::isfinite(top_p) || top_p <= 0.0f || top_p > 1.0f) return invalid_argument("top_p must be in (0, 1]");
  return {};
}

Status GenerateParams::validate() const {
  if (max_tokens < 1) return invalid_argument("max_tokens must be at least 1");
  if (logprobs < -1 || logprobs > 20) return invalid_argument("logprobs must be -1 (none) or 0..20 alternatives");
  for (float p : {constraints.presence_penalty, constraints.frequency_penalty})
    if (!std::isfinite(p) || p < -2.0f || p > 2.0f) return invalid_argument("penalties must be between -2 and 2");
  for (const auto &[token, bias] : constraints.logit_bias)
    if (token < 0 || !std::isfinite(bias) || bias < -100.0f || bias > 100.0f)
      return invalid_argument("logit_bias maps token ids (>= 0) to a bias between -100 and 100");
  return sampling.validate();
}

} // namespace aio
