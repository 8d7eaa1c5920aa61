// The OpenAI wire format: valid requests parse to what the engine needs; each bad field is named in a 400.
#include <gtest/gtest.h>

#include "serve/openai_json.h"

namespace aio::serve {
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

TEST(OpenAiJson, ResponsesAndChunks) {
  const auto chat = parse_ok(R"({"model": "aio", "messages": [{"role": "user", "content": "x"}]})");
  auto r = completion_response(chat, "id1", 42, "aio", "hello", engine::FinishReason::max_tokens, {3, 5},
                               nlohmann::json{{"route", "x"}});
  EXPECT_EQ(r["object"], "chat.completion");
  EXPECT_EQ(r["choices"][0]["message"]["content"], "hello");
  EXPECT_EQ(r["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(r["usage"]["total_tokens"], 8);
  EXPECT_EQ(r["aio"]["route"], "x");
  auto delta = stream_chunk(chat, "id1", 42, "aio", "he", std::nullopt);
  EXPECT_EQ(delta["object"], "chat.completion.chunk");
  EXPECT_EQ(delta["choices"][0]["delta"]["content"], "he");
  EXPECT_TRUE(delta["choices"][0]["finish_reason"].is_null());
  auto last = stream_chunk(chat, "id1", 42, "aio", "", engine::FinishReason::stop_string);
  EXPECT_EQ(last["choices"][0]["finish_reason"], "stop");
  const auto comp = parse_ok(R"({"model": "aio", "prompt": "x"})", Endpoint::completions);
  EXPECT_EQ(completion_response(comp, "c", 1, "aio", "t", engine::FinishReason::end_of_generation, {}, {})["choices"][0]["text"], "t");
}

} // namespace
} // namespace aio::serve
