// Pathological inputs at orders of magnitude the fuzzers' small mutations never reach (issue 19): nesting 10 to
// 100,000 levels deep in every place a JSON value can sit, enums and lists of 10 to 100,000 entries, 100,000-message
// chats, lines of megabytes. Each family is generated at every size and given to the fuzz targets (whose properties
// are: no crash, no throw, a clear 4xx or error) and to the limits directly, which must refuse what is past them by
// name and accept what is within.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "openai/openai_json.h"
#include "openai/upstream.h"
#include "util/json_limits.h"
#include "fuzz_targets.h"


namespace aio::test {
namespace {

std::string repeat(const std::string &s, size_t n) {
  std::string out;
  out.reserve(s.size() * n);
  for (size_t i = 0; i < n; ++i) out += s;
  return out;
}

// A JSON value nested `depth` levels, in one of the shapes a schema or a value nests by.
std::string nested(const std::string &shape, size_t depth) {
  if (shape == "array") return repeat("[", depth) + repeat("]", depth);
  if (shape == "object") return repeat(R"({"a":)", depth) + "1" + repeat("}", depth);
  if (shape == "items") return repeat(R"({"type":"array","items":)", depth) + R"({"type":"string"})" + repeat("}", depth);
  if (shape == "properties")
    return repeat(R"({"type":"object","properties":{"a":)", depth) + R"({"type":"string"})" + repeat("}}", depth);
  if (shape == "anyOf") return repeat(R"({"anyOf":[)", depth) + R"({"type":"string"})" + repeat("]}", depth);
  return repeat(R"({"not":)", depth) + "{}" + repeat("}", depth); // "not"
}

const std::string kChat = R"({"model":"aio","messages":[{"role":"user","content":"hi"}])";

// Every place a request holds a JSON value, with `value` put there.
std::vector<std::string> request_bodies(const std::string &value) {
  return {
      kChat + R"(,"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":)" + value + "}}}",
      kChat + R"(,"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"enum":[)" + value + "]}}}}",
      kChat + R"(,"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"a":)" +
          value + "}}}}]}",
      kChat + R"(,"metadata":)" + value + "}",
      kChat + R"(,"logit_bias":)" + value + "}",
      kChat + R"(,"aio":)" + value + "}",
      R"({"model":"aio","messages":[{"role":"user","content":)" + value + "}]}",
      R"({"model":"aio","prompt":)" + value + "}",
  };
}

void feed(int (*target)(const uint8_t *, size_t), const std::string &input) {
  target(reinterpret_cast<const uint8_t *>(input.data()), input.size()); // aborts when a property fails
}

TEST(PathologicalInputs, DeepNestingEverywhereIsRefusedByDepth) {
  const openai::RequestLimits limits;
  for (const char *shape : {"array", "object", "items", "properties", "anyOf", "not"})
    for (const size_t depth : {10, 100, 1000, 10000, 100000}) {
      for (const std::string &body : request_bodies(nested(shape, depth))) {
        SCOPED_TRACE(std::string(shape) + " x " + std::to_string(depth));
        feed(fuzz_openai_request, body);
        openai::ApiRequest out;
        const auto error = openai::parse_request(body, openai::Endpoint::chat_completions, limits, out);
        if (json_nesting_depth(body) > limits.max_json_depth) {
          ASSERT_TRUE(error);
          EXPECT_EQ(error->http_status, 400);
          EXPECT_NE(error->message.find("--max-json-depth"), std::string::npos) << error->message;
        }
      }
      // Tool-call arguments are JSON inside a JSON string: their depth is checked on their own.
      const nlohmann::json history = {
          {"model", "aio"},
          {"messages",
           {{{"role", "user"}, {"content", "x"}},
            {{"role", "assistant"},
             {"content", nullptr},
             {"tool_calls", {{{"id", "1"}, {"type", "function"}, {"function", {{"name", "f"}, {"arguments", nested(shape, depth)}}}}}}}}}};
      openai::ApiRequest out;
      const auto error = openai::parse_request(history.dump(), openai::Endpoint::chat_completions, limits, out);
      if (depth > limits.max_json_depth) {
        ASSERT_TRUE(error) << shape << " x " << depth;
        EXPECT_NE(error->message.find("nests deeper"), std::string::npos) << error->message;
      }
      // The same depths in an upstream's event stream, and in every loader's lines.
      feed(fuzz_upstream_sse, "data: " + nested(shape, depth) + "\n\ndata: [DONE]\n\n");
      feed(fuzz_results_log, nested(shape, depth) + "\n" + nested(shape, depth) + "\n");
      feed(fuzz_dataset_loaders, nested(shape, depth) + "\n");
      feed(fuzz_yaml_loaders, "models: " + nested("array", depth) + "\n");
    }
}

TEST(PathologicalInputs, HugeListsAreRefusedByCountWithinTheBodyCap) {
  const openai::RequestLimits limits;
  for (const size_t n : {10, 100, 1000, 10000, 100000}) {
    SCOPED_TRACE(n);
    std::string values;
    for (size_t i = 0; i < n; ++i) values += (i ? "," : "") + std::to_string(i);
    std::string messages;
    for (size_t i = 0; i < n; ++i) messages += std::string(i ? "," : "") + R"({"role":"user","content":"x"})";
    std::string tools;
    for (size_t i = 0; i < n; ++i)
      tools += std::string(i ? "," : "") + R"({"type":"function","function":{"name":"f)" + std::to_string(i) + R"("}})";
    const std::vector<std::pair<std::string, std::pair<size_t, std::string>>> cases = {
        {kChat + R"(,"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"enum":[)" + values + "]}}}}",
         {limits.max_enum_values, "--max-"}},
        {R"({"model":"aio","messages":[)" + messages + "]}", {limits.max_messages, "--max-messages"}},
        {kChat + R"(,"tools":[)" + tools + "]}", {limits.max_tools, "--max-tools"}},
        {kChat + R"(,"stop":[)" + values + "]}", {4, "'stop'"}},
        {kChat + R"(,"logit_bias":{)" + [&] {
           std::string b;
           for (size_t i = 0; i < n; ++i) b += (i ? ",\"" : "\"") + std::to_string(i) + "\":1";
           return b;
         }() + "}}",
         {SIZE_MAX, ""}},
    };
    for (const auto &[body, expect] : cases) {
      feed(fuzz_openai_request, body);
      openai::ApiRequest out;
      const auto error = openai::parse_request(body, openai::Endpoint::chat_completions, limits, out);
      if (n > expect.first) {
        ASSERT_TRUE(error) << body.substr(0, 120);
        EXPECT_NE(error->message.find(expect.second), std::string::npos) << error->message;
      }
    }
  }
}

TEST(PathologicalInputs, LongLinesAreBoundedEverywhere) {
  for (const size_t n : {size_t{1} << 10, size_t{1} << 16, size_t{1} << 20, size_t{8} << 20}) {
    SCOPED_TRACE(n);
    const std::string line(n, 'x');
    feed(fuzz_upstream_sse, "data: " + line);            // never ended
    feed(fuzz_upstream_sse, "data: \"" + line + "\"\n"); // ended, not an object
    feed(fuzz_results_log, line + "\n");
    feed(fuzz_dataset_loaders, line);
    feed(fuzz_yaml_loaders, "models: " + line + "\n");
  }
  // An upstream line past the reader's cap ends the stream with an error event that says so.
  openai::SseReader sse(size_t{1} << 20);
  std::string error;
  const bool more = sse.feed("data: " + std::string(2 << 20, 'x'), [&](const openai::UpstreamEvent &ev) {
    if (ev.error) error = *ev.error;
    return true;
  });
  EXPECT_FALSE(more);
  EXPECT_NE(error.find("--max-upstream-line"), std::string::npos) << error;
}

TEST(PathologicalInputs, TheDepthScanSkipsStringsAndStopsEarly) {
  EXPECT_EQ(json_nesting_depth("1"), 0u);
  EXPECT_EQ(json_nesting_depth(R"({"a": [1, {"b": 2}]})"), 3u);
  EXPECT_EQ(json_nesting_depth(R"(["[[[[", "\"[[[", {"x": "]]]]"}])"), 2u);
  EXPECT_EQ(json_nesting_depth(repeat("[", 1000000), 64), 65u);
  EXPECT_EQ(json_nesting_depth(R"("\\")" + std::string("[[")), 2u);
}

} // namespace
} // namespace aio::test
