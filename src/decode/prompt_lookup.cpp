#include "decode/prompt_lookup.h"

#include <algorithm>

namespace aio::decode {

std::vector<llama_token> propose_prompt_lookup(std::span<const llama_token> history, int window, int lookahead) {
  const auto len = static_cast<int64_t>(history.size());
  if (lookahead <= 0 || len < 2) return {};
  for (int64_t n = std::min<int64_t>(window, len - 1); n >= 1; --n) {
    const auto suffix = history.subspan(static_cast<size_t>(len - n));
    // Scan start positions from the most recent earlier one back: start + n <= len - 1 keeps at least one token
    // after the occurrence, and excludes the suffix matching itself.
    for (int64_t start = len - n - 1; start >= 0; --start) {
      if (!std::equal(suffix.begin(), suffix.end(), history.begin() + start)) continue;
      const int64_t from = start + n;
      const int64_t count = std::min<int64_t>(lookahead, len - from);
      return {history.begin() + from, history.begin() + from + count};
    }
  }
  return {};
}

} // namespace aio::decode
