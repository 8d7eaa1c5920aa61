// The OpenAI wire format from the client side, for forwarding to a remote backend: the request body A-IO sends and a
// reader for the server-sent events that come back (in pieces of any size).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "aio/request.h"
#include "openai/openai_json.h"

namespace aio::openai {

// The body sent upstream for `req` generated with `params`: its messages (a chat, to /chat/completions) or prompt (to
// /completions), tools, response format and sampling settings, `model` as the upstream's model name, always streamed
// (so time to first token is measured and a disconnect can stop the upstream early).
nlohmann::json upstream_body(const Request &req, const GenerateParams &params, const std::string &model);

// One `data:` event of an upstream stream.
struct UpstreamEvent {
  std::string text;                          // the content delta ("" when none)
  std::optional<std::string> finish_reason;  // "stop", "length", ...
  std::optional<Usage> usage;                // sent with the last chunk when stream_options.include_usage
  std::optional<std::string> error;          // an error object's message, sent mid-stream
  std::vector<engine::TokenLogprob> logprobs; // the delta's tokens' log-probabilities (token ids unknown: -1)
  std::vector<chat::OutputDelta> tool_calls;  // delta.tool_calls: a call's start or more of its arguments
  bool done = false;                         // `data: [DONE]`
};

class SseReader {
public:
  // max_line_bytes: the longest line held while its end has not come (an event is one line); past it the stream
  // ends with an error event.
  explicit SseReader(size_t max_line_bytes = size_t{4} << 20) : max_line_bytes_(max_line_bytes) {}
  // Feeds bytes as they arrive; calls on_event for every complete `data:` line. Returns false when on_event did (stop
  // reading). A line that is not valid JSON becomes an event with `error` set.
  bool feed(std::string_view bytes, const std::function<bool(const UpstreamEvent &)> &on_event);

private:
  std::string pending_; // an incomplete last line
  size_t max_line_bytes_;
};

// The message of an OpenAI-style error body ({"error": {"message": ...}}), or the body itself cut to 300 bytes.
std::string upstream_error_message(const std::string &body);

} // namespace aio::openai
