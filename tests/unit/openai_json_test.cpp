// The OpenAI wire format: valid requests parse to what the engine needs; each bad field is named in a 400.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <sstream>

#include "openai/openai_json.h"
#include "support/paths.h"

namespace aio::openai {
namespace {

ApiRequest parse_ok(const std::string &body, Endpoint e = Endpoint::chat_completions) {
  ApiRequest req;
  auto err = parse_request(body, e, {}, req);
  EXPECT_FALSE(err.has_value()) << (err ? err->message : "");
  return req;
}

ApiError parse_err(const std::string &body, Endpoint e = Endpoint::chat_completions, RequestLimits limits = {}) {
  ApiRequest req;
  auto err = parse_request(body, e, limits, req);
  EXPECT_TRUE(err.has_value()) << body;
  return err.value_or(ApiError{});
}

TEST(OpenAiJson, ChatRequestParses) {
  const auto req = parse_ok(R"({"model": "aio", "messages": [{"role": "system", "content": "Be brief."},
      {"role": "user", "content": [{"type": "text", "text": "Hi "}, {"type": "text", "text": "there"}]}],
      "max_tokens": 64, "temperature": 0, "top_p": 0.9, "seed": 7, "stop": ["\n\n", "END"], "stream": true,
      "stream_options": {"include_usage": true}})");
  EXPECT_EQ(req.model, "aio");
  ASSERT_EQ(req.messages.size(), 2u);
  EXPECT_EQ(req.messages[1].content, "Hi there");
  EXPECT_EQ(req.params.max_tokens, 64);
  EXPECT_TRUE(req.params.sampling.greedy());
  EXPECT_FLOAT_EQ(req.params.sampling.top_p, 0.9f);
  EXPECT_EQ(req.params.sampling.seed, 7u);
  EXPECT_EQ(req.params.stop, (std::vector<std::string>{"\n\n", "END"}));
  EXPECT_TRUE(req.stream);
  EXPECT_TRUE(req.include_usage);
}

TEST(OpenAiJson, DefaultsFollowOpenAi) {
  const auto req = parse_ok(R"({"model": "small", "messages": [{"role": "user", "content": "x"}]})");
  EXPECT_EQ(req.params.max_tokens, RequestLimits{}.default_max_tokens);
  EXPECT_FLOAT_EQ(req.params.sampling.temperature, 1.0f);
  EXPECT_FALSE(req.stream);
}

TEST(OpenAiJson, CompletionRequestParses) {
  const auto req = parse_ok(R"({"model": "aio", "prompt": "def f(", "max_tokens": 5})", Endpoint::completions);
  EXPECT_EQ(req.prompt, "def f(");
  EXPECT_EQ(parse_ok(R"({"model": "aio", "prompt": ["one"]})", Endpoint::completions).prompt, "one");
}

TEST(OpenAiJson, EveryBadFieldIsNamed) {
  struct Case {
    std::string body, param;
  };
  const std::string msgs = R"("messages": [{"role": "user", "content": "x"}])";
  const std::vector<Case> cases = {
      {R"({"messages": [{"role": "user", "content": "x"}]})", "model"},
      {R"({"model": 5, )" + msgs + "}", "model"},
      {R"({"model": "aio"})", "messages"},
      {R"({"model": "aio", "messages": []})", "messages"},
      {R"({"model": "aio", "messages": [{"role": "robot", "content": "x"}]})", "messages[0].role"},
      {R"({"model": "aio", "messages": [{"role": "user"}]})", "messages[0].content"},
      {R"({"model": "aio", "messages": [{"role": "user", "content": [{"type": "image_url"}]}]})", "messages[0].content[0]"},
      {R"({"model": "aio", )" + msgs + R"(, "max_tokens": 0})", "max_tokens"},
      {R"({"model": "aio", )" + msgs + R"(, "max_tokens": "ten"})", "max_tokens"},
      {R"({"model": "aio", )" + msgs + R"(, "max_tokens": 100000})", "max_tokens"},
      {R"({"model": "aio", )" + msgs + R"(, "temperature": 3})", "temperature"},
      {R"({"model": "aio", )" + msgs + R"(, "top_p": 0})", "top_p"},
      {R"({"model": "aio", )" + msgs + R"(, "n": 2})", "n"},
      {R"({"model": "aio", )" + msgs + R"(, "stop": [1]})", "stop"},
      {R"({"model": "aio", )" + msgs + R"(, "stop": ["a", "b", "c", "d", "e"]})", "stop"},
      {R"({"model": "aio", )" + msgs + R"(, "stream": "yes"})", "stream"},
  };
  for (const auto &c : cases) {
    const ApiError e = parse_err(c.body);
    EXPECT_EQ(e.http_status, 400);
    EXPECT_EQ(e.param, c.param) << c.body << " -> " << e.message;
    EXPECT_NE(e.message.find(c.param.substr(0, c.param.find('['))), std::string::npos) << e.message;
  }
  EXPECT_EQ(parse_err(R"({"model": "aio", "prompt": ["a", "b"]})", Endpoint::completions).param, "prompt");
  EXPECT_EQ(parse_err(R"({"model": "aio", "prompt": ""})", Endpoint::completions).param, "prompt");
}

TEST(OpenAiJson, MalformedBodiesAreRefused) {
  EXPECT_NE(parse_err("{not json").message.find("not valid JSON"), std::string::npos);
  EXPECT_NE(parse_err("[1, 2]").message.find("JSON object"), std::string::npos);
  EXPECT_NE(parse_err("{\"model\": \"aio\", \"messages\": [{\"role\": \"user\", \"content\": \"\xff\xfe\"}]}")
                .message.find("UTF-8"),
            std::string::npos);
}

TEST(OpenAiJson, ErrorObjectHasTheOpenAiShape) {
  const auto j = ApiError{400, "bad", "invalid_request_error", "top_p"}.to_json();
  EXPECT_EQ(j["error"]["message"], "bad");
  EXPECT_EQ(j["error"]["type"], "invalid_request_error");
  EXPECT_EQ(j["error"]["param"], "top_p");
  EXPECT_TRUE(j["error"]["code"].is_null());
}

TEST(OpenAiJson, StatusCodesMapToHttpAndCarryRetryAfter) {
  EXPECT_EQ(error_from_status(invalid_argument("x")).http_status, 400);
  EXPECT_EQ(error_from_status(not_found("x")).param, "model");
  EXPECT_EQ(error_from_status(resource_exhausted("x")).http_status, 429);
  EXPECT_EQ(error_from_status(unavailable("x")).http_status, 502);
  const ApiError down = error_from_status(aborted("no healthy replica").set_retry_after(4));
  EXPECT_EQ(down.http_status, 503);
  EXPECT_EQ(down.retry_after_seconds, 4) << "the refusing part's own estimate reaches the HTTP layer";
  EXPECT_EQ(error_from_status(aborted("shutting down")).retry_after_seconds, 0) << "0: the server's default";
}

TEST(OpenAiJson, ResponsesAndChunks) {
  const auto chat = parse_ok(R"({"model": "aio", "messages": [{"role": "user", "content": "x"}]})");
  auto r = completion_response(chat, "id1", 42, "aio", "hello", FinishReason::max_tokens, {3, 5},
                               nlohmann::json{{"route", "x"}});
  EXPECT_EQ(r["object"], "chat.completion");
  EXPECT_EQ(r["choices"][0]["message"]["content"], "hello");
  EXPECT_EQ(r["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(r["usage"]["total_tokens"], 8);
  EXPECT_EQ(r["usage"]["prompt_tokens_details"]["cached_tokens"], 0);
  EXPECT_EQ(completion_response(chat, "id1", 42, "aio", "hello", FinishReason::max_tokens, {3, 5, 2},
                                nlohmann::json::object())["usage"]["prompt_tokens_details"]["cached_tokens"], 2);
  EXPECT_EQ(r["aio"]["route"], "x");
  auto delta = stream_chunk(chat, "id1", 42, "aio", "he", std::nullopt);
  EXPECT_EQ(delta["object"], "chat.completion.chunk");
  EXPECT_EQ(delta["choices"][0]["delta"]["content"], "he");
  EXPECT_TRUE(delta["choices"][0]["finish_reason"].is_null());
  auto last = stream_chunk(chat, "id1", 42, "aio", "", FinishReason::stop_string);
  EXPECT_EQ(last["choices"][0]["finish_reason"], "stop");
  const auto comp = parse_ok(R"({"model": "aio", "prompt": "x"})", Endpoint::completions);
  EXPECT_EQ(completion_response(comp, "c", 1, "aio", "t", FinishReason::end_of_generation, {}, {})["choices"][0]["text"], "t");
}

TEST(OpenAiJson, NewFieldsParseToTheEngineParams) {
  const auto chat = parse_ok(R"({"model": "aio", "messages": [{"role": "user", "content": "x"}], "logprobs": true,
      "top_logprobs": 3, "presence_penalty": 0.5, "frequency_penalty": -1, "logit_bias": {"42": -100, "7": 5.5},
      "response_format": {"type": "json_schema", "json_schema": {"name": "r", "schema": {"type": "object"}}},
      "user": "u1", "metadata": {"k": "v"}, "store": false, "modalities": ["text"]})");
  EXPECT_EQ(chat.params.logprobs, 3);
  EXPECT_FLOAT_EQ(chat.params.constraints.presence_penalty, 0.5f);
  EXPECT_FLOAT_EQ(chat.params.constraints.frequency_penalty, -1.0f);
  EXPECT_EQ(chat.params.constraints.logit_bias.size(), 2u);
  EXPECT_EQ(chat.response_format.type, ResponseFormat::Type::json_schema);
  EXPECT_EQ(nlohmann::json::parse(chat.response_format.schema), nlohmann::json({{"type", "object"}}));
  EXPECT_EQ(chat.response_format.name, "r");
  const auto comp = parse_ok(R"({"model": "aio", "prompt": "x", "logprobs": 2})", Endpoint::completions);
  EXPECT_EQ(comp.params.logprobs, 2);
  EXPECT_TRUE(parse_ok(R"({"model": "aio", "prompt": "x", "echo": true})", Endpoint::completions).echo);
}

TEST(OpenAiJson, UnknownAndUnsupportedFieldsAreRefusedNotIgnored) {
  const std::string chat = R"({"model": "aio", "messages": [{"role": "user", "content": "x"}], )";
  struct Case {
    std::string body, param;
    Endpoint e = Endpoint::chat_completions;
  };
  for (const Case &c : std::vector<Case>{
           {chat + R"("frobnicate": 1})", "frobnicate"},
           {chat + R"("functions": [{"name": "f"}]})", "functions"},
           {chat + R"("audio": {}})", "audio"},
           {chat + R"("top_logprobs": 2})", "top_logprobs"},
           {chat + R"("logit_bias": {"x": 1}})", "logit_bias"},
           {chat + R"("logit_bias": {"1": 101}})", "logit_bias"},
           {chat + R"("presence_penalty": 3})", "presence_penalty"},
           {chat + R"("response_format": {"type": "xml"}})", "response_format"},
           {chat + R"("modalities": ["audio"]})", "modalities"},
           {chat + R"("store": true})", "store"},
           {chat + R"("stream_options": {"include_usage": true}})", "stream_options"},
           {chat + R"("echo": true})", "echo"},
           {R"({"model": "aio", "prompt": "x", "suffix": "y"})", "suffix", Endpoint::completions},
           {R"({"model": "aio", "prompt": "x", "echo": true, "logprobs": 1})", "echo", Endpoint::completions},
           {R"({"model": "aio", "prompt": "x", "best_of": 3})", "best_of", Endpoint::completions},
           {R"({"model": "aio", "prompt": "x", "top_logprobs": 3})", "top_logprobs", Endpoint::completions},
       }) {
    const ApiError e = parse_err(c.body, c.e);
    EXPECT_EQ(e.http_status, 400) << c.body;
    EXPECT_EQ(e.param, c.param) << c.body << " -> " << e.message;
  }
}

TEST(OpenAiJson, ToolsToolChoiceAndToolTurnsParse) {
  const auto req = parse_ok(R"({"model": "aio", "messages": [
      {"role": "user", "content": "Weather in Paris?"},
      {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
          "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
      {"role": "tool", "tool_call_id": "call_1", "content": "18 C"}],
    "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather",
               "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}},
              {"type": "function", "function": {"name": "get_time"}}],
    "tool_choice": {"type": "function", "function": {"name": "get_weather"}}, "parallel_tool_calls": false})");
  ASSERT_EQ(req.messages.size(), 3u);
  ASSERT_EQ(req.messages[1].tool_calls.size(), 1u);
  EXPECT_EQ(req.messages[1].tool_calls[0].id, "call_1");
  EXPECT_EQ(req.messages[1].tool_calls[0].name, "get_weather");
  EXPECT_EQ(req.messages[1].tool_calls[0].arguments, R"({"city": "Paris"})");
  EXPECT_TRUE(req.messages[1].content.empty());
  EXPECT_EQ(req.messages[2].role, "tool");
  EXPECT_EQ(req.messages[2].tool_call_id, "call_1");
  ASSERT_EQ(req.tools.size(), 2u);
  EXPECT_EQ(req.tools[0].description, "Weather");
  EXPECT_NE(req.tools[0].parameters.find("city"), std::string::npos);
  EXPECT_TRUE(req.tools[1].parameters.empty());
  EXPECT_EQ(req.tool_choice.mode, ToolChoice::Mode::function);
  EXPECT_EQ(req.tool_choice.function, "get_weather");
  EXPECT_FALSE(req.parallel_tool_calls);
  EXPECT_EQ(parse_ok(R"({"model": "aio", "messages": [{"role": "user", "content": "x"}],
                         "tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": "required"})")
                .tool_choice.mode,
            ToolChoice::Mode::required);
}

TEST(OpenAiJson, BadToolsAndToolTurnsAreNamed) {
  const std::string user = R"({"role": "user", "content": "x"})";
  const std::string tool = R"({"type": "function", "function": {"name": "f"}})";
  struct Case {
    std::string body, param;
  };
  for (const Case &c : std::vector<Case>{
           {R"({"model": "aio", "messages": [)" + user + R"(], "tools": {}})", "tools"},
           {R"({"model": "aio", "messages": [)" + user + R"(], "tools": [{"type": "web"}]})", "tools[0]"},
           {R"({"model": "aio", "messages": [)" + user + R"(], "tools": [{"type": "function", "function": {"name": "a b"}}]})", "tools[0].function.name"},
           {R"({"model": "aio", "messages": [)" + user + R"(], "tools": [)" + tool + "," + tool + R"(]})", "tools[1].function.name"},
           {R"({"model": "aio", "messages": [)" + user + R"(], "tools": [{"type": "function", "function": {"name": "f", "parameters": 3}}]})", "tools[0].function.parameters"},
           {R"({"model": "aio", "messages": [)" + user + R"(], "tool_choice": "auto"})", "tool_choice"},
           {R"({"model": "aio", "messages": [)" + user + R"(], "tools": [)" + tool + R"(], "tool_choice": "always"})", "tool_choice"},
           {R"({"model": "aio", "messages": [)" + user + R"(], "tools": [)" + tool + R"(], "tool_choice": {"type": "function", "function": {"name": "g"}}})", "tool_choice"},
           {R"({"model": "aio", "messages": [)" + user + R"(], "tools": [)" + tool + R"(], "parallel_tool_calls": "yes"})", "parallel_tool_calls"},
           {R"({"model": "aio", "messages": [)" + user + R"(], "tools": [)" + tool + R"(], "response_format": {"type": "json_object"}})", "response_format"},
           {R"({"model": "aio", "messages": [)" + user + R"(], "tools": [)" + tool + R"(], "logprobs": true})", "logprobs"},
           {R"({"model": "aio", "messages": [{"role": "tool", "content": "r"}]})", "messages[0].tool_call_id"},
           {R"({"model": "aio", "messages": [{"role": "assistant", "content": null}]})", "messages[0].content"},
           {R"({"model": "aio", "messages": [{"role": "assistant", "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": "{oops"}}]}]})", "messages[0].tool_calls[0].function.arguments"},
           {R"({"model": "aio", "messages": [{"role": "assistant", "tool_calls": [{"type": "function", "function": {"arguments": "{}"}}]}]})", "messages[0].tool_calls[0].function.name"},
       }) {
    const ApiError e = parse_err(c.body);
    EXPECT_EQ(e.http_status, 400) << c.body;
    EXPECT_EQ(e.param, c.param) << c.body << " -> " << e.message;
  }
}

TEST(OpenAiJson, ToolCallsInResponsesAndChunks) {
  ApiRequest req;
  chat::ParsedOutput parsed{"", {{"call_abc", "get_weather", R"({"city": "Paris"})"}}};
  const auto r = completion_response(req, "id", 1, "aio", "<tool_call>...", FinishReason::end_of_generation,
                                     {}, nullptr, {}, &parsed);
  const auto &msg = r["choices"][0]["message"];
  EXPECT_TRUE(msg["content"].is_null()) << "an answer that is only calls has content null";
  EXPECT_EQ(r["choices"][0]["finish_reason"], "tool_calls");
  EXPECT_EQ(msg["tool_calls"][0]["id"], "call_abc");
  EXPECT_EQ(msg["tool_calls"][0]["type"], "function");
  EXPECT_EQ(msg["tool_calls"][0]["function"]["name"], "get_weather");
  EXPECT_EQ(msg["tool_calls"][0]["function"]["arguments"], R"({"city": "Paris"})");
  // A call cut by max_tokens is "length", as the API says.
  EXPECT_EQ(completion_response(req, "id", 1, "aio", "", FinishReason::max_tokens, {}, nullptr, {}, &parsed)
                ["choices"][0]["finish_reason"], "length");

  const auto first = tool_delta_chunk("id", 1, "aio", {.content = "", .tool_index = 0, .tool_id = "call_abc",
                                                       .tool_name = "get_weather", .arguments = "{"});
  const auto &call = first["choices"][0]["delta"]["tool_calls"][0];
  EXPECT_EQ(call["index"], 0);
  EXPECT_EQ(call["id"], "call_abc");
  EXPECT_EQ(call["type"], "function");
  EXPECT_EQ(call["function"]["name"], "get_weather");
  EXPECT_EQ(call["function"]["arguments"], "{");
  const auto more = tool_delta_chunk("id", 1, "aio", {.content = "", .tool_index = 0, .arguments = "}"});
  EXPECT_FALSE(more["choices"][0]["delta"]["tool_calls"][0].contains("id")) << "only the first delta names the call";
  EXPECT_EQ(tool_delta_chunk("id", 1, "aio", {.content = "hi"})["choices"][0]["delta"]["content"], "hi");
  EXPECT_EQ(finish_chunk("id", 1, "aio", "tool_calls")["choices"][0]["finish_reason"], "tool_calls");
}

TEST(OpenAiJson, LogprobsAndTheStreamsFirstAndLastChunks) {
  const auto chat = parse_ok(R"({"model": "aio", "messages": [{"role": "user", "content": "x"}], "logprobs": true,
                                 "top_logprobs": 1})");
  std::vector<engine::TokenLogprob> lps = {{5, "he", -0.5f, {{5, "he", -0.5f}}}, {6, "llo", -1.0f, {{6, "llo", -1.0f}}}};
  auto r = completion_response(chat, "id", 1, "aio", "hello", FinishReason::max_tokens, {1, 2}, {}, lps);
  const auto &content = r["choices"][0]["logprobs"]["content"];
  ASSERT_EQ(content.size(), 2u);
  EXPECT_EQ(content[1]["token"], "llo");
  EXPECT_FLOAT_EQ(content[1]["logprob"].get<float>(), -1.0f);
  EXPECT_EQ(content[1]["bytes"], nlohmann::json::array({'l', 'l', 'o'}));
  EXPECT_EQ(content[0]["top_logprobs"][0]["token"], "he");
  EXPECT_EQ(role_chunk("id", 1, "aio")["choices"][0]["delta"]["role"], "assistant");
  auto usage = usage_chunk(chat, "id", 1, "aio", {3, 4});
  EXPECT_TRUE(usage["choices"].empty());
  EXPECT_EQ(usage["usage"]["total_tokens"], 7);
  const auto comp = parse_ok(R"({"model": "aio", "prompt": "hi ", "logprobs": 1})", Endpoint::completions);
  auto c = completion_response(comp, "id", 1, "aio", "hello", FinishReason::max_tokens, {1, 2}, {}, lps);
  EXPECT_EQ(c["choices"][0]["logprobs"]["tokens"], nlohmann::json::array({"he", "llo"}));
  EXPECT_EQ(c["choices"][0]["logprobs"]["text_offset"], nlohmann::json::array({0, 2}));
  EXPECT_FLOAT_EQ(c["choices"][0]["logprobs"]["top_logprobs"][1]["llo"].get<float>(), -1.0f);
}

// docs/serving.md's conformance table is the server's own field list: same fields, same endpoints, same verdicts.
TEST(OpenAiJson, ReadmeConformanceTableIsTheFieldList) {
  std::ifstream in(std::string(AIO_SOURCE_DIR) + "/docs/serving.md");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string readme = ss.str();
  const size_t a = readme.find("<!-- conformance-table -->"), b = readme.find("<!-- /conformance-table -->");
  ASSERT_NE(a, std::string::npos);
  ASSERT_NE(b, std::string::npos);
  const std::string table = readme.substr(a, b - a);
  const std::regex row(R"(\| `(\w+)` \| (yes|-) \| (yes|-) \| (honoured|refused \(400\)) \|)");
  std::vector<std::string> rows;
  for (auto it = std::sregex_iterator(table.begin(), table.end(), row); it != std::sregex_iterator(); ++it) {
    const auto &m = *it;
    rows.push_back(m[1].str() + " " + m[2].str() + " " + m[3].str() + " " + m[4].str());
  }
  std::vector<std::string> fields;
  for (const ApiField &f : api_fields())
    fields.push_back(std::string(f.name) + " " + (f.chat ? "yes" : "-") + " " + (f.completions ? "yes" : "-") + " " +
                     (f.refused ? "refused (400)" : "honoured"));
  EXPECT_EQ(rows, fields);
}

} // namespace
} // namespace aio::openai
