// The OpenAI wire format, and nothing else: JSON request bodies -> validated requests, results -> JSON responses.
// The HTTP layer only translates (docs/architecture.md); every bad field comes back as an OpenAI-style error naming it.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "aio/request.h"
#include "aio/route.h"
#include "chat/output_parser.h"
#include "engine/generation.h"
#include "engine/model.h"

namespace aio::openai {

enum class Endpoint { chat_completions, completions };

// What the server allows, from its flags (docs/operations.md's table of limits lists each with its flag). Every bound is
// checked before the work it bounds: a refusal costs a scan of the body, never the work itself.
struct RequestLimits {
  int32_t max_tokens_cap = 4096;    // max_tokens above this is refused
  int32_t default_max_tokens = 256; // used when the request gives none
  size_t max_json_depth = 64;       // nesting of the body, and of every JSON text in it (tool-call arguments)
  size_t max_messages = 4096;       // chat turns in one request
  size_t max_tools = 128;           // tools offered in one request (OpenAI's own limit)
  size_t max_tools_bytes = 256 << 10;  // all tools' definitions together, as JSON text
  size_t max_schema_bytes = 128 << 10; // one JSON Schema (response_format or a tool's parameters), as JSON text
  size_t max_schema_nodes = 5000;   // subschemas (properties, items, anyOf branches...) in one schema
  size_t max_enum_values = 1000;    // enum and const values in one schema (OpenAI's structured outputs: 1000)
  size_t max_stop_bytes = 1024;     // one stop string
};

struct ApiRequest {
  Endpoint endpoint = Endpoint::chat_completions;
  std::string model;                       // "aio" (routed) or a configured model's name (pinned)
  std::vector<Message> messages; // chat
  std::string prompt;                      // completions
  GenerateParams params;
  bool stream = false;
  bool include_usage = false;              // stream_options.include_usage
  std::optional<std::string> label;        // aio.label: the request's true category (shadow trials, oracle)
  std::string policy;                      // aio.policy: a named policy instead of the serving one ("" = serving)
  bool echo = false;                       // completions: the prompt comes back before the completion
  // response_format; the service turns json_object and json_schema into a grammar (params.constraints.grammar) with
  // llama.cpp's JSON-schema conversion, a remote model is sent it as it is.
  ResponseFormat response_format;
  std::vector<Tool> tools;                 // tools / tool_choice / parallel_tool_calls, parsed
  ToolChoice tool_choice;
  bool parallel_tool_calls = true;
  // Every JSON-Schema `pattern` in the response schema and the tools' parameters: the service checks that llama.cpp's
  // grammar conversion can honour each (it would otherwise accept any string in its place).
  std::vector<std::string> schema_patterns;
};

// Every top-level field of the two endpoints' request bodies, as OpenAI's API reference defines them, and what A-IO
// does with it: honoured, or refused with a 400 that says why (never silently ignored). The conformance
// table is this list; a test walks it against the live server.
struct ApiField {
  const char *name;
  bool chat, completions;    // the endpoints that define it
  const char *refused;       // nullptr when honoured; else why a request that uses it gets 400
};
const std::vector<ApiField> &api_fields();

struct ApiError {
  int http_status = 400;
  std::string message;
  std::string type = "invalid_request_error";
  std::string param;                       // the offending field, "" when not about one field
  int retry_after_seconds = 0;             // Retry-After for a 429 / 503 (0 = the server's default)
  nlohmann::json to_json() const;          // {"error": {"message", "type", "param", "code"}}
};

// The error a failed request answers with: 400 for bad input (including a prompt too long for the context), 404 for
// an unknown model, 429 when the model's queue is full, 502 when a remote backend failed, 504 when it timed out, 503
// when the server is shutting down, 500 otherwise. (The status code decides, never the message's text.)
ApiError error_from_status(const Status &s);
// The HTTP status of a request that ended with `s` (200 when ok).
inline int http_status_of(const Status &s) { return s.ok() ? 200 : error_from_status(s).http_status; }

// Parses and validates a request body for `endpoint`. Malformed JSON, invalid UTF-8, a wrong type, a value out of
// range or an unsupported option each give a 400 naming the field.
std::optional<ApiError> parse_request(const std::string &body, Endpoint endpoint, const RequestLimits &limits,
                                      ApiRequest &out);

// The request as A-IO routes and answers it (and a remote replica is sent it): the conversation or prompt, the model it
// pins (any name but "aio"), its policy and label, tools and response format. `id` seeds its random choices.
Request request_of(const ApiRequest &api, uint64_t id = 0);

// OpenAI finish_reason for ours ("stop", "length"; cancelled and context_full map to "length"). An answer that ended
// on its own with tool calls finishes with "tool_calls".
const char *openai_finish_reason(FinishReason r, bool has_tool_calls = false);

// An assistant message's tool_calls array ([{id, type: "function", function: {name, arguments}}]).
nlohmann::json tool_calls_json(const std::vector<ToolCall> &calls);

struct Usage {
  int32_t prompt_tokens = 0;
  int32_t completion_tokens = 0;
  int32_t cached_tokens = 0; // of the prompt, found in a cache: prompt_tokens_details.cached_tokens
  nlohmann::json to_json() const;
};

// A choice's `logprobs` object for these tokens: chat {"content": [{token, logprob, bytes, top_logprobs}]};
// completions {tokens, token_logprobs, top_logprobs, text_offset}, offsets counted from `text_offset`.
nlohmann::json logprobs_json(const ApiRequest &req, std::span<const engine::TokenLogprob> logprobs, size_t text_offset);

// A complete (non-streamed) response. `aio` is the route record object attached to every response. With `echo` the
// prompt precedes the text. `parsed`: the answer read as content and tool calls (a request with tools); the message
// then has content null when there is none and the calls in tool_calls.
nlohmann::json completion_response(const ApiRequest &req, const std::string &id, int64_t created,
                                   const std::string &model, const std::string &text, FinishReason finish,
                                   const Usage &usage, const nlohmann::json &aio,
                                   std::span<const engine::TokenLogprob> logprobs = {},
                                   const chat::ParsedOutput *parsed = nullptr);

// One streamed chunk: a text delta (with its tokens' logprobs when asked for; offsets from `text_offset`), or
// (finish set) the closing chunk of the choice.
nlohmann::json stream_chunk(const ApiRequest &req, const std::string &id, int64_t created, const std::string &model,
                            const std::string &delta, std::optional<FinishReason> finish,
                            std::span<const engine::TokenLogprob> logprobs = {}, size_t text_offset = 0);
// A streamed chunk for one change of an answer read by chat::OutputParser: content, or a tool call's start (index, id,
// type, name) or more of its arguments, as delta.tool_calls.
nlohmann::json tool_delta_chunk(const std::string &id, int64_t created, const std::string &model,
                                const chat::OutputDelta &delta);
// The closing chunk of a chat answer with its finish_reason given as the API's string.
nlohmann::json finish_chunk(const std::string &id, int64_t created, const std::string &model, const char *finish_reason);
// The first chunk of a streamed chat answer: delta {"role": "assistant", "content": ""} (the API sends the role first).
nlohmann::json role_chunk(const std::string &id, int64_t created, const std::string &model);
// The chunk stream_options.include_usage asks for: after the finish chunk, with `choices: []`.
nlohmann::json usage_chunk(const ApiRequest &req, const std::string &id, int64_t created, const std::string &model,
                           const Usage &usage);

} // namespace aio::openai
