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
  return sampling.validate();
}

} // namespace aio
