// SpecialSplit: where a text's special tokens ("<|eot_id|>", "<s>") are, found in one linear pass, so that a long
// prompt can be tokenized piece by piece. llama.cpp's tokenizer finds them by scanning the whole text once per special
// token type and splitting a linked list it walks from the start at every match: quadratic in the number of matches
// (a chat of 16,000 messages - 48,000 header tokens - took 4.4 s, 96% of it there). Cutting the text just before each
// special token and tokenizing the pieces gives the same tokens: llama.cpp never lets a token span a special token,
// and each piece still starts where its fragment would.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "llama.h"

namespace aio::engine {

class SpecialSplit {
public:
  // The special tokens llama.cpp matches in text when asked to parse them (control, user-defined and unknown tokens),
  // except those that strip the whitespace before them (a cut there would keep the whitespace in the previous piece).
  explicit SpecialSplit(const llama_vocab *vocab);

  // Offsets at which `text` may be cut: the start of each special token found, scanning left to right and taking the
  // longest token at each position. Cost: one hash lookup per distinct token length at positions whose byte can begin
  // a special token.
  std::vector<size_t> cuts(std::string_view text) const;
  bool empty() const { return by_text_.empty(); }

private:
  std::unordered_map<std::string, llama_token> by_text_;
  std::vector<std::vector<size_t>> lengths_by_first_byte_; // 256 lists, longest first
};

} // namespace aio::engine
