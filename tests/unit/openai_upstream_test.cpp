// Forwarding's wire format: the body sent upstream, and reading server-sent events that arrive in arbitrary pieces.
#include <gtest/gtest.h>

#include "openai/upstream.h"

namespace aio::openai {
namespace {
using nlohmann::json;

std::vector<UpstreamEvent> read_all(const std::string &stream, size_t piece) {
  SseReader r;
  std::vector<UpstreamEvent> events;
  for (size_t i = 0; i < stream.size(); i += piece)
    r.feed(std::string_view(stream).substr(i, piece), [&](const UpstreamEvent &e) {
      events.push_back(e);
      return true;
    });
  return events;
}

TEST(OpenAiUpstream, BodyCarriesTheRequestStreamed) {
  Request req;
  req.messages = {{"system", "be brief"}, {"user", "hi"}};
  GenerateParams params;
  params.max_tokens = 7;
  params.sampling.temperature = 0;
  params.sampling.seed = 42;
  params.stop = {"\n\n"};
  const json b = upstream_body(req, params, "served-name");
  EXPECT_EQ(b["model"], "served-name");
  EXPECT_EQ(b["messages"].size(), 2u);
  EXPECT_EQ(b["messages"][1]["content"], "hi");
  EXPECT_EQ(b["max_tokens"], 7);
  EXPECT_EQ(b["seed"], 42);
  EXPECT_EQ(b["stop"][0], "\n\n");
  EXPECT_EQ(b["stream"], true);
  EXPECT_EQ(b["stream_options"]["include_usage"], true);
  EXPECT_FALSE(b.contains("prompt"));
  EXPECT_FALSE(b.contains("ignore_eos"));
  EXPECT_FALSE(b.contains("tools"));

  Request completion;
  completion.prompt = "def f(";
  params.ignore_eos = true;
  const json c = upstream_body(completion, params, "m");
  EXPECT_EQ(c["prompt"], "def f(");
  EXPECT_FALSE(c.contains("messages"));
  EXPECT_EQ(c["ignore_eos"], true);
}

// Tools go up in the API's form, rebuilt from what the request parser kept; a named function as "required" over it.
TEST(OpenAiUpstream, ToolsGoUpInTheApisForm) {
  const std::string body = R"({"model": "aio", "messages": [{"role": "user", "content": "weather?"}],
    "tools": [{"type": "function", "function": {"name": "get_weather", "description": "d",
               "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}, "strict": true}},
              {"type": "function", "function": {"name": "other"}}],
    "parallel_tool_calls": false})";
  ApiRequest api;
  ASSERT_FALSE(parse_request(body, Endpoint::chat_completions, {}, api).has_value());
  Request req = request_of(api);
  json b = upstream_body(req, api.params, "m");
  ASSERT_EQ(b["tools"].size(), 2u);
  EXPECT_EQ(b["tools"][0], json::parse(R"({"type": "function", "function": {"name": "get_weather", "description": "d",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}, "strict": true}})"));
  EXPECT_EQ(b["tools"][1], json::parse(R"({"type": "function", "function": {"name": "other"}})"));
  EXPECT_FALSE(b.contains("tool_choice")); // auto: the API's default
  EXPECT_EQ(b["parallel_tool_calls"], false);

  req.tool_choice = {ToolChoice::Mode::function, "other"};
  b = upstream_body(req, api.params, "m");
  ASSERT_EQ(b["tools"].size(), 1u);
  EXPECT_EQ(b["tools"][0]["function"]["name"], "other");
  EXPECT_EQ(b["tool_choice"], "required");
  req.tool_choice = {ToolChoice::Mode::none, ""};
  EXPECT_EQ(upstream_body(req, api.params, "m")["tool_choice"], "none");
}

TEST(OpenAiUpstream, EventsSurviveAnySplit) {
  const std::string stream =
      "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"},\"finish_reason\":null}]}\r\n\r\n"
      ": keep-alive comment\n\n"
      "data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"},\"finish_reason\":null}]}\n\n"
      "data:{\"choices\":[{\"delta\":{\"content\":\"lo \\u4e16\"},\"finish_reason\":null}]}\n\n"
      "data: {\"choices\":[{\"text\":\"!\",\"finish_reason\":\"length\"}]}\n\n"
      "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":3}}\n\n"
      "data: [DONE]\n\n";
  for (size_t piece : {1u, 2u, 7u, 64u, 4096u}) {
    const auto ev = read_all(stream, piece);
    ASSERT_EQ(ev.size(), 6u) << piece;
    std::string text;
    for (const auto &e : ev) text += e.text;
    EXPECT_EQ(text, "Hello \xe4\xb8\x96!") << piece;
    EXPECT_EQ(ev[3].finish_reason.value_or(""), "length");
    ASSERT_TRUE(ev[4].usage.has_value());
    EXPECT_EQ(ev[4].usage->prompt_tokens, 5);
    EXPECT_EQ(ev[4].usage->completion_tokens, 3);
    EXPECT_TRUE(ev[5].done);
    for (const auto &e : ev) EXPECT_FALSE(e.error.has_value());
  }
}

TEST(OpenAiUpstream, ErrorsAndGarbageBecomeErrorEvents) {
  const auto ev = read_all("data: {\"error\":{\"message\":\"context too long\",\"code\":400}}\n\ndata: not json\n\n", 5);
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].error.value_or(""), "context too long");
  EXPECT_NE(ev[1].error.value_or("").find("not JSON"), std::string::npos);
  EXPECT_EQ(upstream_error_message(R"({"error": {"message": "no such model"}})"), "no such model");
  EXPECT_EQ(upstream_error_message(R"({"error": "plain"})"), "plain");
  EXPECT_EQ(upstream_error_message("Bad Gateway"), "Bad Gateway");
}

TEST(OpenAiUpstream, StoppingTheReaderStopsAtThatEvent) {
  SseReader r;
  int seen = 0;
  EXPECT_FALSE(r.feed("data: {}\n\ndata: {}\n\n", [&](const UpstreamEvent &) { return ++seen < 1; }));
  EXPECT_EQ(seen, 1);
}

TEST(OpenAiUpstream, LogprobsAndStructuredOutputsGoUpAndComeBack) {
  Request chat;
  chat.messages = {{"user", "x"}};
  chat.response_format = {ResponseFormat::Type::json_schema, R"({"type": "object"})", "person"};
  GenerateParams params;
  params.logprobs = 2;
  params.constraints.logit_bias = {{7, -100.0f}};
  const json body = upstream_body(chat, params, "m");
  EXPECT_EQ(body["logprobs"], true);
  EXPECT_EQ(body["top_logprobs"], 2);
  EXPECT_EQ(body["response_format"]["json_schema"]["schema"], json({{"type", "object"}}));
  EXPECT_EQ(body["response_format"]["json_schema"]["name"], "person");
  EXPECT_EQ(body["logit_bias"]["7"], -100.0);
  Request comp;
  comp.prompt = "x";
  params.logprobs = 1;
  EXPECT_EQ(upstream_body(comp, params, "m")["logprobs"], 1);

  const std::string stream =
      R"(data: {"choices": [{"delta": {"content": "hé"}, "logprobs": {"content": [{"token": "h", "logprob": -0.5, )"
      R"("bytes": [104], "top_logprobs": [{"token": "h", "logprob": -0.5}]}, {"token": "é", "logprob": -1.5, "bytes": [195, 169]}]}}]})"
      "\n\n"
      R"(data: {"choices": [{"text": "!", "logprobs": {"tokens": ["!"], "token_logprobs": [-2.0], "top_logprobs": [{"!": -2.0, "?": -3.0}]}}]})"
      "\n\ndata: [DONE]\n\n";
  const auto events = read_all(stream, 7);
  ASSERT_EQ(events.size(), 3u);
  ASSERT_EQ(events[0].logprobs.size(), 2u);
  EXPECT_EQ(events[0].logprobs[1].piece, "é");
  EXPECT_FLOAT_EQ(events[0].logprobs[1].logprob, -1.5f);
  ASSERT_EQ(events[0].logprobs[0].top.size(), 1u);
  ASSERT_EQ(events[1].logprobs.size(), 1u);
  EXPECT_EQ(events[1].logprobs[0].piece, "!");
  EXPECT_EQ(events[1].logprobs[0].top.size(), 2u);
}

} // namespace
} // namespace aio::openai

namespace aio::openai {
namespace {

TEST(OpenAiUpstream, ToolCallDeltasComeBackAndOddShapesAreSkipped) {
  const std::string stream =
      R"(data: {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 1, "id": "call_x", "type": "function", "function": {"name": "f", "arguments": "{\"a\""}}]}}]})"
      "\n\n"
      R"(data: {"choices": [{"index": 0, "delta": {"tool_calls": [7, {"index": "one", "function": {"arguments": ": 1}"}}]}}]})"
      "\n\n";
  std::vector<chat::OutputDelta> deltas;
  SseReader r;
  r.feed(stream, [&](const UpstreamEvent &e) {
    EXPECT_FALSE(e.error.has_value());
    deltas.insert(deltas.end(), e.tool_calls.begin(), e.tool_calls.end());
    return true;
  });
  ASSERT_EQ(deltas.size(), 2u);
  EXPECT_EQ(deltas[0].tool_index, 1);
  EXPECT_EQ(deltas[0].tool_id, "call_x");
  EXPECT_EQ(deltas[0].tool_name, "f");
  EXPECT_EQ(deltas[0].arguments, R"({"a")");
  EXPECT_EQ(deltas[1].tool_index, 0) << "an index that is not a number is read as the first call";
  EXPECT_EQ(deltas[1].arguments, ": 1}");
}

} // namespace
} // namespace aio::openai
