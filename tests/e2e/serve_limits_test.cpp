// `aio serve` against requests built to crash or stall it (issue 19): nesting deep enough to overflow any recursion,
// schemas whose grammar would take seconds to build, bodies of tens of thousands of messages or tools, clients that
// leave a non-streamed request behind, and the edges of the API key. Each request is generated at its full size here
// (the fuzz targets' inputs are too small to reach these depths). The bounds are the table of limits in docs/operations.md.
// Timings are not asserted (a starved server takes tens of seconds; we check what was refused and what still runs).
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <future>
#include <thread>

#include <nlohmann/json.hpp>

#include "support/aio_server.h"
#include "support/paths.h"
#include "support/tiny_models.h"

namespace aio::test {
namespace {
using nlohmann::json;

std::string repeat(const std::string &s, size_t n) {
  std::string out;
  out.reserve(s.size() * n);
  for (size_t i = 0; i < n; ++i) out += s;
  return out;
}

// A body as raw text (the deep parts cannot be built as nlohmann values: building them would recurse here).
httplib::Result post_raw(AioServer &s, const std::string &body, const httplib::Headers &headers = {}) {
  return s.client->Post("/v1/chat/completions", headers, body, "application/json");
}

std::string chat_prefix(int max_tokens = 4) {
  return R"({"model": "aio", "max_tokens": )" + std::to_string(max_tokens) +
         R"(, "temperature": 0, "messages": [{"role": "user", "content": "Write a Python function."}])";
}

// response_format with `schema` (JSON text) as its schema.
std::string with_schema(const std::string &schema, int max_tokens = 4) {
  return chat_prefix(max_tokens) + R"(, "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": )" +
         schema + "}}}";
}

void expect_refused(const httplib::Result &r, int status, const std::string &mentions) {
  ASSERT_TRUE(r) << "no answer: the server died or hung";
  EXPECT_EQ(r->status, status) << r->body.substr(0, 400);
  EXPECT_NE(r->body.find(mentions), std::string::npos) << r->body.substr(0, 400);
}

void expect_alive(AioServer &s) {
  auto r = s.chat(chat_body("Write a Python function that adds two numbers."));
  ASSERT_TRUE(r) << "the server is gone: " << s.proc->output();
  EXPECT_EQ(r->status, 200) << r->body;
}

size_t rss_bytes(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  return 0;
}

double metric(AioServer &s, const std::string &name) {
  auto r = s.client->Get("/metrics");
  if (!r) return -1;
  double sum = 0;
  std::istringstream lines(r->body);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind(name, 0) == 0 && (line[name.size()] == '{' || line[name.size()] == ' '))
      sum += std::stod(line.substr(line.rfind(' ') + 1));
  return sum;
}

// The four requests that crashed aio serve with a stack overflow (exit 139) before any depth limit.
TEST(ServeLimits, DeepNestingIsRefusedAndTheServerLives) {
  AioServer s;
  ASSERT_GT(s.port, 0) << s.proc->output();
  const size_t deep = 10000;
  // A schema nested 10,000 levels by items, by properties and by anyOf (120-370 KB).
  const std::string by_items = repeat(R"({"type": "array", "items": )", deep) + R"({"type": "string"})" + repeat("}", deep);
  const std::string by_properties =
      repeat(R"({"type": "object", "properties": {"a": )", deep) + R"({"type": "string"})" + repeat("}}", deep);
  const std::string by_any_of = repeat(R"({"anyOf": [)", deep) + R"({"type": "string"})" + repeat("]}", deep);
  for (const std::string *schema : {&by_items, &by_properties, &by_any_of})
    expect_refused(post_raw(s, with_schema(*schema)), 400, "--max-json-depth");
  // A value nested 100,000 levels inside an enum (200 KB), in the response schema and in a tool's parameters.
  const std::string deep_value = repeat("[", 100000) + repeat("]", 100000);
  expect_refused(post_raw(s, with_schema(R"({"enum": [)" + deep_value + "]}")), 400, "--max-json-depth");
  expect_refused(post_raw(s, chat_prefix() + R"(, "tools": [{"type": "function", "function": {"name": "f", "parameters": )"
                                 R"({"type": "object", "properties": {"a": {"enum": [)" + deep_value + "]}}}}}]}"),
                 400, "--max-json-depth");
  // An assistant turn whose tool-call arguments (a JSON string) hold 200,000 nested brackets.
  const std::string arguments = repeat("[", 200000) + repeat("]", 200000);
  const json call_history = {
      {"model", "aio"},
      {"max_tokens", 4},
      {"messages",
       {{{"role", "user"}, {"content", "Call f."}},
        {{"role", "assistant"},
         {"content", nullptr},
         {"tool_calls", {{{"id", "c1"}, {"type", "function"}, {"function", {{"name", "f"}, {"arguments", arguments}}}}}}},
        {{"role", "tool"}, {"tool_call_id", "c1"}, {"content", "done"}}}},
      {"tools", {{{"type", "function"}, {"function", {{"name", "f"}, {"parameters", {{"type", "object"}}}}}}}}};
  expect_refused(post_raw(s, call_history.dump()), 400, "arguments' nests deeper");
  // The body itself nested past the limit, anywhere (an unknown field's value).
  expect_refused(post_raw(s, chat_prefix() + R"(, "metadata": )" + repeat("[", 65) + repeat("]", 65) + "}"), 400,
                 "--max-json-depth");
  expect_alive(s);
  // A schema within the limits still works (the limit is not a blanket refusal).
  auto ok = post_raw(s, with_schema(R"({"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]})"));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->body;
}

// A json_schema enum of 100,000 values blocked the engine for 110 s (its grammar); now it is refused by size at once,
// and a 16-token chat sent beside it is answered as usual.
TEST(ServeLimits, HugeEnumsAreRefusedWithoutStallingOthers) {
  AioServer s;
  ASSERT_GT(s.port, 0) << s.proc->output();
  std::string values;
  for (int i = 0; i < 100000; ++i) values += (i ? "," : "") + std::to_string(i);
  const std::string body = with_schema(R"({"enum": [)" + values + "]}");
  ASSERT_LT(body.size(), size_t{1} << 20);
  auto beside = std::async(std::launch::async, [&] {
    httplib::Client c("127.0.0.1", s.port);
    c.set_read_timeout(120, 0);
    json chat = chat_body("Write a Python function that reverses a list.");
    chat["max_tokens"] = 16;
    const auto t0 = std::chrono::steady_clock::now();
    auto r = c.Post("/v1/chat/completions", chat.dump(), "application/json");
    return std::make_pair(r ? r->status : -1, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  });
  expect_refused(post_raw(s, body), 400, "--max-schema-bytes"); // 589 KB: refused by its size before its values
  const auto [status, seconds] = beside.get();
  EXPECT_EQ(status, 200);
  std::printf("a 16-token chat beside the 100k enum: %.3f s\n", seconds);
  // Past the value limit in few bytes: 1,001 values, or 600 each in two places.
  values.clear();
  for (int i = 0; i < 1001; ++i) values += (i ? "," : "") + std::to_string(i);
  expect_refused(post_raw(s, with_schema(R"({"enum": [)" + values + "]}")), 400, "--max-enum-values");
  values.clear();
  for (int i = 0; i < 600; ++i) values += (i ? "," : "") + std::to_string(i);
  expect_refused(post_raw(s, with_schema(R"({"type": "object", "properties": {"a": {"enum": [)" + values +
                                         R"(]}, "b": {"enum": [)" + values + "]}}}")),
                 400, "--max-enum-values");
  // 1,000 values (the default limit) compile and constrain the answer.
  values.clear();
  for (int i = 0; i < 1000; ++i) values += (i ? "," : "") + std::to_string(i);
  auto ok = post_raw(s, with_schema(R"({"enum": [)" + values + "]}"));
  ASSERT_TRUE(ok);
  ASSERT_EQ(ok->status, 200) << ok->body.substr(0, 300);
  const std::string content = json::parse(ok->body)["choices"][0]["message"]["content"];
  const int n = std::atoi(content.c_str());
  EXPECT_TRUE(n >= 0 && n < 1000 && std::to_string(n) == content) << content;
}

// 25,000 messages (under the 1 MiB body cap) took ~20 s to be refused, slowing everyone; 5,000 tools took 1.2 GB.
TEST(ServeLimits, ManyMessagesAndToolsAreRefusedCheaply) {
  AioServer s;
  ASSERT_GT(s.port, 0) << s.proc->output();
  json messages = json::array();
  for (int i = 0; i < 25000; ++i) messages.push_back({{"role", i % 2 ? "assistant" : "user"}, {"content", "x"}});
  const json many = {{"model", "aio"}, {"max_tokens", 4}, {"messages", messages}};
  ASSERT_LT(many.dump().size(), size_t{1} << 20);
  const auto t0 = std::chrono::steady_clock::now();
  expect_refused(post_raw(s, many.dump()), 400, "--max-messages");
  std::printf("25,000 messages refused in %.3f s\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());

  json tools = json::array();
  for (int i = 0; i < 5000; ++i)
    tools.push_back({{"type", "function"},
                     {"function", {{"name", "f" + std::to_string(i)}, {"parameters", {{"type", "object"}}}}}});
  json with_tools = json::parse(chat_prefix() + "}");
  with_tools["tools"] = tools;
  const size_t before = rss_bytes(s.proc->pid());
  std::vector<std::future<httplib::Result>> at_once;
  for (int i = 0; i < 3; ++i)
    at_once.push_back(std::async(std::launch::async, [&] {
      httplib::Client c("127.0.0.1", s.port);
      return c.Post("/v1/chat/completions", with_tools.dump(), "application/json");
    }));
  for (auto &f : at_once) expect_refused(f.get(), 400, "--max-tools");
  const size_t after = rss_bytes(s.proc->pid());
  std::printf("3 x 5,000 tools: RSS %.1f -> %.1f MB\n", before / 1e6, after / 1e6);
  EXPECT_LT(after, before + (size_t{64} << 20));
  expect_alive(s);
}

// A pattern llama.cpp cannot enforce was dropped in silence (any string passed); now it is a 400 naming it. One it
// can enforce still constrains the answer.
TEST(ServeLimits, PatternsAreHonouredOrRefused) {
  AioServer s;
  ASSERT_GT(s.port, 0) << s.proc->output();
  const auto schema = [](const std::string &pattern) {
    return json{{"type", "object"},
                {"properties", {{"code", {{"type", "string"}, {"pattern", pattern}}}}},
                {"required", {"code"}}}
        .dump();
  };
  expect_refused(post_raw(s, with_schema(schema("[A-Z]{3}"))), 400, "[A-Z]{3}");
  expect_refused(post_raw(s, with_schema(schema("^(?=a)b$"))), 400, "cannot be enforced");
  auto ok = post_raw(s, with_schema(schema("^[A-Z]{3}$"), 64));
  ASSERT_TRUE(ok);
  ASSERT_EQ(ok->status, 200) << ok->body;
  const json content = json::parse(json::parse(ok->body)["choices"][0]["message"]["content"].get<std::string>());
  const std::string code = content["code"];
  EXPECT_EQ(code.size(), 3u);
  EXPECT_TRUE(std::all_of(code.begin(), code.end(), [](char c) { return c >= 'A' && c <= 'Z'; })) << code;
}

// A client that leaves a non-streamed request behind no longer keeps its slot: the request is cancelled (so it
// generates far fewer than its max_tokens) and the next request is served.
TEST(ServeLimits, AbandonedNonStreamedRequestsFreeTheirSlots) {
  const std::string config = make_temp_dir("limits") + "/aio.yaml";
  std::ofstream(config) << "models:\n  small: {path: " << tiny_pair().small_path << ", n_ctx: 8192}\n"
                        << "  large: {path: " << tiny_pair().large_path << ", n_ctx: 8192}\n"
                        << "probe: {kind: fasttext, fasttext_model: builtin}\nthreads: 1\n";
  AioServer s({"--slots", "2"}, config);
  ASSERT_GT(s.port, 0) << s.proc->output();
  const int abandoned = 2;
  json body = chat_body("Write a Python function that reverses a list.");
  body["max_tokens"] = 4000;
  body["ignore_eos"] = true;
  const std::string request = "POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                              "Content-Length: " + std::to_string(body.dump().size()) + "\r\n\r\n" + body.dump();
  std::vector<int> fds;
  for (int i = 0; i < abandoned; ++i) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(s.port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof(addr)), 0);
    ASSERT_EQ(send(fd, request.data(), request.size(), MSG_NOSIGNAL), static_cast<ssize_t>(request.size()));
    fds.push_back(fd);
  }
  // Wait until both are decoding, then leave.
  for (int i = 0; i < 300 && metric(s, "aio_busy_slots") < abandoned; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_EQ(metric(s, "aio_busy_slots"), abandoned);
  for (int fd : fds) close(fd);
  const auto left = std::chrono::steady_clock::now();
  // Both end (cancelled) and are counted; a request sent now is served at once by a free slot.
  for (int i = 0; i < 600 && metric(s, "aio_busy_slots") > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(metric(s, "aio_busy_slots"), 0);
  std::printf("slots free %.3f s after the clients left\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - left).count());
  for (int i = 0; i < 100 && metric(s, "aio_requests_total") < abandoned; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const double generated = metric(s, "aio_generated_tokens_total");
  std::printf("two abandoned 4000-token requests generated %.0f tokens in all\n", generated);
  EXPECT_LT(generated, abandoned * 4000 / 2) << "the abandoned requests ran on";
  expect_alive(s);
}

// The key guards /metrics and /health's details too; the scheme is case-insensitive; two Authorization headers are
// refused rather than one of them chosen.
TEST(ServeLimits, TheApiKeyGuardsEverySurface) {
  AioServer s({"--api-key", "sekret"});
  ASSERT_GT(s.port, 0) << s.proc->output();
  auto metrics = s.client->Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 401);
  metrics = s.client->Get("/metrics", {{"Authorization", "Bearer sekret"}});
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_NE(metrics->body.find("aio_requests_total"), std::string::npos);
  auto health = s.client->Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(json::parse(health->body), json({{"status", "ok"}}));
  for (const char *scheme : {"bearer sekret", "BEARER sekret", "Bearer  sekret"}) {
    auto r = s.chat(chat_body("Hello"), {{"Authorization", scheme}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << scheme << ": " << r->body;
  }
  for (const char *wrong : {"Bearer sekret2", "Bearer sekre", "Basic sekret", "sekret", "Bearer"}) {
    auto r = s.chat(chat_body("Hello"), {{"Authorization", wrong}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401) << wrong;
  }
  auto twice = s.chat(chat_body("Hello"), {{"Authorization", "Bearer sekret"}, {"Authorization", "Bearer other"}});
  ASSERT_TRUE(twice);
  EXPECT_EQ(twice->status, 400);
  EXPECT_NE(twice->body.find("more than one Authorization"), std::string::npos) << twice->body;

  AioServer open({"--api-key", "sekret", "--metrics-public"});
  ASSERT_GT(open.port, 0) << open.proc->output();
  auto scraped = open.client->Get("/metrics");
  ASSERT_TRUE(scraped);
  EXPECT_EQ(scraped->status, 200);
}

} // namespace
} // namespace aio::test
