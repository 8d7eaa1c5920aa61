#include "engine/model.h"

#include <cstring>
#include <filesystem>
#include <fstream>

#include "engine/backend.h"

namespace aio::engine {
namespace fs = std::filesystem;

Status ModelParams::validate() const {
  if (path.empty()) return invalid_argument("model path is empty: pass the path of a .gguf file");
  if (n_gpu_layers < -1) return invalid_argument("n_gpu_layers must be -1 (all) or >= 0");
  return {};
}

namespace {

// FNV-1a over the vocabulary's type, size, BOS/EOS and every token's text.
uint64_t vocab_fingerprint(const llama_vocab *v) {
  uint64_t h = 1469598103934665603ULL;
  auto mix = [&](const void *data, size_t n) {
    for (size_t i = 0; i < n; ++i) h = (h ^ static_cast<const unsigned char *>(data)[i]) * 1099511628211ULL;
  };
  const int32_t ints[] = {static_cast<int32_t>(llama_vocab_type(v)), llama_vocab_n_tokens(v), llama_vocab_bos(v),
                          llama_vocab_eos(v)};
  mix(ints, sizeof(ints));
  for (llama_token t = 0; t < llama_vocab_n_tokens(v); ++t) {
    const char *text = llama_vocab_get_text(v, t);
    mix(text, std::strlen(text) + 1); // with the terminator, so "ab"+"c" differs from "a"+"bc"
  }
  return h;
}


// Cheap checks before llama.cpp sees the file, so the common mistakes get a precise message.
Status precheck_file(const std::string &path) {
  std::error_code ec;
  auto st = fs::status(path, ec);
  if (ec || !fs::exists(st)) return not_found("model file not found: " + path + " (check the path, or make one with `aio synth`)");
  if (!fs::is_regular_file(st)) return invalid_file(path + " is not a regular file; pass the path of a .gguf file");
  std::ifstream in(path, std::ios::binary);
  if (!in) return invalid_file("cannot open " + path + " for reading (check its permissions)");
  char magic[4] = {};
  in.read(magic, 4);
  if (in.gcount() < 4 || std::memcmp(magic, "GGUF", 4) != 0)
    return invalid_file(path + " is not a GGUF file (it does not start with the GGUF magic); pass a llama.cpp .gguf model");
  return {};
}

std::string meta_str(const llama_model *m, const char *key) {
  char buf[512];
  int32_t n = llama_model_meta_val_str(m, key, buf, sizeof(buf));
  if (n < 0) return "";
  if (static_cast<size_t>(n) < sizeof(buf)) return std::string(buf, n);
  std::string big(static_cast<size_t>(n) + 1, '\0');
  llama_model_meta_val_str(m, key, big.data(), big.size());
  big.resize(n);
  return big;
}

std::string file_type_name(const std::string &description) {
  // llama_model_desc ends with the file type, e.g. "llama 1B Q8_0".
  auto pos = description.rfind(' ');
  return pos == std::string::npos ? description : description.substr(pos + 1);
}

} // namespace

Expected<std::shared_ptr<Model>> Model::load(const ModelParams &params) {
  AIO_RETURN_IF_ERROR(params.validate());
  AIO_RETURN_IF_ERROR(precheck_file(params.path));
  ensure_backend();
  clear_backend_error();

  llama_model_params mp = llama_model_default_params();
  mp.n_gpu_layers = params.n_gpu_layers;
  mp.load_mode = params.use_mmap ? LLAMA_LOAD_MODE_MMAP : LLAMA_LOAD_MODE_NONE;
  mp.vocab_only = params.vocab_only;
  llama_model *raw = llama_model_load_from_file(params.path.c_str(), mp);
  if (raw == nullptr) {
    std::string why = last_backend_error();
    return invalid_file("could not load " + params.path + (why.empty() ? "" : ": " + why) +
                        "\nThe file may be truncated or corrupt, or made for an architecture this llama.cpp does not "
                        "support; re-download it or re-create it with `aio synth`.");
  }

  std::shared_ptr<Model> model(new Model());
  model->model_.reset(raw);
  model->vocab_ = llama_model_get_vocab(raw);
  model->vocab_fingerprint_ = vocab_fingerprint(model->vocab_);
  model->special_split_ = std::make_shared<const SpecialSplit>(model->vocab_);

  ModelInfo &info = model->info_;
  info.path = params.path;
  info.arch = meta_str(raw, "general.architecture");
  info.name = meta_str(raw, "general.name");
  if (info.name.empty()) info.name = fs::path(params.path).filename().string();
  char desc[256];
  llama_model_desc(raw, desc, sizeof(desc));
  info.description = desc;
  info.file_type = file_type_name(info.description);
  info.n_vocab = llama_vocab_n_tokens(model->vocab_);
  if (!params.vocab_only) { // the shape is not read without the weights (llama.cpp aborts on asking for it)
    info.n_params = llama_model_n_params(raw);
    info.n_bytes = llama_model_size(raw);
    info.n_ctx_train = llama_model_n_ctx_train(raw);
    info.n_layer = llama_model_n_layer(raw);
    info.n_embd = llama_model_n_embd(raw);
    info.n_head = llama_model_n_head(raw);
    info.n_head_kv = llama_model_n_head_kv(raw);
  }
  info.has_chat_template = llama_model_chat_template(raw, nullptr) != nullptr;
  info.synthetic = meta_str(raw, "aio.synthetic") == "true";
  info.synthetic_preset = meta_str(raw, "aio.synthetic.preset");
  return model;
}

namespace {
// llama_tokenize into `tokens` (appended), growing the buffer when it asks for more.
Status tokenize_into(const llama_vocab *vocab, std::string_view text, bool add_special, bool parse_special,
                     std::vector<llama_token> &tokens) {
  const size_t at = tokens.size();
  // A token is at least one byte, plus BOS/EOS: this bound is always enough.
  tokens.resize(at + text.size() + 2);
  int32_t n = llama_tokenize(vocab, text.data(), static_cast<int32_t>(text.size()), tokens.data() + at,
                             static_cast<int32_t>(tokens.size() - at), add_special, parse_special);
  if (n == INT32_MIN) return invalid_argument("text is too long to tokenize (over 2^31 tokens)");
  if (n < 0) {
    tokens.resize(at + static_cast<size_t>(-n));
    n = llama_tokenize(vocab, text.data(), static_cast<int32_t>(text.size()), tokens.data() + at,
                       static_cast<int32_t>(tokens.size() - at), add_special, parse_special);
    if (n < 0) return internal_error("tokenizer reported inconsistent sizes");
  }
  tokens.resize(at + static_cast<size_t>(n));
  return {};
}
} // namespace

Expected<std::vector<llama_token>> Model::tokenize(std::string_view text, bool add_bos, bool parse_special) const {
  const bool add_special = add_bos && llama_vocab_get_add_bos(vocab_);
  std::vector<llama_token> tokens;
  // Special tokens parsed: piece by piece between them (linear; see engine/special_split.h), unless the vocabulary
  // also appends EOS (it would end every piece).
  const std::vector<size_t> cuts =
      parse_special && special_split_ && !llama_vocab_get_add_eos(vocab_) ? special_split_->cuts(text) : std::vector<size_t>{};
  if (cuts.size() < 8) {
    AIO_RETURN_IF_ERROR(tokenize_into(vocab_, text, add_special, parse_special, tokens));
    return tokens;
  }
  tokens.reserve(text.size() / 3 + 2);
  size_t from = 0;
  for (size_t i = 0; i <= cuts.size(); ++i) {
    const size_t to = i < cuts.size() ? cuts[i] : text.size();
    AIO_RETURN_IF_ERROR(tokenize_into(vocab_, text.substr(from, to - from), i == 0 && add_special, true, tokens));
    from = to;
  }
  return tokens;
}

std::string Model::token_to_piece(llama_token token, bool special) const {
  char buf[128];
  int32_t n = llama_token_to_piece(vocab_, token, buf, sizeof(buf), 0, special);
  if (n >= 0) return std::string(buf, static_cast<size_t>(n));
  std::string big(static_cast<size_t>(-n), '\0');
  n = llama_token_to_piece(vocab_, token, big.data(), static_cast<int32_t>(big.size()), 0, special);
  big.resize(n < 0 ? 0 : static_cast<size_t>(n));
  return big;
}

std::string Model::detokenize(const std::vector<llama_token> &tokens) const {
  std::string out;
  for (llama_token t : tokens) out += token_to_piece(t);
  return out;
}

Expected<std::vector<llama_token>> Model::tokenize_chat(std::string_view formatted) const {
  auto tokens = tokenize(formatted, /*add_bos=*/true, /*parse_special=*/true);
  if (!tokens) return tokens.status();
  const llama_token bos = llama_vocab_bos(vocab_);
  if (tokens->size() >= 2 && (*tokens)[0] == bos && (*tokens)[1] == bos) tokens->erase(tokens->begin());
  return tokens;
}

Expected<std::string> Model::apply_chat_template(const std::vector<Message> &messages, bool add_assistant) const {
  const char *tmpl = llama_model_chat_template(model_.get(), nullptr);
  if (tmpl == nullptr)
    return invalid_argument(info_.name + " has no chat template in its metadata; send a plain prompt instead of chat messages");
  std::vector<llama_chat_message> msgs;
  size_t total = 0;
  for (const auto &m : messages) {
    msgs.push_back({m.role.c_str(), m.content.c_str()});
    total += m.role.size() + m.content.size();
  }
  std::string buf(2 * total + 256, '\0');
  int32_t n = llama_chat_apply_template(tmpl, msgs.data(), msgs.size(), add_assistant, buf.data(),
                                        static_cast<int32_t>(buf.size()));
  if (n < 0)
    return invalid_argument("llama.cpp does not recognise the chat template of " + info_.name +
                            "; send a plain prompt instead");
  if (static_cast<size_t>(n) > buf.size()) {
    buf.resize(static_cast<size_t>(n));
    n = llama_chat_apply_template(tmpl, msgs.data(), msgs.size(), add_assistant, buf.data(),
                                  static_cast<int32_t>(buf.size()));
  }
  buf.resize(static_cast<size_t>(n));
  return buf;
}

bool Model::is_end_of_generation(llama_token token) const { return llama_vocab_is_eog(vocab_, token); }

bool Model::shares_vocab_with(const Model &other, std::string *why) const {
  // Equal fingerprints settle it without comparing 100k+ token texts per request. (Even a hash collision could not
  // corrupt output: the target model verifies every drafted token id; it would only waste drafts.)
  if (vocab_fingerprint_ == other.vocab_fingerprint_) return true;
  auto fail = [&](std::string reason) {
    if (why) *why = std::move(reason);
    return false;
  };
  const llama_vocab *a = vocab_, *b = other.vocab_;
  if (llama_vocab_type(a) != llama_vocab_type(b)) return fail("different tokenizer types");
  const int32_t n = llama_vocab_n_tokens(a);
  if (n != llama_vocab_n_tokens(b))
    return fail("vocabulary sizes differ (" + std::to_string(n) + " vs " + std::to_string(llama_vocab_n_tokens(b)) + ")");
  if (llama_vocab_bos(a) != llama_vocab_bos(b) || llama_vocab_eos(a) != llama_vocab_eos(b))
    return fail("BOS/EOS tokens differ");
  for (llama_token t = 0; t < n; ++t) {
    if (std::strcmp(llama_vocab_get_text(a, t), llama_vocab_get_text(b, t)) != 0)
      return fail("token " + std::to_string(t) + " differs");
  }
  return true;
}

bool Model::tokenizes_like(const Model &other) const {
  if (!shares_vocab_with(other)) return false;
  for (const char *key : {"tokenizer.ggml.model", "tokenizer.ggml.pre"})
    if (metadata(key) != other.metadata(key)) return false;
  return llama_vocab_get_add_bos(vocab_) == llama_vocab_get_add_bos(other.vocab_) &&
         llama_vocab_get_add_eos(vocab_) == llama_vocab_get_add_eos(other.vocab_);
}

std::string Model::metadata(const char *key) const { return meta_str(model_.get(), key); }

} // namespace aio::engine
