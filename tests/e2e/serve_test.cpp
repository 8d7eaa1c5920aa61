// `aio serve` as a client sees it: the real binary on a free loopback port, driven over HTTP.
#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <regex>
#include <thread>
#include <filesystem>
#include <fstream>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "support/aio_server.h"
#include "support/paths.h"
#include "support/tiny_models.h"

namespace aio::test {
namespace {
using nlohmann::json;

using Server = AioServer;

TEST(Serve, OpenAiEndpointsWork) {
  Server s;
  ASSERT_GT(s.port, 0) << s.proc->output();
  auto health = s.client->Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);

  auto models = s.client->Get("/v1/models");
  ASSERT_TRUE(models);
  std::set<std::string> ids;
  const json listed = json::parse(models->body);
  for (const auto &m : listed["data"]) ids.insert(m["id"]);
  EXPECT_EQ(ids, (std::set<std::string>{"aio", "small", "large"}));

  auto r = s.chat(chat_body("Write a Python function that reverses a list."));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  json j = json::parse(r->body);
  EXPECT_EQ(j["object"], "chat.completion");
  EXPECT_EQ(j["usage"]["completion_tokens"], 12);
  EXPECT_EQ(j["aio"]["probe"]["category"], "code");
  EXPECT_EQ(j["aio"]["route"]["model"], "small");
  EXPECT_EQ(r->get_header_value("x-aio-model"), "small");

  // Streaming the same request: the chunks reassemble to the same text, then [DONE].
  auto st = s.chat(chat_body("Write a Python function that reverses a list.", true));
  ASSERT_TRUE(st);
  ASSERT_EQ(st->status, 200);
  bool done = false;
  json closing;
  const std::string text = streamed_text(st->body, &done, &closing);
  const bool finished = closing.contains("aio");
  EXPECT_TRUE(done);
  EXPECT_TRUE(finished) << "the closing chunk carries the route record";
  EXPECT_EQ(text, j["choices"][0]["message"]["content"].get<std::string>());

  // A concrete model name pins the request.
  auto pinned = s.client->Post("/v1/completions", R"({"model": "large", "prompt": "def f(", "max_tokens": 3})",
                               "application/json");
  ASSERT_TRUE(pinned);
  ASSERT_EQ(pinned->status, 200) << pinned->body;
  EXPECT_EQ(json::parse(pinned->body)["aio"]["route"]["policy"], "pinned");

  auto metrics = s.client->Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("aio_requests_total{model=\"small\",category=\"code\",strategy=\"plain\",status=\"200\"} 2"), std::string::npos) << metrics->body;

  s.proc->send_signal(SIGTERM);
  EXPECT_EQ(s.proc->wait(), 0);
  EXPECT_NE(s.proc->output().find("stopped"), std::string::npos);
}

TEST(Serve, BadRequestsGetOpenAiErrors) {
  Server s;
  ASSERT_GT(s.port, 0);
  auto bad_json = s.client->Post("/v1/chat/completions", "{oops", "application/json");
  ASSERT_TRUE(bad_json);
  EXPECT_EQ(bad_json->status, 400);
  EXPECT_NE(json::parse(bad_json->body)["error"]["message"].get<std::string>().find("not valid JSON"), std::string::npos);
  json body = chat_body("x");
  body["top_p"] = 5;
  auto bad_field = s.chat(body);
  EXPECT_EQ(bad_field->status, 400);
  EXPECT_EQ(json::parse(bad_field->body)["error"]["param"], "top_p");
  body = chat_body("x");
  body["model"] = "gpt-9";
  EXPECT_EQ(s.chat(body)->status, 404);
  std::string long_prompt;
  for (int i = 0; i < 700; ++i) long_prompt += "word ";
  auto too_long = s.client->Post("/v1/completions", json{{"model", "small"}, {"prompt", long_prompt}}.dump(),
                                 "application/json");
  ASSERT_TRUE(too_long);
  EXPECT_EQ(too_long->status, 400) << too_long->body;
  EXPECT_NE(too_long->body.find("may use 512"), std::string::npos) << too_long->body;
  std::string huge = R"({"model": "aio", "prompt": ")" + std::string(2 << 20, 'a') + "\"}";
  auto too_big = s.client->Post("/v1/completions", huge, "application/json");
  ASSERT_TRUE(too_big);
  EXPECT_EQ(too_big->status, 413);
  EXPECT_NE(json::parse(too_big->body)["error"]["message"].get<std::string>().find("--max-body"), std::string::npos)
      << "every error is an OpenAI-shaped JSON body: " << too_big->body;
  // The same limit for a body sent chunked (no Content-Length).
  const std::string chunked_body = huge;
  auto chunked = s.client->Post(
      "/v1/completions",
      [&](size_t offset, httplib::DataSink &sink) {
        if (offset >= chunked_body.size()) return sink.done(), true;
        const size_t n = std::min<size_t>(65536, chunked_body.size() - offset);
        return sink.write(chunked_body.data() + offset, n);
      },
      "application/json");
  ASSERT_TRUE(chunked);
  EXPECT_EQ(chunked->status, 413) << chunked->body.substr(0, 200);
  // A number beyond a double's range is the client's mistake: 400, not the JSON library's exception as a 500.
  auto huge_number = s.client->Post("/v1/chat/completions",
                                    R"({"model": "aio", "messages": [{"role": "user", "content": "x"}], "temperature": 1e400})",
                                    "application/json");
  ASSERT_TRUE(huge_number);
  EXPECT_EQ(huge_number->status, 400) << huge_number->body;
  EXPECT_TRUE(json::parse(huge_number->body)["error"].contains("message"));
  auto unknown = s.client->Get("/v1/nothing-here");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  EXPECT_NE(json::parse(unknown->body)["error"]["message"].get<std::string>().find("/v1/nothing-here"),
            std::string::npos);
}

// Drain means drain: on SIGTERM /health turns 503 at once and new requests get 503 with Retry-After, while the
// request already running finishes; metrics read at scrape time tell the truth once it is idle again.
TEST(Serve, SigtermDrainsRunningRequestsAndRefusesNewOnes) {
  Server s({"--slots", "1", "--grace", "30"});
  ASSERT_GT(s.port, 0);
  json body = chat_body("Write a Python function that reverses a list.");
  body["model"] = "large";
  body["max_tokens"] = 300;
  body["ignore_eos"] = true;
  std::optional<int> running_status;
  std::thread running([&] {
    httplib::Client c("127.0.0.1", s.port);
    c.set_read_timeout(120, 0);
    auto r = c.Post("/v1/chat/completions", body.dump(), "application/json");
    running_status = r ? r->status : -1;
  });
  // Wait until the request is decoding.
  for (int i = 0; i < 200; ++i) {
    auto m = s.client->Get("/metrics");
    if (m && m->body.find("aio_busy_slots{model=\"large\"} 1") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  s.proc->send_signal(SIGTERM);
  std::optional<int> health;
  for (int i = 0; i < 100 && health != 503; ++i) {
    auto h = s.client->Get("/health");
    health = h ? h->status : -1;
    if (health != 503) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(health, 503) << "/health turns 503 as soon as the drain begins";
  auto refused = s.chat(chat_body("hello"));
  if (refused) { // (the server may already have finished the running request and exited)
    EXPECT_EQ(refused->status, 503) << refused->body;
    EXPECT_FALSE(refused->get_header_value("Retry-After").empty());
  }
  running.join();
  EXPECT_EQ(running_status, 200) << "the running request finishes within the grace period";
  EXPECT_EQ(s.proc->wait(), 0);
}

TEST(Serve, GaugesAreReadWhenScraped) {
  Server s;
  ASSERT_GT(s.port, 0);
  std::vector<std::thread> burst;
  for (int i = 0; i < 4; ++i)
    burst.emplace_back([&] {
      httplib::Client c("127.0.0.1", s.port);
      c.set_read_timeout(120, 0);
      c.Post("/v1/chat/completions", chat_body("Write a Python function that reverses a list.").dump(),
             "application/json");
    });
  for (auto &t : burst) t.join();
  auto m = s.client->Get("/metrics");
  ASSERT_TRUE(m);
  for (const char *model : {"small", "large"}) {
    EXPECT_NE(m->body.find("aio_queue_depth{model=\"" + std::string(model) + "\"} 0"), std::string::npos) << m->body;
    EXPECT_NE(m->body.find("aio_busy_slots{model=\"" + std::string(model) + "\"} 0"), std::string::npos) << m->body;
  }
}

TEST(Serve, ApiKeyIsRequiredWhenSet) {
  Server s({"--api-key", "sekrit"});
  ASSERT_GT(s.port, 0);
  EXPECT_EQ(s.chat(chat_body("hi"))->status, 401);
  EXPECT_EQ(s.chat(chat_body("hi"), {{"Authorization", "Bearer wrong"}})->status, 401);
  EXPECT_EQ(s.chat(chat_body("hi"), {{"Authorization", "Bearer sekrit"}})->status, 200);
  EXPECT_EQ(s.client->Get("/health")->status, 200) << "health needs no key";
}

TEST(Serve, OverloadGets429WithRetryAfter) {
  Server s({"--slots", "1", "--queue", "1"});
  ASSERT_GT(s.port, 0);
  json body = chat_body("Write a Python function that reverses a list.");
  body["max_tokens"] = 400;
  body["model"] = "large";
  std::vector<std::thread> clients;
  std::mutex mu;
  std::vector<int> statuses;
  std::string retry_after;
  for (int i = 0; i < 5; ++i)
    clients.emplace_back([&] {
      httplib::Client c("127.0.0.1", s.port);
      c.set_read_timeout(120, 0);
      auto r = c.Post("/v1/chat/completions", body.dump(), "application/json");
      std::lock_guard lock(mu);
      statuses.push_back(r ? r->status : -1);
      if (r && r->status == 429) retry_after = r->get_header_value("Retry-After");
    });
  for (auto &c : clients) c.join();
  const auto n_429 = std::count(statuses.begin(), statuses.end(), 429);
  const auto n_200 = std::count(statuses.begin(), statuses.end(), 200);
  EXPECT_GE(n_429, 1) << "one slot and one queue place cannot hold five requests";
  EXPECT_GE(n_200, 1);
  EXPECT_EQ(n_429 + n_200, 5) << "every request gets 200 or 429, nothing else";
  EXPECT_FALSE(retry_after.empty());
}

TEST(Serve, ADisconnectedStreamFreesItsSlot) {
  Server s({"--slots", "1"});
  ASSERT_GT(s.port, 0);
  json body = chat_body("Tell me a long story.", true);
  body["max_tokens"] = 450;
  body["model"] = "large";
  int chunks = 0;
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/chat/completions";
  req.body = body.dump();
  req.set_header("Content-Type", "application/json");
  req.content_receiver = [&](const char *, size_t, uint64_t, uint64_t) { return ++chunks < 3; }; // then hang up
  httplib::Client reader("127.0.0.1", s.port);
  (void)reader.send(req);
  EXPECT_GE(chunks, 1);
  // The server notices on its next write, cancels the generation and frees the slot; the next request is served.
  auto next = s.chat(chat_body("hi"));
  ASSERT_TRUE(next);
  EXPECT_EQ(next->status, 200);
  auto metrics = s.client->Get("/metrics")->body;
  const auto pos = metrics.find("aio_generated_tokens_total{model=\"large\"} ");
  ASSERT_NE(pos, std::string::npos) << metrics;
  EXPECT_LT(std::stoi(metrics.substr(pos + std::strlen("aio_generated_tokens_total{model=\"large\"} "))), 450)
      << "the disconnected request ran to the end";
}

TEST(Serve, BoundedLoadOf16ClientsBy20RequestsHasNoErrors) {
  Server s({"--slots", "4", "--queue", "64"});
  ASSERT_GT(s.port, 0);
  const std::vector<std::string> prompts = {"Write a Python function that adds two numbers.",
                                            "What is the capital of Peru?",
                                            "Tom has 3 apples and buys 5 more. How many apples does he have?"};
  std::mutex mu;
  std::vector<double> latency_ms;
  int errors = 0, tokens = 0;
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> clients;
  for (int c = 0; c < 16; ++c)
    clients.emplace_back([&, c] {
      httplib::Client client("127.0.0.1", s.port);
      client.set_read_timeout(120, 0);
      for (int i = 0; i < 20; ++i) {
        json body = chat_body(prompts[static_cast<size_t>(c + i) % prompts.size()]);
        body["max_tokens"] = 8;
        const auto t = std::chrono::steady_clock::now();
        auto r = client.Post("/v1/chat/completions", body.dump(), "application/json");
        const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
        std::lock_guard lock(mu);
        if (!r || r->status != 200) {
          if (errors++ < 3)
            ADD_FAILURE() << "request failed: "
                          << (r ? std::to_string(r->status) + " " + r->body : httplib::to_string(r.error()));
          continue;
        }
        latency_ms.push_back(ms);
        tokens += json::parse(r->body)["usage"]["completion_tokens"].get<int>();
      }
    });
  for (auto &c : clients) c.join();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(errors, 0);
  ASSERT_EQ(latency_ms.size(), 320u);
  std::sort(latency_ms.begin(), latency_ms.end());
  // Reported, never asserted: timing thresholds do not belong in tests.
  std::printf("load: 320 requests, p50 %.1f ms, p99 %.1f ms, %.1f generated tok/s (tiny synthetic pair)\n",
              latency_ms[160], latency_ms[316], tokens / secs);
}

TEST(Serve, RefusesAnOpenAddressWithoutAKey) {
  auto r = run_aio({"serve", "--config", serve_config(), "--host", "0.0.0.0", "--port", "0"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--api-key"), std::string::npos) << r.err;
}

// A model that cannot load (missing, a folder, random bytes) makes `aio serve` exit 1 at once, every time: the HTTP
// thread it had started to answer /health while loading is stopped whatever moment it is in (once it hung in 3 of 5
// runs, listening forever with /health at 503).
TEST(Serve, AModelThatCannotLoadEndsTheServerAtOnceEveryTime) {
  const std::string dir = make_temp_dir("badmodel");
  const std::string random = dir + "/random.gguf", folder = dir + "/folder.gguf";
  {
    std::ofstream f(random, std::ios::binary);
    for (int i = 0; i < 100000; ++i) f.put(static_cast<char>((i * 2654435761u) >> 24));
  }
  std::filesystem::create_directory(folder);
  for (const std::string &model : {random, folder, dir + "/missing.gguf"}) {
    const std::string config = dir + "/aio.yaml";
    std::ofstream(config) << "models:\n  small: {path: " << model << ", n_ctx: 512}\n  large: {path: "
                          << tiny_pair().large_path << ", n_ctx: 512}\nprobe: {kind: fasttext, fasttext_model: builtin}\n"
                          << "threads: 1\n";
    for (int run = 0; run < 4; ++run) {
      auto r = run_aio({"serve", "--config", config, "--port", "0"}, 30);
      EXPECT_FALSE(r.timed_out) << model << ": still running after 30 s";
      EXPECT_EQ(r.exit_code, 1) << model << "\n" << r.err;
      EXPECT_NE(r.err.find(model), std::string::npos) << r.err;
    }
  }
}

TEST(Serve, AnUnknownScheduleIsACommandLineError) {
  auto r = run_aio({"serve", "--config", serve_config(), "--port", "0", "--schedule", "round-robin"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--schedule"), std::string::npos) << r.err;
  r = run_aio({"serve", "--config", serve_config(), "--port", "0", "--turns", "fastest"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--turns"), std::string::npos) << r.err;
  for (const char *bad : {"soon", "-1", "4e6", "nan"}) { // auto, or milliseconds from 0 to 3,600,000
    r = run_aio({"serve", "--config", serve_config(), "--port", "0", "--max-stall-ms", bad}, 60);
    EXPECT_NE(r.exit_code, 0) << bad;
    EXPECT_TRUE(r.err.find("--max-stall-ms") != std::string::npos || r.err.find("max_stall_ms") != std::string::npos)
        << bad << ": " << r.err;
  }
  for (const char *bad : {"0", "-2", "257", "100000", "many"}) { // llama.cpp decodes at most 256 sequences together
    r = run_aio({"serve", "--config", serve_config(), "--port", "0", "--slots", bad});
    EXPECT_EQ(r.exit_code, 2) << bad << ": " << r.err;
    EXPECT_NE(r.err.find("--slots"), std::string::npos) << bad << ": " << r.err;
  }
}

// --trace-steps: every step of every model, one JSON line each. What the lines add up to is what the requests were: the
// model that answered prefilled its prompt and decoded one token a step after the first. Both schedules: one thread
// stepping both models, and a thread per model (two writers).
TEST(Serve, TraceStepsWritesEveryStepOfEachModel) {
  for (const std::string schedule : {"shared", "parallel"}) {
    SCOPED_TRACE(schedule);
    const std::string path = make_temp_dir("trace") + "/steps.jsonl";
    Server s({"--trace-steps", path, "--schedule", schedule});
    ASSERT_GT(s.port, 0) << s.proc->output();
    auto r = s.chat(chat_body("Write a Python function that reverses a list."));
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    const json small = json::parse(r->body);
    ASSERT_EQ(small["aio"]["route"]["model"], "small");
    auto pinned = s.client->Post("/v1/completions", R"({"model": "large", "prompt": "def f(", "max_tokens": 3})",
                                 "application/json");
    ASSERT_TRUE(pinned);
    ASSERT_EQ(pinned->status, 200) << pinned->body;
    const json large = json::parse(pinned->body);

    // A step's line is written when the step ends, which can be just after its last token reached the client; once
    // the server has stopped, every step it took is in the file. (Flushing line by line is the unit tests' concern.)
    s.proc->send_signal(SIGTERM);
    EXPECT_EQ(s.proc->wait(), 0);
    std::map<std::string, std::pair<int64_t, int64_t>> tokens; // model -> (decode, prefill)
    std::ifstream in(path);
    size_t n = 0;
    for (std::string line; std::getline(in, line); ++n) {
      const json step = json::parse(line);
      tokens[step["model"]].first += step["decode"].get<int64_t>();
      tokens[step["model"]].second += step["prefill"].get<int64_t>();
      EXPECT_GE(step["ms"].get<double>(), step["forward_ms"].get<double>()) << line;
      EXPECT_GT(step["forward_ms"].get<double>(), 0) << line;
      EXPECT_GE(step["t"].get<double>(), 0) << line;
      EXPECT_FALSE(step["others_waiting"].get<bool>()) << "one request at a time: " << line;
    }
    EXPECT_EQ(tokens.size(), 2u);
    EXPECT_EQ(tokens["small"].second, small["usage"]["prompt_tokens"].get<int64_t>());
    EXPECT_EQ(tokens["small"].first, small["usage"]["completion_tokens"].get<int64_t>() - 1);
    EXPECT_EQ(tokens["large"].second, large["usage"]["prompt_tokens"].get<int64_t>());
    EXPECT_EQ(tokens["large"].first, large["usage"]["completion_tokens"].get<int64_t>() - 1);
    EXPECT_GE(n, 2u + 11u + 2u);
  }
}

// models.NAME.flash_attn and models.NAME.kv_cache reach llama.cpp for that model alone (its own log says what each
// context was made with), and both settings answer.
TEST(Serve, EachModelTakesItsOwnFlashAttentionAndKvCacheSettings) {
  const std::string config = make_temp_dir("flash-attn") + "/aio.yaml";
  std::ofstream(config) << "models:\n  small: {path: " << tiny_pair().small_path
                        << ", n_ctx: 512, flash_attn: on, kv_cache: split}\n"
                        << "  large: {path: " << tiny_pair().large_path << ", n_ctx: 512, flash_attn: off}\n"
                        << "probe: {kind: fasttext, fasttext_model: builtin}\nthreads: 1\n";
  ::setenv("AIO_LLAMA_LOG", "1", 1); // llama.cpp's own log on stderr
  Server s({}, config);
  ::unsetenv("AIO_LLAMA_LOG");
  ASSERT_GT(s.port, 0) << s.proc->output();
  auto r = s.chat(chat_body("Write a Python function that reverses a list."));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(json::parse(r->body)["aio"]["route"]["model"], "small");
  auto pinned = s.client->Post("/v1/completions", R"({"model": "large", "prompt": "def f(", "max_tokens": 3})",
                               "application/json");
  ASSERT_TRUE(pinned);
  EXPECT_EQ(pinned->status, 200) << pinned->body;
  const std::string log = s.proc->output();
  const auto contexts_with = [&](const std::string &setting) {
    const std::regex line("flash_attn +=  *" + setting + "\n");
    return std::distance(std::sregex_iterator(log.begin(), log.end(), line), std::sregex_iterator());
  };
  EXPECT_EQ(contexts_with("enabled"), 1) << log;
  EXPECT_EQ(contexts_with("disabled"), 1) << log;
  EXPECT_EQ(contexts_with("auto"), 0) << log;
  const auto kv_unified = [&](const std::string &setting) {
    const std::regex line("kv_unified +=  *" + setting + "\n");
    return std::distance(std::sregex_iterator(log.begin(), log.end(), line), std::sregex_iterator());
  };
  EXPECT_EQ(kv_unified("false"), 1) << log;
  EXPECT_EQ(kv_unified("true"), 1) << log;
}

TEST(Serve, ATraceFileThatCannotBeWrittenStopsTheServerBeforeItListens) {
  const std::string dir = make_temp_dir("trace-bad");
  for (const std::string &bad : {dir + "/missing/steps.jsonl", dir}) {
    auto r = run_aio({"serve", "--config", serve_config(), "--port", "0", "--trace-steps", bad}, 60);
    EXPECT_FALSE(r.timed_out);
    EXPECT_NE(r.exit_code, 0) << bad;
    EXPECT_NE(r.err.find("cannot write the step trace to " + bad), std::string::npos) << r.err;
    EXPECT_EQ(r.out.find("listening"), std::string::npos) << r.out;
  }
}

} // namespace
} // namespace aio::test
