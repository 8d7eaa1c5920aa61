// The OpenAI conformance table of docs/serving.md, walked against the live server: every field it calls honoured is accepted
// (200) with a typical value, and every field it calls refused gets a 400 naming that field - on each endpoint the
// table lists. (A unit test keeps the table equal to the server's own field list.)
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include <nlohmann/json.hpp>

#include "support/aio_server.h"
#include "support/paths.h"

namespace aio::test {
namespace {
using nlohmann::json;

struct Row {
  std::string field;
  bool chat, completions, honoured;
};

std::vector<Row> readme_table() {
  std::ifstream in(std::string(AIO_SOURCE_DIR) + "/docs/serving.md");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string readme = ss.str();
  const size_t a = readme.find("<!-- conformance-table -->"), b = readme.find("<!-- /conformance-table -->");
  std::vector<Row> rows;
  if (a == std::string::npos || b == std::string::npos) return rows;
  const std::string table = readme.substr(a, b - a);
  const std::regex row(R"(\| `(\w+)` \| (yes|-) \| (yes|-) \| (honoured|refused \(400\)) \|)");
  for (auto it = std::sregex_iterator(table.begin(), table.end(), row); it != std::sregex_iterator(); ++it)
    rows.push_back({(*it)[1], (*it)[2] == "yes", (*it)[3] == "yes", (*it)[4] == "honoured"});
  return rows;
}

// A typical value for each field, as a client would send it.
const std::map<std::string, json> &samples() {
  static const std::map<std::string, json> s = {
      {"model", "small"},
      {"messages", json::array({{{"role", "user"}, {"content", "Hello"}}})},
      {"prompt", "Once upon a time"},
      {"max_tokens", 3},
      {"max_completion_tokens", 3},
      {"temperature", 0.7},
      {"top_p", 0.9},
      {"seed", 42},
      {"stop", json::array({"\n\n"})},
      {"stream", false},
      {"stream_options", {{"include_usage", true}}},
      {"n", 1},
      {"presence_penalty", 0.5},
      {"frequency_penalty", 0.5},
      {"logit_bias", {{"10", -5}}},
      {"logprobs", true},
      {"top_logprobs", 2},
      {"echo", true},
      {"best_of", 1},
      {"response_format", {{"type", "json_object"}}},
      {"modalities", json::array({"text"})},
      {"store", false},
      {"service_tier", "auto"},
      {"user", "user-1"},
      {"safety_identifier", "hash-1"},
      {"prompt_cache_key", "conversation-1"},
      {"metadata", {{"team", "a"}}},
      {"tools", json::array({{{"type", "function"}, {"function", {{"name", "f"}, {"parameters", {{"type", "object"}}}}}}})},
      {"tool_choice", "auto"},
      {"parallel_tool_calls", true},
      {"functions", json::array({{{"name", "f"}}})},
      {"function_call", "auto"},
      {"audio", {{"voice", "alloy"}, {"format", "wav"}}},
      {"prediction", {{"type", "content"}, {"content", "x"}}},
      {"reasoning_effort", "low"},
      {"verbosity", "low"},
      {"web_search_options", json::object()},
      {"suffix", "end"},
  };
  return s;
}

TEST(ServeConformance, EveryFieldOfTheReadmeTableDoesWhatItSays) {
  const auto rows = readme_table();
  ASSERT_GT(rows.size(), 30u) << "docs/serving.md's conformance table was not found";
  AioServer s;
  ASSERT_GT(s.port, 0) << s.proc->output();
  for (const Row &r : rows) {
    ASSERT_TRUE(samples().count(r.field)) << "no sample value for '" << r.field << "': add one to this test";
    for (const bool chat : {true, false}) {
      if (chat ? !r.chat : !r.completions) continue;
      json body = {{"model", "small"}, {"max_tokens", 3}, {"temperature", 0}};
      if (chat) body["messages"] = samples().at("messages");
      else body["prompt"] = samples().at("prompt");
      body[r.field] = samples().at(r.field);
      if (r.field == "stream_options") body["stream"] = true;
      if (r.field == "top_logprobs") body["logprobs"] = true;
      if (r.field == "tool_choice" || r.field == "parallel_tool_calls") body["tools"] = samples().at("tools");
      if (r.field == "logprobs" && !chat) body["logprobs"] = 2;
      const char *path = chat ? "/v1/chat/completions" : "/v1/completions";
      auto res = s.client->Post(path, body.dump(), "application/json");
      ASSERT_TRUE(res) << r.field;
      SCOPED_TRACE(std::string(path) + " with '" + r.field + "': " + res->body.substr(0, 300));
      if (r.honoured) {
        EXPECT_EQ(res->status, 200);
      } else {
        EXPECT_EQ(res->status, 400);
        const json err = json::parse(res->body, nullptr, false);
        ASSERT_TRUE(err.is_object() && err.contains("error"));
        EXPECT_EQ(err["error"]["param"], r.field);
        EXPECT_FALSE(err["error"]["message"].get<std::string>().empty());
      }
    }
  }
  // A field the API does not define is refused too, never ignored.
  json body = {{"model", "small"}, {"prompt", "x"}, {"max_tokens", 2}, {"frobnicate", true}};
  auto res = s.client->Post("/v1/completions", body.dump(), "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
}

} // namespace
} // namespace aio::test
