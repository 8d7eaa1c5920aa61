#include "engine/generation.h"

#include <algorithm>

namespace aio::engine {

llama_token argmax(const float *logits, int32_t n) {
  return static_cast<llama_token>(std::max_element(logits, logits + n) - logits);
}

} // namespace aio::engine
