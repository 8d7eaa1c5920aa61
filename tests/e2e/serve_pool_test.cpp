// Replica pools on loopback: three llama-server replicas (the pinned build, the tiny synthetic model) behind one
// remote model. Failover under load while a replica is killed and restarted, and conversation affinity that keeps
// the replicas' prompt caches warm.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <fstream>
#include <map>
#include <set>
#include <mutex>
#include <thread>

#include "support/aio_server.h"
#include "support/paths.h"
#include "support/tiny_models.h"

namespace aio::test {
namespace {
using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr double kHealthInterval = 0.5;

std::string pool_config(const std::vector<std::unique_ptr<LlamaServer>> &replicas) {
  const std::string path = make_temp_dir("pool") + "/aio.yaml";
  std::ofstream out(path);
  out << "models:\n  small: {path: " << tiny_pair().small_path << ", n_ctx: 512}\n  large:\n    endpoints:\n";
  for (size_t i = 0; i < replicas.size(); ++i)
    out << "      - {url: '" << replicas[i]->endpoint() << "', name: r" << i << "}\n";
  out << "    health: {interval_seconds: " << kHealthInterval << ", timeout_seconds: 0.5}\n"
      << "    timeout_seconds: 30\n"
      << "probe: {kind: fasttext, fasttext_model: builtin}\nthreads: 1\n";
  return path;
}

// The pool's replicas as /health reports them: name -> state.
std::map<std::string, std::string> replica_states(AioServer &s) {
  std::map<std::string, std::string> out;
  auto r = s.client->Get("/health");
  if (!r || r->status != 200) return out;
  const json j = json::parse(r->body, nullptr, false);
  if (!j.contains("pools")) return out;
  for (const json &rep : j["pools"]["large"]["replicas"]) out[rep["name"]] = rep["state"];
  return out;
}

struct Outcome {
  bool streamed = false;
  int status = 0;
  std::string replica;     // aio.route.replica
  bool complete = false;   // an answer that came whole (a stream: ended with [DONE] and no error)
  bool error_event = false; // a streamed answer cut by the replica's death: it says so
  Clock::time_point done;
};

// Clients sending chat requests to model "large" one after another (every `stream_every`-th streamed), each outcome
// recorded as it ends; n_done counts them, so a test can act a fraction of the way in.
class ClientLoad {
public:
  ClientLoad(int port, int n_clients, int per_client, int stream_every, int max_tokens, const std::string &tag)
      : outcomes(static_cast<size_t>(n_clients * per_client)) {
    for (int c = 0; c < n_clients; ++c) {
      clients_.emplace_back([=, this] {
        httplib::Client http("127.0.0.1", port);
        http.set_read_timeout(60, 0);
        for (int k = 0; k < per_client; ++k) {
          Outcome &o = outcomes[static_cast<size_t>(c * per_client + k)];
          o.streamed = k % stream_every == stream_every - 1;
          json body = chat_body(tag + " " + std::to_string(c) + "-" + std::to_string(k) + ": say something", o.streamed);
          body["model"] = "large";
          body["max_tokens"] = max_tokens;
          record(http.Post("/v1/chat/completions", body.dump(), "application/json"), o);
          ++n_done;
        }
      });
    }
  }
  ~ClientLoad() { join(); }
  void wait_for(int n) const {
    while (n_done < n) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  void join() {
    for (auto &t : clients_)
      if (t.joinable()) t.join();
  }

  std::vector<Outcome> outcomes;
  std::atomic<int> n_done{0};

private:
  static void record(const httplib::Result &r, Outcome &o) {
    o.status = r ? r->status : -1;
    if (r && r->status == 200) {
      if (!o.streamed) {
        o.replica = json::parse(r->body)["aio"]["route"].value("replica", "");
        o.complete = true;
      } else {
        bool done = false;
        json closing;
        streamed_text(r->body, &done, &closing);
        o.error_event = r->body.find("\"error\"") != std::string::npos;
        o.complete = done && !o.error_event && closing.is_object();
        if (closing.is_object()) o.replica = closing["aio"]["route"].value("replica", "");
      }
    }
    o.done = Clock::now();
  }
  std::vector<std::thread> clients_;
};

TEST(ServePool, AReplicaKilledUnderLoadCostsNoUnstartedRequestAndComesBack) {
  if (LlamaServer::binary().empty()) GTEST_SKIP() << "this build has no llama-server (AIO_LLAMA_TOOLS=OFF)";
  std::vector<std::unique_ptr<LlamaServer>> replicas;
  for (int i = 0; i < 3; ++i) {
    replicas.push_back(std::make_unique<LlamaServer>(tiny_pair().small_path, 512, 0, 2));
    ASSERT_TRUE(replicas.back()->ready) << replicas.back()->proc->output();
  }
  AioServer s({"--slots", "2"}, pool_config(replicas));
  ASSERT_GT(s.port, 0) << s.proc->output();
  const auto start_states = replica_states(s);
  ASSERT_EQ(start_states.size(), 3u);
  for (const auto &[name, state] : start_states) EXPECT_EQ(state, "healthy") << name;

  constexpr int kClients = 8, kPerClient = 40;
  ClientLoad load(s.port, kClients, kPerClient, /*stream_every=*/4, /*max_tokens=*/24, "request");
  const std::vector<Outcome> &outcomes = load.outcomes;

  // A quarter in: kill replica r1 outright.
  load.wait_for(kClients * kPerClient / 4);
  const int killed_at = load.n_done;
  const int port = replicas[1]->port;
  const auto t_kill = Clock::now();
  replicas[1]->proc->send_signal(SIGKILL);
  replicas[1]->proc->wait();
  double ejected_after = -1;
  for (int i = 0; i < 200 && ejected_after < 0; ++i) {
    if (replica_states(s)["r1"] == "ejected")
      ejected_after = std::chrono::duration<double>(Clock::now() - t_kill).count();
    else
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  // Half-way: start it again on its port.
  load.wait_for(kClients * kPerClient / 2);
  replicas[1] = std::make_unique<LlamaServer>(tiny_pair().small_path, 512, port, 2);
  ASSERT_TRUE(replicas[1]->ready) << replicas[1]->proc->output();
  const auto t_restart = Clock::now();
  double readmitted_after = -1;
  for (int i = 0; i < 300 && readmitted_after < 0; ++i) {
    if (replica_states(s)["r1"] == "healthy")
      readmitted_after = std::chrono::duration<double>(Clock::now() - t_restart).count();
    else
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  load.join();

  int failed_unstarted = 0, cut = 0, incomplete_without_error = 0;
  std::map<std::string, int> before_kill;
  for (size_t i = 0; i < outcomes.size(); ++i) {
    const Outcome &o = outcomes[i];
    if (o.status != 200) {
      ++failed_unstarted; // a request that failed outright never started streaming: it should have been retried
      ADD_FAILURE() << "request " << i << " failed with HTTP " << o.status;
      continue;
    }
    if (o.streamed && !o.complete) {
      if (o.error_event) ++cut;
      else ++incomplete_without_error;
    }
    if (o.done < t_kill && !o.replica.empty()) ++before_kill[o.replica];
  }
  EXPECT_EQ(failed_unstarted, 0);
  EXPECT_EQ(incomplete_without_error, 0) << "a cut stream must end with an error event, never silently";
  EXPECT_GE(ejected_after, 0) << "r1 was never ejected";
  EXPECT_LE(ejected_after, kHealthInterval + 0.5 + 1.0) << "ejected within the health interval (+ its timeout)";
  EXPECT_GE(readmitted_after, 0) << "r1 was never re-admitted";
  EXPECT_LE(readmitted_after, 3 * kHealthInterval + 1.0);
  int total_before = 0;
  for (const auto &[_, n] : before_kill) total_before += n;
  ASSERT_GT(total_before, 0);
  for (const char *name : {"r0", "r1", "r2"})
    EXPECT_GE(before_kill[name], total_before / 5) << name << " took under 20% of " << total_before
                                                   << " requests while all were healthy";
  std::printf("[pool] %d requests before the kill (r0 %d, r1 %d, r2 %d); killed at %d done; ejected after %.2f s, "
              "re-admitted %.2f s after restart; %d streams cut with an error event\n",
              total_before, before_kill["r0"], before_kill["r1"], before_kill["r2"], killed_at, ejected_after,
              readmitted_after, cut);

  // The state changes were logged, and the pool's metrics say what happened.
  EXPECT_FALSE(s.proc->wait_for_line("replica r1 of model large ejected", 5).empty()) << s.proc->output();
  EXPECT_FALSE(s.proc->wait_for_line("replica r1 of model large re-admitted", 5).empty()) << s.proc->output();
  auto metrics = s.client->Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("aio_replica_ejections_total{model=\"large\",replica=\"r1\"}"), std::string::npos);
  EXPECT_NE(metrics->body.find("aio_replica_healthy{model=\"large\",replica=\"r1\"} 1"), std::string::npos);
  EXPECT_NE(metrics->body.find("aio_replica_requests_total{model=\"large\",replica=\"r0\",outcome=\"ok\"}"),
            std::string::npos);
}

TEST(ServePool, AMixedPoolSharesRequestsWithItsLocalMemberAndKeepsThemWhenTheRemoteDies) {
  if (LlamaServer::binary().empty()) GTEST_SKIP() << "this build has no llama-server (AIO_LLAMA_TOOLS=OFF)";
  LlamaServer remote(tiny_pair().small_path, 512, 0, 2);
  ASSERT_TRUE(remote.ready) << remote.proc->output();
  // The same GGUF loaded here (member "here") and served by llama-server (member "r0").
  const std::string path = make_temp_dir("pool-mixed") + "/aio.yaml";
  std::ofstream(path) << "models:\n  small: {path: " << tiny_pair().small_path << ", n_ctx: 512}\n  large:\n"
                      << "    path: " << tiny_pair().small_path << "\n    n_ctx: 512\n    endpoints:\n"
                      << "      - {local: true, name: here}\n      - {url: '" << remote.endpoint() << "', name: r0}\n"
                      << "    health: {interval_seconds: " << kHealthInterval << ", timeout_seconds: 0.5}\n"
                      << "probe: {kind: fasttext, fasttext_model: builtin}\nthreads: 1\n";
  AioServer s({"--slots", "2"}, path);
  ASSERT_GT(s.port, 0) << s.proc->output();
  auto health = s.client->Get("/health");
  ASSERT_TRUE(health && health->status == 200);
  const json pool = json::parse(health->body)["pools"]["large"]["replicas"];
  ASSERT_EQ(pool.size(), 2u) << pool.dump();
  EXPECT_EQ(pool[0]["name"], "here");
  EXPECT_EQ(pool[0]["url"], "local");

  constexpr int kClients = 4, kPerClient = 24;
  ClientLoad load(s.port, kClients, kPerClient, /*stream_every=*/3, /*max_tokens=*/16, "mixed");
  const std::vector<Outcome> &outcomes = load.outcomes;
  // A third in: the remote replica dies. The local member takes everything from then on, retries included.
  load.wait_for(kClients * kPerClient / 3);
  const auto t_kill = Clock::now();
  remote.proc->send_signal(SIGKILL);
  remote.proc->wait();
  Clock::time_point t_ejected{};
  for (int i = 0; i < 200 && t_ejected == Clock::time_point{}; ++i) {
    if (replica_states(s)["r0"] == "ejected") t_ejected = Clock::now();
    else std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  load.join();
  ASSERT_NE(t_ejected, Clock::time_point{}) << "r0 was never ejected";

  std::map<std::string, int> before_kill, after_ejection;
  int incomplete_without_error = 0;
  for (size_t i = 0; i < outcomes.size(); ++i) {
    const Outcome &o = outcomes[i];
    EXPECT_EQ(o.status, 200) << "request " << i << ": a request the remote failed before answering goes local";
    if (o.streamed && !o.complete && !o.error_event) ++incomplete_without_error;
    if (o.done < t_kill) ++before_kill[o.replica];
    if (o.done > t_ejected + std::chrono::milliseconds(200)) ++after_ejection[o.replica];
  }
  EXPECT_EQ(incomplete_without_error, 0);
  EXPECT_GT(before_kill["here"], 0) << "the local member takes its share";
  EXPECT_GT(before_kill["r0"], 0) << "the remote member takes its share";
  for (const auto &[name, n] : after_ejection) EXPECT_EQ(name, "here") << n << " requests went to " << name;
  std::printf("[mixed pool] before the kill: here %d, r0 %d; after the ejection: here %d\n", before_kill["here"],
              before_kill["r0"], after_ejection["here"]);
  auto metrics = s.client->Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("aio_replica_requests_total{model=\"large\",replica=\"here\",outcome=\"ok\"}"),
            std::string::npos);
  EXPECT_NE(metrics->body.find("aio_replica_healthy{model=\"large\",replica=\"here\"} 1"), std::string::npos);
}

TEST(ServePool, ARemoteThatFailsARequestHandsItBackToTheLocalMember) {
  // A remote member that takes nearly all the weight and answers every request with a 500.
  httplib::Server failing;
  std::atomic<int> n_failed{0};
  failing.Post("/v1/chat/completions", [&](const httplib::Request &, httplib::Response &res) {
    ++n_failed;
    res.status = 500;
    res.set_content(R"({"error": {"message": "out of memory", "type": "server_error"}})", "application/json");
  });
  answer_model_list(failing);
  const int port = failing.bind_to_any_port("127.0.0.1");
  std::thread t([&] { failing.listen_after_bind(); });
  const std::string path = make_temp_dir("pool-handback") + "/aio.yaml";
  std::ofstream(path) << "models:\n  small: {path: " << tiny_pair().small_path << ", n_ctx: 512}\n  large:\n"
                      << "    path: " << tiny_pair().small_path << "\n    n_ctx: 512\n    endpoints:\n"
                      << "      - {local: true, name: here, weight: 0.001}\n"
                      << "      - {url: 'http://127.0.0.1:" << port << "/v1', name: r0, weight: 1000}\n"
                      << "probe: {kind: fasttext, fasttext_model: builtin}\nthreads: 1\n";
  {
    AioServer s({}, path);
    ASSERT_GT(s.port, 0) << s.proc->output();
    for (bool stream : {false, true}) {
      json body = chat_body("hello there", stream);
      body["model"] = "large";
      body["max_tokens"] = 8;
      auto r = s.chat(body);
      ASSERT_TRUE(r);
      ASSERT_EQ(r->status, 200) << r->body;
      json closing;
      if (stream) {
        bool done = false;
        streamed_text(r->body, &done, &closing);
        EXPECT_TRUE(done) << r->body;
      } else {
        closing = json::parse(r->body);
        EXPECT_FALSE(closing["choices"][0]["message"]["content"].get<std::string>().empty());
      }
      EXPECT_EQ(closing["aio"]["route"].value("replica", ""), "here") << closing.dump();
    }
    EXPECT_GE(n_failed.load(), 1) << "the first request was placed on r0 (weight 1000) and failed there";
    auto metrics = s.client->Get("/metrics");
    ASSERT_TRUE(metrics);
    EXPECT_NE(metrics->body.find("aio_replica_requests_total{model=\"large\",replica=\"r0\",outcome=\"failed\"}"),
              std::string::npos);
  }
  failing.stop();
  t.join();
}

TEST(ServePool, AllReplicasDownIs503WithRetryAfter) {
  const std::string path = make_temp_dir("pool-down") + "/aio.yaml";
  // The pool's own `slots` (3 requests forwarded per replica) against the server's --slots 2 for the local model.
  std::ofstream(path) << "models:\n  small: {path: " << tiny_pair().small_path << ", n_ctx: 512}\n  large:\n"
                      << "    slots: 3\n"
                      << "    endpoints: ['http://127.0.0.1:" << free_loopback_port() << "/v1', 'http://127.0.0.1:"
                      << free_loopback_port() << "/v1']\n"
                      << "probe: {kind: fasttext, fasttext_model: builtin}\nthreads: 1\n";
  AioServer s({"--slots", "2"}, path);
  ASSERT_GT(s.port, 0) << s.proc->output();
  auto stats = s.client->Get("/v1/aio/stats");
  ASSERT_TRUE(stats && stats->status == 200);
  std::map<std::string, int> slots;
  const json doc = json::parse(stats->body); // not a temporary in the loop's range: its models would dangle
  for (const json &m : doc["models"]) slots[m["name"]] = m["slots"];
  EXPECT_EQ(slots, (std::map<std::string, int>{{"large", 6}, {"small", 2}}))
      << "a pool forwards its own slots per replica (3 x 2); the local model runs the server's --slots\n" << stats->body;
  // The first health checks (at start) eject both. Wait for them: a request that beats them finds the replicas down
  // itself (502), and under a loaded test run the checker's thread ran late enough for two requests to do that.
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  std::map<std::string, std::string> states;
  while (Clock::now() < deadline) {
    states = replica_states(s);
    const auto ejected = [](const auto &kv) { return kv.second == "ejected"; };
    if (states.size() == 2 && std::all_of(states.begin(), states.end(), ejected)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(states.size(), 2u);
  for (const auto &[name, state] : states) ASSERT_EQ(state, "ejected") << name << ": its health check found it down";
  json body = chat_body("hello");
  body["model"] = "large";
  for (int i = 0; i < 3; ++i) {
    auto r = s.chat(body);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503) << r->body;
    // The pool's own estimate: an ejected replica is checked again within a second.
    EXPECT_EQ(r->get_header_value("Retry-After"), "1");
    EXPECT_NE(r->body.find("no healthy replica of model large"), std::string::npos) << r->body;
  }
  // The local model still answers.
  auto local = s.chat(chat_body("Write a Python function that reverses a list."));
  ASSERT_TRUE(local);
  EXPECT_EQ(local->status, 200);
}

TEST(ServePool, TheTurnsOfAConversationStayOnOneReplicaAndReuseItsCache) {
  if (LlamaServer::binary().empty()) GTEST_SKIP() << "this build has no llama-server (AIO_LLAMA_TOOLS=OFF)";
  std::vector<std::unique_ptr<LlamaServer>> replicas;
  for (int i = 0; i < 3; ++i) {
    replicas.push_back(std::make_unique<LlamaServer>(tiny_pair().small_path, 1024, 0, 2));
    ASSERT_TRUE(replicas.back()->ready) << replicas.back()->proc->output();
  }
  AioServer s({"--slots", "2"}, pool_config(replicas));
  ASSERT_GT(s.port, 0) << s.proc->output();

  constexpr int kConversations = 10, kTurns = 5;
  std::mutex mu;
  std::map<int, std::set<std::string>> replicas_of;
  long earlier_prompt_tokens = 0, cached_tokens = 0;
  std::vector<std::thread> clients;
  for (int c0 = 0; c0 < 2; ++c0) { // two conversations at a time: their later turns must stay put
    clients.emplace_back([&, c0] {
      httplib::Client http("127.0.0.1", s.port);
      http.set_read_timeout(60, 0);
      for (int conv = c0; conv < kConversations; conv += 2) {
        json messages = json::array({{{"role", "system"}, {"content", "You are a terse assistant. Conversation " +
                                                                            std::to_string(conv) + "."}}});
        int previous_prompt = 0;
        for (int turn = 0; turn < kTurns; ++turn) {
          messages.push_back({{"role", "user"}, {"content", "Turn " + std::to_string(turn) + ": tell me more."}});
          json body = {{"model", "large"}, {"messages", messages}, {"max_tokens", 12}, {"temperature", 0}};
          auto r = http.Post("/v1/chat/completions", body.dump(), "application/json");
          ASSERT_TRUE(r && r->status == 200) << (r ? r->body : "no answer");
          const json j = json::parse(r->body);
          std::lock_guard lock(mu);
          if (turn > 0) replicas_of[conv].insert(j["aio"]["route"].value("replica", "?"));
          if (turn > 0) {
            earlier_prompt_tokens += previous_prompt;
            cached_tokens += j["aio"]["tokens"]["prefill_saved"].get<int>();
          }
          previous_prompt = j["usage"]["prompt_tokens"];
          messages.push_back({{"role", "assistant"}, {"content", j["choices"][0]["message"]["content"]}});
        }
      }
    });
  }
  for (auto &t : clients) t.join();
  // A first turn may start elsewhere when its replica is busy (nothing is cached yet); every later turn stays.
  for (const auto &[conv, names] : replicas_of) EXPECT_EQ(names.size(), 1u) << "conversation " << conv;
  std::set<std::string> used;
  for (const auto &[_, names] : replicas_of) used.insert(names.begin(), names.end());
  EXPECT_GE(used.size(), 2u) << "conversations spread over the replicas";
  ASSERT_GT(earlier_prompt_tokens, 0);
  const double ratio = static_cast<double>(cached_tokens) / static_cast<double>(earlier_prompt_tokens);
  std::printf("[affinity] cached %ld of the earlier turns' %ld prompt tokens (%.1f%%) over %zu replicas\n",
              cached_tokens, earlier_prompt_tokens, 100 * ratio, used.size());
  EXPECT_GE(ratio, 0.8);
}

} // namespace
} // namespace aio::test
