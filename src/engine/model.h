// Model: one GGUF file loaded through llama.h, read-only after load and shared by every Session that uses it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "aio/request.h"
#include "aio/status.h"
#include "engine/special_split.h"
#include "llama-cpp.h"

namespace aio::engine {

struct ModelParams {
  std::string path;       // the GGUF file to load
  int n_gpu_layers = -1;  // layers to offload to an accelerator; -1 = all; no effect on CPU-only builds
  bool use_mmap = true;   // map the file rather than copying it into memory (pages are shared and load is instant)
  bool vocab_only = false; // the tokenizer and metadata only, no weights: for comparing two files' tokenizers
  Status validate() const;
};

// The shape and provenance of a loaded model, as `aio info` reports it.
struct ModelInfo {
  std::string path;
  std::string arch;             // general.architecture, e.g. "llama"
  std::string name;             // general.name, or the file name when absent
  std::string description;      // llama.cpp's one-line description (type, size, quantization)
  std::string file_type;        // e.g. "Q8_0", "F16"
  uint64_t n_params = 0;
  uint64_t n_bytes = 0;         // size of the weights as loaded
  int32_t n_vocab = 0;
  int32_t n_ctx_train = 0;      // context length the model was trained for
  int32_t n_layer = 0;
  int32_t n_embd = 0;
  int32_t n_head = 0;
  int32_t n_head_kv = 0;
  bool has_chat_template = false;
  bool synthetic = false;       // the file says its weights are random (made by `aio synth`): quality is meaningless
  std::string synthetic_preset; // which preset made it, when synthetic
};


class Model {
public:
  // Loads the file. Errors say whether the file is missing, not a GGUF, or truncated/corrupt, and what to do.
  static Expected<std::shared_ptr<Model>> load(const ModelParams &params);

  const ModelInfo &info() const { return info_; }
  llama_model *raw() const { return model_.get(); }
  const llama_vocab *vocab() const { return vocab_; }

  // Text -> tokens. add_bos follows the model's own setting when true; parse_special lets "<|eot_id|>" etc. through.
  Expected<std::vector<llama_token>> tokenize(std::string_view text, bool add_bos = true,
                                              bool parse_special = true) const;
  // One token's bytes (may be part of a UTF-8 character). special=false hides control tokens such as EOS.
  std::string token_to_piece(llama_token token, bool special = false) const;
  std::string detokenize(const std::vector<llama_token> &tokens) const;

  // A chat already formatted by a template -> tokens, as llama-server tokenizes one: special tokens parsed, the
  // model's BOS first when its vocabulary asks for one (templates leave it to the tokenizer), but not twice when the
  // template wrote it into the text. Every path that sends a chat (the Router, `aio generate --chat`) uses this.
  Expected<std::vector<llama_token>> tokenize_chat(std::string_view formatted) const;
  // Formats messages with the model's own chat template (add_assistant: end with the assistant turn's header).
  Expected<std::string> apply_chat_template(const std::vector<Message> &messages, bool add_assistant = true) const;

  bool is_end_of_generation(llama_token token) const;

  // True when both models have one vocabulary (same type, size, special tokens and token texts): a token id means
  // the same to both, which draft-model speculation requires. When false and why != nullptr, *why names the first
  // difference.
  bool shares_vocab_with(const Model &other, std::string *why = nullptr) const;
  // Stricter: text becomes the same tokens in both - one vocabulary, the same pre-tokenizer and merges model, and
  // the same BOS/EOS insertion - so a prompt tokenized by one can be given to the other as it is.
  bool tokenizes_like(const Model &other) const;

  // A metadata value as text, or "" when the key is absent.
  std::string metadata(const char *key) const;

private:
  Model() = default;
  llama_model_ptr model_;
  const llama_vocab *vocab_ = nullptr;
  uint64_t vocab_fingerprint_ = 0; // hash of everything shares_vocab_with compares, computed once at load
  std::shared_ptr<const SpecialSplit> special_split_; // where long prompts are cut for tokenizing
  ModelInfo info_;
};

} // namespace aio::engine
