#include "chat/output_parser.h"

#include <random>

#include "chat.h"

namespace aio::chat {

struct OutputParser::Impl {
  common_chat_parser_params params;
  std::string text;
  common_chat_msg previous;
  std::vector<std::string> ids; // one per tool call, made when the call first appears
};

namespace {
// "call_" and 24 random letters and digits, the shape OpenAI's ids have.
std::string new_call_id() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char kChars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::string id = "call_";
  for (int i = 0; i < 24; ++i) id += kChars[rng() % (sizeof(kChars) - 1)];
  return id;
}
} // namespace

OutputParser::OutputParser(OutputFormat format) : impl_(std::make_unique<Impl>()) {
  common_chat_params chat;
  chat.format = static_cast<common_chat_format>(format.format);
  chat.generation_prompt = format.generation_prompt;
  impl_->params = common_chat_parser_params(chat);
  impl_->params.parse_tool_calls = format.parse_tool_calls;
  if (!format.parser.empty()) impl_->params.parser.load(format.parser);
}

OutputParser::~OutputParser() = default;

Expected<std::vector<OutputDelta>> OutputParser::update(const std::string &more_text, bool final) {
  impl_->text += more_text;
  common_chat_msg now;
  try {
    now = common_chat_parse(impl_->text, /*is_partial=*/!final, impl_->params);
  } catch (const std::exception &) {
    // A complete answer that breaks the format (a call begun and never closed): read it as far as it goes, as a cut
    // one is, so nothing the model said is dropped.
    try {
      now = common_chat_parse(impl_->text, /*is_partial=*/true, impl_->params);
    } catch (const std::exception &e) {
      return internal_error(std::string("the model's answer does not fit its chat format: ") + e.what());
    }
  }
  now.set_tool_call_ids(impl_->ids, new_call_id);
  std::vector<common_chat_msg_diff> diffs;
  try {
    diffs = common_chat_msg_diff::compute_diffs(impl_->previous, now);
  } catch (const std::exception &e) {
    // A partial parse that saw a call which the next one no longer sees; wait for more text.
    if (!final) return std::vector<OutputDelta>{};
    return internal_error(std::string("the model's tool calls changed while parsing: ") + e.what());
  }
  std::vector<OutputDelta> out;
  for (const auto &d : diffs) {
    OutputDelta delta;
    delta.content = d.content_delta + d.reasoning_content_delta;
    if (d.tool_call_index != std::string::npos) {
      delta.tool_index = static_cast<int32_t>(d.tool_call_index);
      delta.tool_id = d.tool_call_delta.id;
      delta.tool_name = d.tool_call_delta.name;
      delta.arguments = d.tool_call_delta.arguments;
    }
    if (!delta.content.empty() || delta.tool_index >= 0) out.push_back(std::move(delta));
  }
  impl_->previous = now;
  parsed_.content = now.content;
  parsed_.tool_calls.clear();
  for (const auto &c : now.tool_calls) parsed_.tool_calls.push_back({c.id, c.name, c.arguments});
  return out;
}

} // namespace aio::chat
