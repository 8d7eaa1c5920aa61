// Remote backends: a model entry with `endpoint:` is served by another OpenAI-compatible server. Here that server is
// llama.cpp's own llama-server (built from the pinned source), started on loopback by the test; plus a backend that is
// down and one that never answers.
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <mutex>
#include <thread>

#include "support/aio_server.h"
#include "support/paths.h"
#include "support/tiny_models.h"

namespace aio::test {
namespace {
using nlohmann::json;

const char *kMath = "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. "
                    "How many clips did Natalia sell altogether in April and May?";
const char *kCode = "Write a Python function that reverses a list.";

// serve_config's models block names large locally; a remote config replaces it.
std::string config_with_remote_large(const std::string &endpoint, const std::string &extra = "") {
  const std::string path = make_temp_dir("remote") + "/aio.yaml";
  std::ofstream(path) << "models:\n  small: {path: " << tiny_pair().small_path << ", n_ctx: 512}\n"
                      << "  large: {endpoint: \"" << endpoint << "\"" << extra << "}\n"
                      << "probe: {kind: fasttext, fasttext_model: builtin}\nthreads: 1\n";
  return path;
}

json body_for(const std::string &model, const std::string &content, int max_tokens, bool stream = false) {
  json b = chat_body(content, stream);
  b["model"] = model;
  b["max_tokens"] = max_tokens;
  return b;
}

TEST(ServeRemote, ForwardsToLlamaServerIncludingStreaming) {
  if (LlamaServer::binary().empty()) GTEST_SKIP() << "this build has no llama-server (AIO_LLAMA_TOOLS=OFF)";
  LlamaServer upstream(tiny_pair().large_path);
  ASSERT_TRUE(upstream.ready) << upstream.proc->output();
  AioServer s({}, config_with_remote_large(upstream.endpoint()));
  ASSERT_GT(s.port, 0) << s.proc->output();

  auto routed = s.chat(body_for("aio", kMath, 16));
  ASSERT_TRUE(routed);
  ASSERT_EQ(routed->status, 200) << routed->body;
  const json r = json::parse(routed->body);
  EXPECT_EQ(r["aio"]["route"]["model"], "large");
  EXPECT_EQ(r["aio"]["probe"]["category"], "math");
  EXPECT_EQ(r["aio"]["route"]["strategy"], "plain") << "the remote server decodes its own way";
  EXPECT_NE(r["aio"]["route"]["reason"].get<std::string>().find("remote"), std::string::npos);
  EXPECT_GT(r["usage"]["completion_tokens"].get<int>(), 0);
  EXPECT_GT(r["usage"]["prompt_tokens"].get<int>(), 0);

  // The same request sent to llama-server directly gives the same greedy text.
  httplib::Client direct("127.0.0.1", upstream.port);
  direct.set_read_timeout(60, 0);
  auto d = direct.Post("/v1/chat/completions", body_for("large", kMath, 16).dump(), "application/json");
  ASSERT_TRUE(d);
  ASSERT_EQ(d->status, 200) << d->body;
  const std::string text = r["choices"][0]["message"]["content"];
  EXPECT_EQ(text, json::parse(d->body)["choices"][0]["message"]["content"].get<std::string>());

  // Streamed through A-IO: the pieces reassemble to the same text and end with the route record and [DONE].
  auto st = s.chat(body_for("aio", kMath, 16, true));
  ASSERT_TRUE(st);
  ASSERT_EQ(st->status, 200);
  bool done = false;
  json closing;
  EXPECT_EQ(streamed_text(st->body, &done, &closing), text);
  EXPECT_TRUE(done);
  EXPECT_EQ(closing["aio"]["route"]["model"], "large");

  // Pinning the remote model and the completions endpoint are forwarded too; the local model still answers locally.
  auto pinned = s.client->Post("/v1/completions", R"({"model": "large", "prompt": "def f(", "max_tokens": 4})",
                               "application/json");
  ASSERT_TRUE(pinned);
  EXPECT_EQ(pinned->status, 200) << pinned->body;
  auto local = s.chat(body_for("aio", kCode, 4));
  ASSERT_TRUE(local);
  EXPECT_EQ(local->status, 200);
  EXPECT_EQ(json::parse(local->body)["aio"]["route"]["model"], "small");

  // Log-probabilities come back from the remote model as it computed them, streamed and not; echo works too.
  json lp_body = body_for("large", kMath, 8);
  lp_body["logprobs"] = true;
  lp_body["top_logprobs"] = 2;
  auto via = s.chat(lp_body);
  auto straight = direct.Post("/v1/chat/completions", lp_body.dump(), "application/json");
  ASSERT_TRUE(via && straight);
  ASSERT_EQ(via->status, 200) << via->body;
  const json vj = json::parse(via->body), sj = json::parse(straight->body);
  const json &content = vj["choices"][0]["logprobs"]["content"];
  ASSERT_FALSE(content.empty());
  ASSERT_EQ(content.size(), sj["choices"][0]["logprobs"]["content"].size());
  std::string joined;
  for (size_t i = 0; i < content.size(); ++i) {
    joined += content[i]["token"].get<std::string>();
    EXPECT_NEAR(content[i]["logprob"].get<double>(), sj["choices"][0]["logprobs"]["content"][i]["logprob"].get<double>(), 1e-4);
    EXPECT_EQ(content[i]["top_logprobs"].size(), 2u);
  }
  EXPECT_EQ(joined, vj["choices"][0]["message"]["content"].get<std::string>());
  lp_body["stream"] = true;
  auto via_stream = s.chat(lp_body);
  ASSERT_TRUE(via_stream);
  size_t streamed = 0;
  for (size_t pos = 0; (pos = via_stream->body.find("data: {", pos)) != std::string::npos; ++pos) {
    const size_t end = via_stream->body.find("\n", pos);
    const json chunk = json::parse(via_stream->body.substr(pos + 6, end - pos - 6));
    if (!chunk["choices"].empty() && chunk["choices"][0]["logprobs"].is_object())
      streamed += chunk["choices"][0]["logprobs"]["content"].size();
  }
  EXPECT_EQ(streamed, content.size());
  auto echoed = s.client->Post("/v1/completions", R"({"model": "large", "prompt": "def f(", "max_tokens": 3, "echo": true})",
                               "application/json");
  ASSERT_TRUE(echoed);
  ASSERT_EQ(echoed->status, 200) << echoed->body;
  EXPECT_EQ(json::parse(echoed->body)["choices"][0]["text"].get<std::string>().rfind("def f(", 0), 0u);

  s.proc->send_signal(SIGTERM);
  EXPECT_EQ(s.proc->wait(), 0);
}

// Tools go up to a remote model as the client sent them (a named choice as "required" over that one tool, the form
// llama-server takes): llama-server formats the same prompt and gives the same answer through A-IO as directly.
TEST(ServeRemote, ToolsAreForwardedToLlamaServer) {
  if (LlamaServer::binary().empty()) GTEST_SKIP() << "this build has no llama-server (AIO_LLAMA_TOOLS=OFF)";
  LlamaServer upstream(tiny_pair().large_path);
  ASSERT_TRUE(upstream.ready) << upstream.proc->output();
  AioServer s({}, config_with_remote_large(upstream.endpoint()));
  ASSERT_GT(s.port, 0) << s.proc->output();

  json body = body_for("large", "What is the weather in Paris?", 12);
  body["temperature"] = 0;
  body["tools"] = json::parse(R"([{"type": "function", "function": {"name": "get_weather", "description": "Weather",
      "parameters": {"type": "object", "properties": {"city": {"type": "string", "enum": ["Paris", "London"]}},
                     "required": ["city"], "additionalProperties": false}}},
      {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}}])");
  body["tool_choice"] = json::parse(R"({"type": "function", "function": {"name": "get_weather"}})");
  httplib::Client direct("127.0.0.1", upstream.port);
  direct.set_read_timeout(60, 0);
  json up = body;
  up["tools"] = json::array({body["tools"][0]});
  up["tool_choice"] = "required";
  auto d = direct.Post("/v1/chat/completions", up.dump(), "application/json");
  json bare = body;
  bare.erase("tools");
  bare.erase("tool_choice");
  auto no_tools = direct.Post("/v1/chat/completions", bare.dump(), "application/json");
  auto via = s.chat(body);
  ASSERT_TRUE(d && no_tools && via);
  ASSERT_EQ(d->status, 200) << d->body;
  ASSERT_EQ(via->status, 200) << via->body;
  const json dj = json::parse(d->body), vj = json::parse(via->body);
  EXPECT_EQ(vj["usage"]["prompt_tokens"], dj["usage"]["prompt_tokens"]) << "the same tools reached the template";
  EXPECT_GT(vj["usage"]["prompt_tokens"].get<int>(), json::parse(no_tools->body)["usage"]["prompt_tokens"].get<int>());
  EXPECT_EQ(vj["choices"][0]["message"].value("content", json()), dj["choices"][0]["message"].value("content", json()));
}

// The calls a remote model reports come back through A-IO as the upstream sent them, whole (non-streamed) or as
// deltas (streamed), with finish_reason tool_calls; the history with a call and its result goes up intact. The
// upstream here is a scripted one: a model with random weights does not call tools on llama-server (its grammar lets
// a required call wait behind free text).
TEST(ServeRemote, ToolCallsOfARemoteModelAreRelayed) {
  httplib::Server scripted;
  json last_request;
  std::mutex mu;
  scripted.Post("/v1/chat/completions", [&](const httplib::Request &req, httplib::Response &res) {
    const json body = json::parse(req.body);
    {
      std::lock_guard lock(mu);
      last_request = body;
    }
    if (body.value("logprobs", false)) { // text without the log-probabilities it was asked for
      res.set_content("data: {\"choices\": [{\"index\": 0, \"delta\": {\"content\": \"Hi\"}}]}\n\n"
                      "data: {\"choices\": [{\"index\": 0, \"delta\": {}, \"finish_reason\": \"stop\"}]}\n\n"
                      "data: [DONE]\n\n", "text/event-stream");
      return;
    }
    res.set_content(
        "data: {\"choices\": [{\"index\": 0, \"delta\": {\"role\": \"assistant\", \"tool_calls\": [{\"index\": 0, "
        "\"id\": \"call_up1\", \"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"arguments\": \"\"}}]}}]}\n\n"
        "data: {\"choices\": [{\"index\": 0, \"delta\": {\"tool_calls\": [{\"index\": 0, \"function\": "
        "{\"arguments\": \"{\\\"city\\\": \"}}]}}]}\n\n"
        "data: {\"choices\": [{\"index\": 0, \"delta\": {\"tool_calls\": [{\"index\": 0, \"function\": "
        "{\"arguments\": \"\\\"Paris\\\"}\"}}]}}]}\n\n"
        "data: {\"choices\": [{\"index\": 0, \"delta\": {}, \"finish_reason\": \"tool_calls\"}]}\n\n"
        "data: {\"choices\": [], \"usage\": {\"prompt_tokens\": 30, \"completion_tokens\": 9}}\n\n"
        "data: [DONE]\n\n",
        "text/event-stream");
  });
  answer_model_list(scripted);
  const int port = scripted.bind_to_any_port("127.0.0.1");
  std::thread t([&] { scripted.listen_after_bind(); });
  {
    AioServer s({}, config_with_remote_large("http://127.0.0.1:" + std::to_string(port) + "/v1"));
    ASSERT_GT(s.port, 0) << s.proc->output();
    json body = body_for("large", "What is the weather in Paris?", 32);
    body["tools"] = json::parse(R"([{"type": "function", "function": {"name": "get_weather"}},
                                    {"type": "function", "function": {"name": "get_time"}}])");
    body["tool_choice"] = json::parse(R"({"type": "function", "function": {"name": "get_weather"}})");
    auto r = s.chat(body);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    const json choice = json::parse(r->body)["choices"][0];
    EXPECT_EQ(choice["finish_reason"], "tool_calls");
    EXPECT_TRUE(choice["message"]["content"].is_null());
    ASSERT_EQ(choice["message"]["tool_calls"].size(), 1u);
    EXPECT_EQ(choice["message"]["tool_calls"][0]["id"], "call_up1");
    EXPECT_EQ(choice["message"]["tool_calls"][0]["function"]["name"], "get_weather");
    EXPECT_EQ(choice["message"]["tool_calls"][0]["function"]["arguments"], R"({"city": "Paris"})");
    {
      std::lock_guard lock(mu);
      EXPECT_EQ(last_request["tool_choice"], "required");
      ASSERT_EQ(last_request["tools"].size(), 1u) << "a named choice goes up as required over that one tool";
      EXPECT_EQ(last_request["tools"][0]["function"]["name"], "get_weather");
    }

    body["stream"] = true;
    auto st = s.chat(body);
    ASSERT_TRUE(st);
    ASSERT_EQ(st->status, 200) << st->body;
    std::string args, name, finish;
    for (size_t pos = 0; (pos = st->body.find("data: {", pos)) != std::string::npos; ++pos) {
      const json chunk = json::parse(st->body.substr(pos + 6, st->body.find('\n', pos) - pos - 6));
      if (chunk["choices"].empty()) continue;
      const json &c = chunk["choices"][0];
      if (c["finish_reason"].is_string()) finish = c["finish_reason"];
      if (!c["delta"].contains("tool_calls")) continue;
      const json &f = c["delta"]["tool_calls"][0]["function"];
      if (f.contains("name")) name += f["name"].get<std::string>();
      if (f.contains("arguments")) args += f["arguments"].get<std::string>();
    }
    EXPECT_EQ(name, "get_weather");
    EXPECT_EQ(args, R"({"city": "Paris"})");
    EXPECT_EQ(finish, "tool_calls");

    // The next turn: the call (content null) and its result go up as the client sent them.
    body["stream"] = false;
    body.erase("tool_choice");
    body["messages"].push_back(choice["message"]);
    body["messages"].push_back({{"role", "tool"}, {"tool_call_id", "call_up1"}, {"content", "18 C"}});
    auto next = s.chat(body);
    ASSERT_TRUE(next);
    EXPECT_EQ(next->status, 200) << next->body;
    {
      std::lock_guard lock(mu);
      const json &m = last_request["messages"];
      ASSERT_EQ(m.size(), 3u);
      EXPECT_TRUE(m[1]["content"].is_null());
      EXPECT_EQ(m[1]["tool_calls"][0]["function"]["arguments"], R"({"city": "Paris"})");
      EXPECT_EQ(m[2]["role"], "tool");
      EXPECT_EQ(m[2]["tool_call_id"], "call_up1");
    }

    // An upstream that answers text without the log-probabilities asked for is a 502, never an empty list.
    json lp = body_for("large", "Hello", 4);
    lp["logprobs"] = true;
    auto no_lp = s.chat(lp);
    ASSERT_TRUE(no_lp);
    EXPECT_EQ(no_lp->status, 502) << no_lp->body;
  }
  scripted.stop();
  t.join();
}

TEST(ServeRemote, ADeadBackendIsRefusedAndTheRestKeepsServing) {
  const int dead_port = free_loopback_port(); // nothing listens there
  AioServer s({}, config_with_remote_large("http://127.0.0.1:" + std::to_string(dead_port) + "/v1"));
  ASSERT_GT(s.port, 0) << s.proc->output();
  for (bool stream : {false, true}) {
    auto r = s.chat(body_for("aio", kMath, 8, stream));
    ASSERT_TRUE(r);
    // Its health check (at start) finds it down: 503 with Retry-After; a request that beats the check finds it itself.
    const std::string msg = json::parse(r->body)["error"]["message"];
    if (r->status == 502) {
      EXPECT_NE(msg.find("cannot reach model large at http://127.0.0.1:" + std::to_string(dead_port)), std::string::npos)
          << msg;
      continue;
    }
    EXPECT_EQ(r->status, 503) << r->body;
    EXPECT_TRUE(r->has_header("Retry-After"));
    EXPECT_NE(msg.find("no healthy replica of model large (127.0.0.1:" + std::to_string(dead_port) +
                       ": health check failed"), std::string::npos) << msg;
  }
  auto local = s.chat(body_for("aio", kCode, 4));
  ASSERT_TRUE(local);
  EXPECT_EQ(local->status, 200) << local->body;
  auto health = s.client->Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  auto metrics = s.client->Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("model=\"large\",category=\"math\",strategy=\"plain\",status=\"50"), std::string::npos)
      << metrics->body;
  EXPECT_NE(metrics->body.find("aio_replica_healthy{model=\"large\",replica=\"127.0.0.1:" + std::to_string(dead_port) +
                               "\"} 0"), std::string::npos) << metrics->body;
}

TEST(ServeRemote, ASilentBackendGets504AfterItsTimeout) {
  // A backend that accepts the request and then says nothing for longer than the configured timeout.
  httplib::Server silent;
  silent.Post("/v1/chat/completions", [](const httplib::Request &, httplib::Response &res) {
    std::this_thread::sleep_for(std::chrono::seconds(4));
    res.set_content("{}", "application/json");
  });
  answer_model_list(silent);
  const int port = silent.bind_to_any_port("127.0.0.1");
  std::thread t([&] { silent.listen_after_bind(); });
  {
    AioServer s({}, config_with_remote_large("http://127.0.0.1:" + std::to_string(port) + "/v1",
                                             ", timeout_seconds: 1"));
    ASSERT_GT(s.port, 0) << s.proc->output();
    auto r = s.chat(body_for("large", kMath, 8));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 504) << r->body;
    EXPECT_NE(json::parse(r->body)["error"]["message"].get<std::string>().find("timeout_seconds"), std::string::npos);
  }
  silent.stop();
  t.join();
}

// An upstream that answers 200 but not with a complete stream is a failure, not an empty or partial success: a
// non-stream body is a 502; a stream cut before [DONE] is a 502 when nothing was sent yet, and ends a client's stream
// with an error event once text went out.
TEST(ServeRemote, AnUpstreamThatIsNotACompleteStreamIsAnError) {
  httplib::Server broken;
  broken.Post("/v1/chat/completions", [](const httplib::Request &req, httplib::Response &res) {
    const json body = json::parse(req.body);
    const std::string content = body["messages"].back()["content"];
    if (content == "html") return res.set_content("<html>proxy error</html>", "text/html");
    // A stream of two pieces that stops without [DONE].
    res.set_content("data: {\"choices\": [{\"index\": 0, \"delta\": {\"content\": \"Hel\"}}]}\n\n"
                    "data: {\"choices\": [{\"index\": 0, \"delta\": {\"content\": \"lo\"}}]}\n\n",
                    "text/event-stream");
  });
  answer_model_list(broken);
  const int port = broken.bind_to_any_port("127.0.0.1");
  std::thread t([&] { broken.listen_after_bind(); });
  {
    AioServer s({}, config_with_remote_large("http://127.0.0.1:" + std::to_string(port) + "/v1"));
    ASSERT_GT(s.port, 0) << s.proc->output();
    auto html = s.chat(body_for("large", "html", 8));
    ASSERT_TRUE(html);
    EXPECT_EQ(html->status, 502) << html->body;
    EXPECT_NE(html->body.find("not with a stream"), std::string::npos) << html->body;
    auto cut = s.chat(body_for("large", "cut", 8));
    ASSERT_TRUE(cut);
    EXPECT_EQ(cut->status, 502) << cut->body;
    EXPECT_NE(cut->body.find("without [DONE]"), std::string::npos) << cut->body;
    auto streamed = s.chat(body_for("large", "cut", 8, /*stream=*/true));
    ASSERT_TRUE(streamed);
    EXPECT_EQ(streamed->status, 200) << "text went out before the cut";
    EXPECT_NE(streamed->body.find("Hel"), std::string::npos);
    EXPECT_NE(streamed->body.find("without [DONE]"), std::string::npos) << "the stream ends with an error event: "
                                                                        << streamed->body;
  }
  broken.stop();
  t.join();
}

TEST(ServeRemote, DraftingWithARemoteModelIsRefusedAtStart) {
  auto r = run_aio({"serve", "--config", config_with_remote_large("http://127.0.0.1:9/v1"), "--port", "0", "--policy",
                    "draft"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("needs both models local"), std::string::npos) << r.err;
}

} // namespace
} // namespace aio::test
