// `aio generate` and `aio bench` reach a pooled model the way `aio serve` does - through the Router's backend for that
// model. Here the large model is a pool of two llama-server replicas (the pinned build serving the tiny synthetic
// file) and is not loaded by aio at all.
#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include "support/aio_server.h"
#include "support/paths.h"
#include "support/process.h"
#include "support/tiny_models.h"

namespace aio::test {
namespace {
using nlohmann::json;

struct TwoReplicas {
  std::vector<std::unique_ptr<LlamaServer>> servers;
  std::string config;

  TwoReplicas() {
    for (int i = 0; i < 2; ++i) servers.push_back(std::make_unique<LlamaServer>(tiny_pair().large_path, 1024, 0, 2));
    config = make_temp_dir("cli-pool") + "/aio.yaml";
    std::ofstream out(config);
    out << "models:\n  small: {path: " << tiny_pair().small_path << ", n_ctx: 1024}\n  large:\n    endpoints:\n";
    for (size_t i = 0; i < servers.size(); ++i)
      out << "      - {url: '" << servers[i]->endpoint() << "', name: r" << i << "}\n";
    out << "    timeout_seconds: 60\nprobe: {kind: fasttext, fasttext_model: builtin}\nthreads: 1\n";
  }
  bool ready() const { return servers[0]->ready && servers[1]->ready; }
};

json generate_json(const std::string &config, const std::string &prompt) {
  const auto r = run_aio({"generate", "--config", config, "--policy", "static-large", "--chat", "-p", prompt, "-n", "8",
                          "--ignore-eos", "--json"},
                         120);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return json::parse(r.out, nullptr, false);
}

TEST(CliPool, GenerateAnswersThroughThePoolAndFailsOverWhenAReplicaDies) {
  if (LlamaServer::binary().empty()) GTEST_SKIP() << "this build has no llama-server (AIO_LLAMA_TOOLS=OFF)";
  TwoReplicas pool;
  ASSERT_TRUE(pool.ready()) << pool.servers[0]->proc->output() << pool.servers[1]->proc->output();

  const json first = generate_json(pool.config, "tell me about the sea");
  ASSERT_TRUE(first.is_object());
  EXPECT_EQ(first["aio"]["route"]["model"], "large");
  const std::string replica = first["aio"]["route"].value("replica", "");
  ASSERT_TRUE(replica == "r0" || replica == "r1") << first.dump();
  EXPECT_FALSE(first["text"].get<std::string>().empty());
  EXPECT_EQ(first["aio"]["tokens"]["generated"], 8);

  // The replica that answered dies: the same request (same conversation, so the same first choice) is retried on
  // the other replica and answered there.
  pool.servers[replica == "r0" ? 0 : 1].reset();
  const json second = generate_json(pool.config, "tell me about the sea");
  ASSERT_TRUE(second.is_object());
  EXPECT_EQ(second["aio"]["route"].value("replica", ""), replica == "r0" ? "r1" : "r0") << second.dump();
  EXPECT_FALSE(second["text"].get<std::string>().empty());
}

TEST(CliPool, BenchMeasuresThePoolThroughTheHarness) {
  if (LlamaServer::binary().empty()) GTEST_SKIP() << "this build has no llama-server (AIO_LLAMA_TOOLS=OFF)";
  TwoReplicas pool;
  ASSERT_TRUE(pool.ready()) << pool.servers[0]->proc->output() << pool.servers[1]->proc->output();
  const std::string out = make_temp_dir("cli-pool-bench") + "/r.jsonl";
  const auto r = run_aio({"bench", "--config", pool.config, "--scenario", "A", "--data",
                          std::string(AIO_SOURCE_DIR) + "/data/sample", "--n", "6", "--policies", "static-large,aio",
                          "--concurrency", "2", "-o", out},
                         300);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::ifstream in(out);
  std::set<std::string> replicas;
  int n_large = 0, n_records = 0;
  for (std::string line; std::getline(in, line);) {
    const json j = json::parse(line);
    if (++n_records == 1) { EXPECT_EQ(j["run"]["models"]["large"]["replicas"].size(), 2u) << line; }
    const json &route = j["route"]["route"];
    if (route["model"] != "large") continue;
    ++n_large;
    EXPECT_EQ(route["strategy"], "plain") << "a remote replica decodes its own way";
    replicas.insert(route.value("replica", ""));
    EXPECT_GT(j["route"]["tokens"]["generated"].get<int>(), 0) << line;
  }
  EXPECT_EQ(n_records, 12);
  EXPECT_GE(n_large, 6); // every static-large request, and the aio policy's large ones
  for (const std::string &name : replicas) EXPECT_TRUE(name == "r0" || name == "r1") << name;
}

} // namespace
} // namespace aio::test
