#include "engine/special_split.h"

#include <algorithm>

namespace aio::engine {

SpecialSplit::SpecialSplit(const llama_vocab *vocab) : lengths_by_first_byte_(256) {
  const int32_t n = llama_vocab_n_tokens(vocab);
  for (llama_token t = 0; t < n; ++t) {
    const llama_token_attr attr = llama_vocab_get_attr(vocab, t);
    if ((attr & (LLAMA_TOKEN_ATTR_CONTROL | LLAMA_TOKEN_ATTR_USER_DEFINED | LLAMA_TOKEN_ATTR_UNKNOWN)) == 0) continue;
    if (attr & LLAMA_TOKEN_ATTR_LSTRIP) continue;
    const char *text = llama_vocab_get_text(vocab, t);
    if (text == nullptr || *text == '\0') continue;
    by_text_.emplace(text, t);
  }
  for (const auto &[text, _] : by_text_) {
    auto &lengths = lengths_by_first_byte_[static_cast<unsigned char>(text[0])];
    if (std::find(lengths.begin(), lengths.end(), text.size()) == lengths.end()) lengths.push_back(text.size());
  }
  for (auto &lengths : lengths_by_first_byte_) std::sort(lengths.rbegin(), lengths.rend());
}

std::vector<size_t> SpecialSplit::cuts(std::string_view text) const {
  std::vector<size_t> out;
  std::string key;
  for (size_t i = 0; i < text.size();) {
    size_t matched = 0;
    for (const size_t length : lengths_by_first_byte_[static_cast<unsigned char>(text[i])]) {
      if (length > text.size() - i) continue;
      key.assign(text.substr(i, length));
      if (by_text_.count(key)) {
        matched = length;
        break;
      }
    }
    if (matched == 0) {
      ++i;
      continue;
    }
    if (i > 0) out.push_back(i);
    i += matched;
  }
  return out;
}

} // namespace aio::engine
