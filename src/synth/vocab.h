// A tokenizer as the GGUF metadata of a llama.cpp BPE ("gpt2"-type) vocabulary.
#pragma once

#include <string>
#include <vector>

#include "aio/status.h"

namespace aio::synth {

struct VocabSpec {
  std::string source;                 // where it came from, written to the metadata
  std::string pre = "llama-bpe";      // llama.cpp pre-tokenizer name (the Llama-3 split regex)
  std::vector<std::string> tokens;    // token texts in GPT-2 byte-level encoding, by id
  std::vector<int32_t> token_types;   // llama_token_type per token
  std::vector<std::string> merges;    // BPE merges "a b", by rank
  int32_t bos_id = -1;
  int32_t eos_id = -1;                // end of text
  int32_t eot_id = -1;                // end of turn (chat)
  std::string chat_template;          // Jinja chat template, may be empty
};

// The real Llama-3 tokenizer from a Hugging Face tokenizer.json (+ tokenizer_config.json beside it for the chat
// template and BOS/EOS). `path` is the json file or a directory containing models/tokenizer.json or tokenizer.json.
Expected<VocabSpec> load_hf_tokenizer(const std::string &path);

// A small built-in vocabulary: the 256 byte tokens plus Llama-3's chat control tokens, no merges. Every text
// tokenizes (one token per byte) and the chat template works, with no download.
VocabSpec byte_level_vocab();

} // namespace aio::synth
