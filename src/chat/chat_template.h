// ChatTemplates: a model's chat template run through llama.cpp's common chat code (the jinja engine and its per-format
// tool-call handling, as llama-server runs it), for requests that carry tools or tool-call history: the prompt with
// the tools described, the grammar that makes the model's tool calls parse (lazy: it switches on at the template's
// tool-call marker unless a call is required), extra stop strings, and how to read the output back (OutputFormat,
// given to chat::OutputParser).
//
// Like openai/structured_output.h this header sees no JSON library: llama.cpp's common code vendors its own
// nlohmann/json, which must never meet Debian's (used by the rest of A-IO) in one translation unit.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "aio/request.h"
#include "aio/status.h"

struct llama_model;

namespace aio::chat {

// How a template's output is read back into content and tool calls (opaque to everything but OutputParser).
struct OutputFormat {
  int32_t format = 0;            // llama.cpp's common_chat_format
  std::string generation_prompt; // what the template put before the answer (the parser starts from it)
  std::string parser;            // the serialized PEG parser llama.cpp generated for this template and these tools
  bool parse_tool_calls = false; // false with tool_choice "none": the answer is all content
};

struct ChatPrompt {
  std::string text;                          // the formatted conversation, to tokenize with special tokens parsed
  std::string grammar;                       // GBNF for the tool calls ("" = none)
  bool grammar_lazy = false;                 // the grammar applies only once a trigger appears in the output
  std::vector<std::string> trigger_patterns; // regular expressions over the output that switch the grammar on
  std::vector<int32_t> trigger_tokens;       // tokens that switch it on
  std::vector<int32_t> grammar_prefill;      // a strict grammar starts at the answer's header: these tokens (already
                                             // in the prompt) are fed to it before the first generated one
  std::vector<int32_t> preserved_tokens;     // special tokens whose text the output keeps (the parser reads them)
  std::vector<std::string> stops;            // stop strings the format adds
  OutputFormat output;
};

// True when the request needs the tool-aware formatting: it offers tools, or its history has tool calls or results.
bool needs_tool_format(const Request &request);

class ChatTemplates {
public:
  // The template in the model's metadata. Errors: the model has none, or llama.cpp's jinja engine cannot parse it.
  static Expected<std::unique_ptr<ChatTemplates>> create(const llama_model *model, const std::string &model_name);
  ~ChatTemplates();

  // Whether the template describes tools to the model and renders tool calls (llama.cpp's template caps).
  bool supports_tools() const;
  // Formats the request's messages with its tools and tool choice. Errors (invalid_argument, for a 400): tools the
  // template cannot do, a tool_choice naming no offered tool, messages the template refuses.
  Expected<ChatPrompt> apply(const Request &request) const;

private:
  struct Impl;
  explicit ChatTemplates(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

} // namespace aio::chat
