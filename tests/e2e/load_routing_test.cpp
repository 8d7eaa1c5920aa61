// Load-aware routing through `aio serve`: a policy rule that reads the large model's live load sends a question to
// the small model while the large one is busy, says so in the route record and its headers, and /metrics and the
// live stats count it; idle, the same question goes to the large model. A rule reading a remote model's load is
// refused when the server starts.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "support/aio_server.h"
#include "support/paths.h"
#include "support/tiny_models.h"

namespace aio::test {
namespace {
using nlohmann::json;

const char *kShedPolicy = R"(policy: shed
policies:
  shed:
    vars: {max_wait_ms: 0}
    rules:
      - name: busy-large-question
        when: {category: [qa, math], load: {model: large, wait_ms_gt: max_wait_ms}}
        route: {model: small, strategy: plain}
        reason: the large model is busy -> small model
      - {name: question, when: {category: [qa, math]}, route: {model: large, strategy: pld}}
      - {route: {model: large, strategy: plain}}
)";

json large_load(AioServer &s) {
  auto stats = s.client->Get("/v1/aio/stats");
  if (!stats) return {{"error", httplib::to_string(stats.error())}};
  if (stats->status != 200) return {{"error", stats->status}, {"body", stats->body}};
  const json doc = json::parse(stats->body);
  for (const json &m : doc["models"])
    if (m["name"] == "large") return m;
  return {{"error", "no model named large"}};
}

TEST(ServeLoadAware, ABusyLargeModelSendsAQuestionToTheSmallOneAndTheRecordSaysWhy) {
  // Room for a long answer on the large model (the tiny pair decodes thousands of tokens a second).
  const std::string cfg = make_temp_dir("load") + "/aio.yaml";
  std::ofstream(cfg) << "models:\n  small: {path: " << tiny_pair().small_path << ", n_ctx: 4096}\n"
                     << "  large: {path: " << tiny_pair().large_path << ", n_ctx: 4096}\n"
                     << "probe: {kind: fasttext, fasttext_model: builtin}\nthreads: 1\n" << kShedPolicy;
  AioServer s({"--slots", "1"}, cfg);
  ASSERT_GT(s.port, 0) << s.proc->output();
  const json question = chat_body("What is the capital city of France?");

  // Idle: nothing waits for the large model, so the question goes there.
  auto idle = s.chat(question);
  ASSERT_TRUE(idle && idle->status == 200);
  json a = json::parse(idle->body)["aio"];
  ASSERT_EQ(a["probe"]["category"], "qa") << a.dump();
  EXPECT_EQ(a["route"]["model"], "large");
  EXPECT_FALSE(a["route"].contains("load"));

  // The large model's one slot busy with a long answer: a new request would wait.
  std::atomic<bool> long_done{false};
  std::jthread busy([&] { // joined on every way out, a failed assertion included
    httplib::Client c("127.0.0.1", s.port);
    c.set_read_timeout(300, 0);
    json body = chat_body("Tell me everything about rivers.");
    body["model"] = "large";
    body["max_tokens"] = 2000;
    body["ignore_eos"] = true;
    c.Post("/v1/chat/completions", body.dump(), "application/json");
    long_done = true;
  });
  json load = json::object();
  for (int i = 0; i < 3000 && !long_done; ++i) {
    load = large_load(s);
    if (load.value("busy", 0) == 1 && load.value("wait_ms", 0.0) > 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_FALSE(long_done.load()) << "the long request ended before the large model was seen busy";
  ASSERT_EQ(load.value("busy", 0), 1) << load.dump();
  EXPECT_GT(load.value("wait_ms", 0.0), 0) << load.dump();

  auto shed = s.chat(question);
  ASSERT_TRUE(shed && shed->status == 200);
  a = json::parse(shed->body)["aio"];
  EXPECT_EQ(a["route"]["model"], "small") << a.dump();
  EXPECT_EQ(a["route"]["rule"], "busy-large-question");
  ASSERT_TRUE(a["route"].contains("load")) << a.dump();
  EXPECT_EQ(a["route"]["load"]["model"], "large");
  EXPECT_EQ(a["route"]["load"]["busy"], 1);
  EXPECT_EQ(a["route"]["load"]["slots"], 1);
  EXPECT_GT(a["route"]["load"]["wait_ms"].get<double>(), 0);
  EXPECT_NE(a["route"]["reason"].get<std::string>().find("large expected wait"), std::string::npos) << a.dump();
  EXPECT_EQ(shed->get_header_value("x-aio-model"), "small");
  busy.join();

  auto metrics = s.client->Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("aio_routes_by_load_total{load_of=\"large\",model=\"small\"} 1"), std::string::npos)
      << metrics->body;
  EXPECT_NE(metrics->body.find("aio_expected_wait_seconds{model=\"large\"}"), std::string::npos);
  const json stats = json::parse(s.client->Get("/v1/aio/stats")->body);
  EXPECT_EQ(stats["routed_by_load"], 1);
  int by_load_rows = 0;
  for (const json &r : stats["recent"])
    if (r.contains("load_model")) {
      ++by_load_rows;
      EXPECT_EQ(r["load_model"], "large");
      EXPECT_EQ(r["model"], "small");
    }
  EXPECT_EQ(by_load_rows, 1);
}

TEST(ServeLoadAware, ARuleReadingARemoteModelsLoadIsRefusedAtStart) {
  // The shed policy reading the load of a remote model `big` instead of the local `large`.
  std::string text = std::string(kShedPolicy);
  text.replace(text.find("model: large, wait_ms_gt"), 12, "model: big");
  const std::string bad = serve_config(text, "  big: {endpoint: http://127.0.0.1:9/v1}\n");
  auto r = run_aio({"serve", "--config", bad, "--port", "0"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("reads the load of model big, which is not loaded here"), std::string::npos) << r.err;
  // A load condition naming no configured model is a config error naming it.
  std::string unknown = std::string(kShedPolicy);
  unknown.replace(unknown.find("model: large, wait_ms_gt"), 12, "model: huge");
  auto u = run_aio({"route", "--config", serve_config(unknown), "-p", "hello"});
  EXPECT_NE(u.exit_code, 0);
  EXPECT_NE(u.err.find("'huge'"), std::string::npos) << u.err;
}

} // namespace
} // namespace aio::test
