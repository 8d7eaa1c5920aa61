#include "chat/chat_template.h"

#include <algorithm>
#include <cctype>
#include <regex>

#include "chat.h"
#include "common.h"
#include "llama.h"

namespace aio::chat {

struct ChatTemplates::Impl {
  const llama_model *model = nullptr;
  std::string model_name;
  common_chat_templates_ptr templates;
};

ChatTemplates::ChatTemplates(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ChatTemplates::~ChatTemplates() = default;

bool needs_tool_format(const Request &request) {
  if (request.has_tools()) return true;
  return std::any_of(request.messages.begin(), request.messages.end(),
                     [](const Message &m) { return !m.tool_calls.empty() || m.role == "tool"; });
}

Expected<std::unique_ptr<ChatTemplates>> ChatTemplates::create(const llama_model *model, const std::string &model_name) {
  if (llama_model_chat_template(model, nullptr) == nullptr)
    return invalid_argument(model_name + " has no chat template in its metadata; send a plain prompt instead of chat "
                                         "messages");
  auto impl = std::make_unique<Impl>();
  impl->model = model;
  impl->model_name = model_name;
  try {
    impl->templates = common_chat_templates_init(model, "");
  } catch (const std::exception &e) {
    return invalid_argument("llama.cpp's jinja engine cannot read the chat template of " + model_name + ": " + e.what());
  }
  if (!impl->templates) return invalid_argument("llama.cpp could not load the chat template of " + model_name);
  return std::unique_ptr<ChatTemplates>(new ChatTemplates(std::move(impl)));
}

bool ChatTemplates::supports_tools() const {
  const auto caps = common_chat_templates_get_caps(impl_->templates.get());
  const auto has = [&](const char *cap) {
    auto it = caps.find(cap);
    return it != caps.end() && it->second;
  };
  return has("supports_tools") && has("supports_tool_calls");
}

namespace {

common_chat_msg to_common(const Message &m) {
  common_chat_msg out;
  out.role = m.role;
  out.content = m.content;
  for (const auto &call : m.tool_calls) out.tool_calls.push_back({call.name, call.arguments, call.id});
  out.tool_call_id = m.tool_call_id;
  out.tool_name = m.name;
  return out;
}

// A single-token word among the preserved tokens is matched as that token (as llama-server does): its text never
// appears in detokenized output unless the token is shown.
int32_t single_token(const llama_vocab *vocab, const std::string &text) {
  const auto ids = common_tokenize(vocab, text, /*add_special=*/false, /*parse_special=*/true);
  return ids.size() == 1 ? ids[0] : -1;
}

// The generation prompt as tokens, as llama.cpp's sampling feeds it to a strict tool-call grammar (a leading space
// some tokenizers add before a special token is skipped).
std::vector<int32_t> prefill_tokens(const llama_vocab *vocab, const std::string &generation_prompt) {
  std::vector<int32_t> out;
  if (generation_prompt.empty()) return out;
  const auto ids = common_tokenize(vocab, generation_prompt, /*add_special=*/false, /*parse_special=*/true);
  for (size_t i = 0; i < ids.size(); ++i) {
    const std::string piece = common_token_to_piece(vocab, ids[i], true);
    if (i == 0 && !piece.empty() && std::isspace(static_cast<unsigned char>(piece[0])) &&
        !std::isspace(static_cast<unsigned char>(generation_prompt[0])))
      continue;
    out.push_back(ids[i]);
  }
  return out;
}

// llama.cpp's tool-call grammar is looser than the API's flags in two ways, and a model that wanders (random weights,
// or a weak model) shows it: it lets free text come before a required call (`until-N?` in the root rule), and it
// lets calls repeat (`(tool-call space)+`) when parallel_tool_calls is false. A required call (tool_choice
// "required" or a named function) is the whole answer - OpenAI returns no content beside it - and without parallel
// calls there is one. Only those two exact rule shapes are rewritten; any other grammar is left as it is.
std::string tighten_tool_grammar(std::string grammar, bool required, bool parallel) {
  if (required) {
    static const std::regex kRootUntil(R"((^|\n)(root ::= [^\n]*?) until-[0-9]+\? ([^\n]*))");
    grammar = std::regex_replace(grammar, kRootUntil, "$1$2 $3", std::regex_constants::format_first_only);
  }
  if (!parallel) {
    static const std::regex kRepeatedCalls(R"((^|\n)tool-calls ::= \((tool-call space)\)\+(\n|$))");
    grammar = std::regex_replace(grammar, kRepeatedCalls, "$1tool-calls ::= $2$3", std::regex_constants::format_first_only);
  }
  return grammar;
}

} // namespace

Expected<ChatPrompt> ChatTemplates::apply(const Request &request) const {
  const std::string &model = impl_->model_name;
  if (request.has_tools() && !supports_tools())
    return invalid_argument("the chat template of " + model + " cannot do tools (it neither describes tools to the "
                            "model nor renders its tool calls); send the request without tools, or route it to a "
                            "model whose template can (a policy rule on `tools: true`)");
  common_chat_templates_inputs in;
  in.use_jinja = true;
  in.add_generation_prompt = true;
  for (const auto &m : request.messages) in.messages.push_back(to_common(m));
  for (const auto &t : request.tools) {
    if (request.tool_choice.mode == ToolChoice::Mode::function && t.name != request.tool_choice.function) continue;
    in.tools.push_back({t.name, t.description, t.parameters.empty() ? R"({"type":"object","properties":{}})" : t.parameters});
  }
  // A named function is "required" over the tools cut down to that one (how the API's forced call is enforced).
  switch (request.tool_choice.mode) {
  case ToolChoice::Mode::automatic: in.tool_choice = COMMON_CHAT_TOOL_CHOICE_AUTO; break;
  case ToolChoice::Mode::none: in.tool_choice = COMMON_CHAT_TOOL_CHOICE_NONE; break;
  case ToolChoice::Mode::required: in.tool_choice = COMMON_CHAT_TOOL_CHOICE_REQUIRED; break;
  case ToolChoice::Mode::function:
    if (in.tools.empty())
      return invalid_argument("tool_choice names the function '" + request.tool_choice.function +
                              "', which is not among the request's tools");
    in.tool_choice = COMMON_CHAT_TOOL_CHOICE_REQUIRED;
    break;
  }
  if (in.tool_choice == COMMON_CHAT_TOOL_CHOICE_REQUIRED && in.tools.empty())
    return invalid_argument("tool_choice \"required\" needs at least one tool in `tools`");
  in.parallel_tool_calls = request.parallel_tool_calls;

  common_chat_params params;
  try {
    params = common_chat_templates_apply(impl_->templates.get(), in);
  } catch (const std::exception &e) {
    return invalid_argument("the chat template of " + model + " cannot format this conversation: " + e.what());
  }

  const llama_vocab *vocab = llama_model_get_vocab(impl_->model);
  ChatPrompt out;
  out.text = std::move(params.prompt);
  out.stops = std::move(params.additional_stops);
  out.output = {static_cast<int32_t>(params.format), params.generation_prompt, params.parser,
                !in.tools.empty() && in.tool_choice != COMMON_CHAT_TOOL_CHOICE_NONE};
  for (const auto &text : params.preserved_tokens)
    if (int32_t id = single_token(vocab, text); id >= 0) out.preserved_tokens.push_back(id);
  if (!out.output.parse_tool_calls) return out; // tool_choice none: free text, no grammar
  out.grammar = tighten_tool_grammar(std::move(params.grammar), in.tool_choice == COMMON_CHAT_TOOL_CHOICE_REQUIRED,
                                     in.parallel_tool_calls);
  out.grammar_lazy = params.grammar_lazy;
  if (!out.grammar.empty() && !out.grammar_lazy) out.grammar_prefill = prefill_tokens(vocab, params.generation_prompt);
  for (const auto &trigger : params.grammar_triggers) {
    switch (trigger.type) {
    case COMMON_GRAMMAR_TRIGGER_TYPE_TOKEN: out.trigger_tokens.push_back(trigger.token); break;
    case COMMON_GRAMMAR_TRIGGER_TYPE_WORD: {
      const int32_t id = single_token(vocab, trigger.value);
      if (id >= 0 && std::find(out.preserved_tokens.begin(), out.preserved_tokens.end(), id) != out.preserved_tokens.end())
        out.trigger_tokens.push_back(id);
      else
        out.trigger_patterns.push_back(regex_escape(trigger.value));
      break;
    }
    case COMMON_GRAMMAR_TRIGGER_TYPE_PATTERN: out.trigger_patterns.push_back(trigger.value); break;
    case COMMON_GRAMMAR_TRIGGER_TYPE_PATTERN_FULL: {
      // Anchored at both ends: the whole output so far must match (llama.cpp's sampling does the same).
      const std::string &p = trigger.value;
      out.trigger_patterns.push_back(p.empty() ? "^$" : (p.front() == '^' ? "" : "^") + p + (p.back() == '$' ? "" : "$"));
      break;
    }
    }
  }
  return out;
}

} // namespace aio::chat
