#include "synth/vocab.h"

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "util/utf8.h"

namespace aio::synth {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr int32_t kTypeNormal = 1, kTypeControl = 3, kTypeUserDefined = 4, kTypeUnused = 5; // llama_token_type

// The chat template of Llama-3 Instruct, used by the built-in vocabulary so chat formatting works without a download.
const char *kLlama3ChatTemplate =
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + "
    "message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 "
    "%}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{{ "
    "'<|start_header_id|>assistant<|end_header_id|>\n\n' }}";

Expected<json> read_json(const fs::path &p) {
  std::ifstream in(p);
  if (!in) return not_found("cannot open " + p.string());
  try {
    return json::parse(in);
  } catch (const json::exception &e) {
    return invalid_file(p.string() + " is not valid JSON: " + e.what());
  }
}

// NOTE: GPT-2's byte-level BPE shows each byte as a printable code point: printable Latin-1 bytes stand for
// themselves, the other 68 bytes are moved to U+0100 upward, in byte order.
std::string byte_as_token_text(uint8_t b) {
  const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
  uint32_t cp = b;
  if (!printable) {
    uint32_t shifted = 0;
    for (uint32_t x = 0; x < b; ++x) {
      const bool p = (x >= 33 && x <= 126) || (x >= 161 && x <= 172) || (x >= 174);
      if (!p) ++shifted;
    }
    cp = 256 + shifted;
  }
  std::string s;
  utf8::append(s, cp);
  return s;
}

} // namespace

Expected<VocabSpec> load_hf_tokenizer(const std::string &path) {
  fs::path tok_path = path;
  if (fs::is_directory(tok_path)) {
    tok_path = fs::exists(tok_path / "models" / "tokenizer.json") ? tok_path / "models" / "tokenizer.json"
                                                                  : tok_path / "tokenizer.json";
  }
  if (!fs::exists(tok_path))
    return not_found("no tokenizer.json at " + path + "; pass a tokenizer.json file, a directory holding one, or 'byte'");
  auto tok = read_json(tok_path);
  if (!tok) return tok.status();
  json cfg;
  if (auto c = read_json(tok_path.parent_path() / "tokenizer_config.json"); c) cfg = std::move(*c);

  try {
    const json &model = tok->at("model");
    if (model.value("type", "") != "BPE")
      return invalid_file(tok_path.string() + ": only byte-level BPE tokenizers (Llama-3, Qwen, GPT-2 style) are supported");
    VocabSpec v;
    v.source = tok_path.string();
    size_t n = 0;
    for (const auto &[text, id] : model.at("vocab").items()) n = std::max<size_t>(n, id.get<size_t>() + 1);
    for (const auto &added : tok->value("added_tokens", json::array()))
      n = std::max<size_t>(n, added.at("id").get<size_t>() + 1);
    v.tokens.assign(n, "");
    v.token_types.assign(n, kTypeUnused);
    for (const auto &[text, id] : model.at("vocab").items()) {
      v.tokens[id.get<size_t>()] = text;
      v.token_types[id.get<size_t>()] = kTypeNormal;
    }
    for (const auto &added : tok->value("added_tokens", json::array())) {
      const size_t id = added.at("id").get<size_t>();
      v.tokens[id] = added.at("content").get<std::string>();
      v.token_types[id] = added.value("special", false) ? kTypeControl : kTypeUserDefined;
    }
    for (size_t i = 0; i < n; ++i)
      if (v.tokens[i].empty()) v.tokens[i] = "[PAD" + std::to_string(i) + "]";
    for (const auto &m : model.at("merges")) {
      // Older files store "a b", newer ones ["a", "b"].
      v.merges.push_back(m.is_string() ? m.get<std::string>() : m.at(0).get<std::string>() + " " + m.at(1).get<std::string>());
    }
    auto id_of = [&](const std::string &text) -> int32_t {
      for (size_t i = 0; i < n; ++i)
        if (v.tokens[i] == text) return static_cast<int32_t>(i);
      return -1;
    };
    auto cfg_token = [&](const char *key, const char *fallback) {
      const json &t = cfg.contains(key) ? cfg[key] : json(fallback);
      return t.is_string() ? t.get<std::string>() : t.value("content", std::string(fallback));
    };
    v.bos_id = id_of(cfg_token("bos_token", "<|begin_of_text|>"));
    v.eos_id = id_of(cfg_token("eos_token", "<|end_of_text|>"));
    v.eot_id = id_of("<|eot_id|>");
    if (cfg.contains("chat_template") && cfg["chat_template"].is_string()) v.chat_template = cfg["chat_template"];
    if (v.bos_id < 0 || v.eos_id < 0) return invalid_file(tok_path.string() + ": cannot find its BOS/EOS tokens");
    return v;
  } catch (const json::exception &e) {
    return invalid_file(tok_path.string() + " is not a Hugging Face tokenizer.json: " + e.what());
  }
}

VocabSpec byte_level_vocab() {
  VocabSpec v;
  v.source = "aio built-in byte-level vocabulary";
  for (int b = 0; b < 256; ++b) {
    v.tokens.push_back(byte_as_token_text(static_cast<uint8_t>(b)));
    v.token_types.push_back(kTypeNormal);
  }
  for (const char *special : {"<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>",
                              "<|eot_id|>"}) {
    v.tokens.push_back(special);
    v.token_types.push_back(kTypeControl);
  }
  v.bos_id = 256;
  v.eos_id = 257;
  v.eot_id = 260;
  v.chat_template = kLlama3ChatTemplate;
  return v;
}

} // namespace aio::synth
