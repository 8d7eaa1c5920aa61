#include "synth/vocab.h"

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "util/files.h"
#include "util/json_limits.h"
#include "util/utf8.h"

namespace aio::synth {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr int32_t kTypeNormal = 1, kTypeControl = 3, kTypeUserDefined = 4, kTypeUnused = 5; // llama_token_type

// The chat template of the built-in vocabulary, so chat formatting works without a download.
// The Llama 3 header layout, plus tools written by this project (the stock Llama 3 template has none): tools are
// listed (name, description, JSON schema of the arguments) in a system turn, calls are rendered <tool_call>{"name": .., "arguments": {..}}</tool_call>,
// results come back in "tool" turns. Without tools it renders exactly as the stock template does, so llama.cpp's
// built-in Llama 3 formatting and this template's jinja agree on plain chats. llama.cpp's common chat code reads the
// tool-call syntax off this template (its autoparser), as it would off a real model's.
const char *kLlama3ChatTemplate = R"TMPL({{- bos_token }}
{%- if tools %}
{{- '<|start_header_id|>system<|end_header_id|>\n\n' }}
{%- if messages[0]['role'] == 'system' %}{{- messages[0]['content'] | trim + '\n\n' }}{%- endif %}
{{- 'You can call these tools:\n' }}
{%- for tool in tools %}
{{- '- ' + tool['function']['name'] + ': ' + (tool['function']['description'] or '') + '\n  arguments: ' }}
{{- tool['function']['parameters'] | tojson + '\n' }}
{%- endfor %}
{{- 'To call one, answer <tool_call>{"name": <tool name>, "arguments": <arguments object>}</tool_call>.<|eot_id|>' }}
{%- endif %}
{%- for message in messages %}
{%- if not (tools and loop.first and message['role'] == 'system') %}
{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' }}
{%- if message['content'] %}{{- message['content'] | trim }}{%- endif %}
{%- if message['tool_calls'] %}
{%- for call in message['tool_calls'] %}
{%- set args = call['function']['arguments'] %}
{{- '<tool_call>{"name": "' + call['function']['name'] + '", "arguments": ' }}
{%- if args is string %}{{- args }}{%- else %}{{- args | tojson }}{%- endif %}
{{- '}</tool_call>' }}
{%- endfor %}
{%- endif %}
{{- '<|eot_id|>' }}
{%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{%- endif %}
)TMPL";

Expected<json> read_json(const fs::path &p) {
  auto text = read_file(p.string(), "tokenizer file", size_t{256} << 20);
  if (!text) return text.status();
  // A real tokenizer.json nests a handful of levels; anything deep is not one (and would overflow what walks it).
  if (json_nesting_depth(*text, 64) > 64) return invalid_file(p.string() + " nests deeper than 64 levels: not a tokenizer.json");
  try {
    return json::parse(*text);
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
    // A Llama 3 tokenizer gets the Llama 3 layout with tools (below): the tokenizer package's template is Llama 3.0's,
    // which has no tools, while the models the presets imitate (Llama 3.1/3.2) call tools. Plain chats render the same.
    if (id_of("<|start_header_id|>") >= 0 && v.eot_id >= 0) v.chat_template = kLlama3ChatTemplate;
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
