#include "engine/generation.h"

#include <algorithm>

namespace aio::engine {

Status GenerateParams::validate() const {
  if (max_tokens < 1) return invalid_argument("max_tokens must be at least 1");
  return sampling.validate();
}

llama_token argmax(const float *logits, int32_t n) {
  return static_cast<llama_token>(std::max_element(logits, logits + n) - logits);
}

} // namespace aio::engine
