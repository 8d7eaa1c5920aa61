// Reading aio.yaml: what a valid file gives, and the error each mistake produces.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "config/config.h"
#include "support/paths.h"

namespace aio::config {
namespace {

std::string write(const std::string &text) {
  const std::string path = test::make_temp_dir("config") + "/aio.yaml";
  std::ofstream(path) << text;
  return path;
}

const char *kMinimal = "models:\n  small: {path: s.gguf}\n  large: {path: /abs/l.gguf, n_ctx: 2048}\n";

TEST(Config, MinimalFileGetsThePapersDefaults) {
  const std::string path = write(kMinimal);
  auto cfg = load_config(path);
  ASSERT_TRUE(cfg.ok()) << cfg.status().to_string();
  EXPECT_EQ(cfg->policy, "aio");
  EXPECT_EQ(cfg->probe.kind, "lm");
  EXPECT_EQ(cfg->probe.model, "small");
  EXPECT_EQ(cfg->decoding.pld_window, 6);
  EXPECT_EQ(cfg->decoding.pld_lookahead, 2);
  EXPECT_EQ(cfg->categories, (std::vector<std::string>{"code", "qa", "math"}));
  // Relative paths are relative to the config file; absolute ones stay.
  EXPECT_EQ(cfg->find_model("small")->path, std::filesystem::path(path).parent_path().string() + "/s.gguf");
  EXPECT_EQ(cfg->find_model("large")->path, "/abs/l.gguf");
  EXPECT_EQ(cfg->find_model("large")->n_ctx, 2048u);
  EXPECT_EQ(cfg->find_model("small")->slots, 0) << "no slots of its own: the server's --slots";
  EXPECT_TRUE(cfg->find_policy("static-large").ok());
  EXPECT_EQ(cfg->max_stall_ms, -1) << "a short prompt whole within a few decode steps (auto)";
  for (const auto &[text, want] : std::vector<std::pair<std::string, double>>{
           {"max_stall_ms: auto\n", -1}, {"max_stall_ms: 0\n", 0}, {"max_stall_ms: 1500\n", 1500}}) {
    auto c = load_config(write(std::string(kMinimal) + text));
    ASSERT_TRUE(c.ok()) << text << c.status().to_string();
    EXPECT_EQ(c->max_stall_ms, want) << text;
  }
}

// The cascade runs both probes: fastText on every request, the lm probe on those fastText is unsure of.
TEST(Config, ACascadeProbeRunsBothProbesAboveItsThreshold) {
  auto cfg = load_config(write(std::string(kMinimal) + "probe: {kind: cascade, fasttext_model: builtin, "
                                                       "escalate_entropy_gt: 0.25}\n"));
  ASSERT_TRUE(cfg.ok()) << cfg.status().to_string();
  EXPECT_TRUE(cfg->probe.runs_lm());
  EXPECT_TRUE(cfg->probe.runs_fasttext());
  EXPECT_EQ(cfg->probe.escalate_entropy_gt, 0.25);
  auto lm = load_config(write(kMinimal));
  ASSERT_TRUE(lm.ok());
  EXPECT_TRUE(lm->probe.runs_lm());
  EXPECT_FALSE(lm->probe.runs_fasttext());
}

TEST(Config, TheShippedConfigLoads) {
  auto cfg = load_config(std::string(AIO_SOURCE_DIR) + "/configs/aio.yaml");
  ASSERT_TRUE(cfg.ok()) << cfg.status().to_string();
  EXPECT_EQ(cfg->models.size(), 2u);
  EXPECT_EQ(cfg->probe.lm.labels, (std::vector<std::string>{" code", " qa", " math"}));
  EXPECT_EQ(cfg->probe.lm.read_tokens, 512);
  EXPECT_EQ(cfg->probe.lm.lanes, 1);
}

TEST(Config, TheExampleConfigsLoad) {
  for (const char *name : {"remote-large.example.yaml", "pool-large.example.yaml"}) {
    auto cfg = load_config(std::string(AIO_SOURCE_DIR) + "/configs/" + name);
    ASSERT_TRUE(cfg.ok()) << name << ": " << cfg.status().to_string();
    EXPECT_TRUE(cfg->find_model("large")->remote()) << name;
  }
  auto pool = load_config(std::string(AIO_SOURCE_DIR) + "/configs/pool-large.example.yaml");
  ASSERT_TRUE(pool.ok());
  EXPECT_EQ(pool->find_model("large")->replicas.size(), 3u);
  EXPECT_EQ(pool->find_model("large")->replicas[2].name, "big-box");
  auto mixed = load_config(std::string(AIO_SOURCE_DIR) + "/configs/pool-mixed.example.yaml");
  ASSERT_TRUE(mixed.ok()) << mixed.status().to_string();
  EXPECT_TRUE(mixed->find_model("large")->mixed());
  EXPECT_TRUE(mixed->find_model("large")->replicas[0].local);
}

TEST(Config, FileCanAddAndOverridePolicies) {
  auto cfg = load_config(write(std::string(kMinimal) +
                               "policy: mine\npolicies:\n  mine:\n    rules: [{route: {model: small, strategy: pld}}]\n"));
  ASSERT_TRUE(cfg.ok()) << cfg.status().to_string();
  EXPECT_EQ(cfg->policy, "mine");
  EXPECT_TRUE(cfg->policies.count("aio"));
}

// A model's own slots (its KV cache's sequences; for a pool, requests forwarded to each replica at once).
TEST(Config, AModelTakesItsOwnSlots) {
  auto cfg = load_config(write("models:\n  small: {path: s.gguf, slots: 16}\n  large: {path: l.gguf}\n"
                               "  remote: {endpoint: 'http://h:1/v1', slots: 3}\n"));
  ASSERT_TRUE(cfg.ok()) << cfg.status().to_string();
  EXPECT_EQ(cfg->find_model("small")->slots, 16);
  EXPECT_EQ(cfg->find_model("large")->slots, 0);
  EXPECT_EQ(cfg->find_model("remote")->slots, 3);
}

// Flash attention per model, as llama-server's --flash-attn: auto unless said (YAML's true/false read as on/off).
TEST(Config, AModelSaysWhetherItUsesFlashAttention) {
  auto cfg = load_config(write("models:\n  small: {path: s.gguf, flash_attn: on}\n  large: {path: l.gguf, flash_attn: "
                               "off}\n  mid: {path: m.gguf, flash_attn: auto}\n  other: {path: o.gguf}\n"
                               "  yes: {path: y.gguf, flash_attn: true}\n"));
  ASSERT_TRUE(cfg.ok()) << cfg.status().to_string();
  using FA = ModelEntry::FlashAttention;
  EXPECT_EQ(cfg->find_model("small")->flash_attn, FA::on);
  EXPECT_EQ(cfg->find_model("large")->flash_attn, FA::off);
  EXPECT_EQ(cfg->find_model("mid")->flash_attn, FA::automatic);
  EXPECT_EQ(cfg->find_model("other")->flash_attn, FA::automatic);
  EXPECT_EQ(cfg->find_model("yes")->flash_attn, FA::on);
}

// The KV cache layout per model: unified unless said, split as llama-server without --kv-unified.
TEST(Config, AModelSaysHowItsKvCacheIsLaidOut) {
  auto cfg = load_config(write("models:\n  small: {path: s.gguf, kv_cache: split}\n  large: {path: l.gguf, kv_cache: "
                               "unified}\n  other: {path: o.gguf}\n"));
  ASSERT_TRUE(cfg.ok()) << cfg.status().to_string();
  using KV = ModelEntry::KvCache;
  EXPECT_EQ(cfg->find_model("small")->kv_cache, KV::split);
  EXPECT_EQ(cfg->find_model("large")->kv_cache, KV::unified);
  EXPECT_EQ(cfg->find_model("other")->kv_cache, KV::unified);
}

TEST(Config, MistakesAreReportedWithFileAndLine) {
  struct Case {
    std::string yaml, expect;
  };
  const std::vector<Case> cases = {
      {"models:\n  small: {path: a.gguf}\nprobes: {}\n", ":3: unknown key 'probes'"},
      {"models: {}\n", "'models' must map names"},
      {"models:\n  small: {file: a.gguf}\n", ":2: unknown key 'file'"},
      {"models:\n  small: {path: a.gguf, n_ctx: lots}\n", "models.small.n_ctx must be a whole number"},
      {"models:\n  small: {path: a.gguf, slots: 0}\n", ":2: models.small.slots must be from 1 to 256"},
      {"models:\n  small: {path: a.gguf, flash_attn: fast}\n", ":2: models.small.flash_attn must be auto"},
      {"models:\n  small: {path: a.gguf, flash_attn: [on]}\n", "models.small.flash_attn must be auto"},
      {"models:\n  small: {path: a.gguf}\n  large: {endpoint: 'http://h/v1', flash_attn: off}\n",
       "models.large.flash_attn is the remote server's business"},
      {"models:\n  small: {path: a.gguf, kv_cache: shared}\n", ":2: models.small.kv_cache must be unified"},
      {"models:\n  small: {path: a.gguf, kv_cache: {split: true}}\n", "models.small.kv_cache must be unified"},
      {"models:\n  small: {path: a.gguf}\n  large: {endpoint: 'http://h/v1', kv_cache: split}\n",
       "models.large.kv_cache is the remote server's business"},
      {"models:\n  small: {path: a.gguf, slots: 257}\n", "models.small.slots must be from 1 to 256"},
      {"models:\n  small: {path: a.gguf, slots: -3}\n", "models.small.slots must be from 1 to 256"},
      {"models:\n  small: {path: a.gguf, slots: 99999999999999999999}\n", "models.small.slots must be a whole number"},
      {"models:\n  small: {path: a.gguf, slots: [4]}\n", "models.small.slots"},
      {std::string(kMinimal) + "probe: {kind: magic}\n", "probe.kind must be lm, fasttext or cascade"},
      {std::string(kMinimal) + "probe: {kind: cascade}\n", "probe.kind cascade needs probe.fasttext_model"},
      {std::string(kMinimal) + "probe: {kind: cascade, fasttext_model: builtin, escalate_entropy_gt: 1.6}\n",
       "below log2 of the number of categories (1.585 bits; at or above it the lm probe would never run"},
      {std::string(kMinimal) + "probe: {kind: cascade, fasttext_model: builtin, escalate_entropy_gt: -0.1}\n",
       "escalate_entropy_gt must be at least 0"},
      {std::string(kMinimal) + "probe: {kind: cascade, fasttext_model: builtin, escalate_entropy_gt: unsure}\n",
       "probe.escalate_entropy_gt must be a number"},
      {std::string(kMinimal) + "probe: {model: medium}\n", "probe.model 'medium' is not one of the configured models"},
      {std::string(kMinimal) + "policy: fastest\n", "no policy named 'fastest'"},
      {std::string(kMinimal) + "policy: quant\n", "add models.quant.path"},
      {std::string(kMinimal) + "entropy_unit: nats\n", "entropy_unit must be 'bits'"},
      {std::string(kMinimal) + "decoding: {pld_window: 0}\n", "pld_window must be at least 1"},
      {std::string(kMinimal) + "probe: {labels: {code: ' code', qa: ' qa'}}\n", "no label for category 'math'"},
      {std::string(kMinimal) + "probe: {kind: fasttext}\n", "needs probe.fasttext_model"},
      {std::string(kMinimal) + "categories: [code]\n", "at least two categories"},
      {std::string(kMinimal) + "step_budget: lots\n", "step_budget must be 'auto'"},
      {std::string(kMinimal) + "step_budget: 0\n", "step_budget must be 'auto'"},
      {std::string(kMinimal) + "step_factor: 0.5\n", "step_factor must be a number from 1.1"},
      {std::string(kMinimal) + "step_factor: fast\n", "step_factor must be a number from 1.1"},
      {std::string(kMinimal) + "max_stall_ms: -5\n", "max_stall_ms must be auto (a few of the model's decode steps) or"},
      {std::string(kMinimal) + "max_stall_ms: -1\n", "max_stall_ms must be auto"},
      {std::string(kMinimal) + "max_stall_ms: soon\n", "max_stall_ms must be auto"},
      {std::string(kMinimal) + "max_stall_ms: [1500]\n", "max_stall_ms must be auto"},
      {std::string(kMinimal) + "probe: {read_tokens: 8}\n", "probe.read_tokens must be 0 (read the whole request) or"},
      {std::string(kMinimal) + "probe: {read_tokens: many}\n", "probe.read_tokens must be a whole number"},
      {std::string(kMinimal) + "probe: {lanes: -1}\n", "probe.lanes must be between 0 (probes queue for a slot"},
      {std::string(kMinimal) + "probe: {lanes: 9}\n", "probe.lanes must be between 0"},
      {std::string(kMinimal) + "policies:\n  mine:\n    rules:\n"
       "      - {when: {load: {model: huge, busy_gt: 1}}, route: {model: small}}\n      - {route: {model: small}}\n"
       "policy: mine\n",
       "policy 'mine' routes to (or reads the load of) model 'huge'"},
      {std::string(kMinimal) + "categories: [code, qa, code]\n", "category 'code' is listed twice"},
      {std::string(kMinimal) + "categories: [code, small talk]\n", "'small talk' may use only"},
      {std::string(kMinimal) + "categories: [code, qa, math]\npolicies:\n  mine:\n    rules:\n"
       "      - {when: {category: chat}, route: {model: small, strategy: plain}}\n      - {route: {model: small}}\n",
       "names category 'chat', which is not one of the config's categories [code, qa, math]"},
      {"models:\n  small: {path: a.gguf, endpoint: 'http://h/v1'}\n", ":2: models.small has both 'path' and endpoints"},
      {"models:\n  small: {n_ctx: 512}\n", "needs 'path'"},
      {"models:\n  small: {path: a.gguf}\n  large: {endpoint: 'ftp://h/v1'}\n", "must start with http://"},
      {"models:\n  small: {path: a.gguf}\n  large: {endpoint: 'http://h/v1', n_ctx: 9}\n", "remote server's business"},
      {"models:\n  small: {path: a.gguf, timeout_seconds: 3}\n", "applies to models with endpoints only"},
      {"models:\n  small: {path: a.gguf}\n  large: {endpoint: 'http://h/v1', timeout_seconds: 0}\n",
       "timeout_seconds must be positive"},
      {"models:\n  small: {endpoint: 'http://h/v1'}\n  large: {path: a.gguf}\n",
       "probe.model 'small' is a remote endpoint"},
      {"models:\n  aio: {path: a.gguf}\n", "'aio' is the routed model's name"},
      // Pools: each mistake at its own line.
      {"models:\n  small: {path: a.gguf}\n  large:\n    endpoints: []\n", ":4: models.large.endpoints must be a non-empty list"},
      {"models:\n  small: {path: a.gguf}\n  large:\n    endpoints:\n      - http://a:1/v1\n      - 'http//b/v1'\n",
       ":6: models.large.endpoints[1] 'http//b/v1' must start with http://"},
      {"models:\n  small: {path: a.gguf}\n  large:\n    endpoints:\n      - http://:8080/v1\n", ":5:", },
      {"models:\n  small: {path: a.gguf}\n  large:\n    endpoints:\n      - http://a:99999/v1\n", "bad port '99999'"},
      {"models:\n  small: {path: a.gguf}\n  large:\n    endpoints:\n      - {url: 'http://a:1/v1', name: x}\n"
       "      - {url: 'http://b:1/v1', name: x}\n",
       ":6: models.large.endpoints[1]: two replicas are named 'x'"},
      {"models:\n  small: {path: a.gguf}\n  large:\n    endpoints:\n      - http://a:1/v1\n      - http://a:1/v1/\n",
       ":6: models.large.endpoints[1]: the replica http://a:1/v1 is listed twice"},
      {"models:\n  small: {path: a.gguf}\n  large:\n    endpoints:\n      - {url: 'http://a:1/v1', weight: 0}\n",
       ":5: models.large.endpoints[0].weight must be greater than 0"},
      {"models:\n  small: {path: a.gguf}\n  large:\n    endpoints:\n      - {url: 'http://a:1/v1', weight: -2}\n",
       "weight must be greater than 0"},
      {"models:\n  small: {path: a.gguf}\n  large:\n    endpoints:\n      - {weight: 2}\n", ":5: models.large.endpoints[0] needs a 'url'"},
      {"models:\n  small: {path: a.gguf}\n  large: {endpoint: 'http://a:1/v1', endpoints: ['http://b:1/v1']}\n",
       "has both 'endpoint' and 'endpoints'"},
      {"models:\n  small: {path: a.gguf}\n  large:\n    endpoints: [http://a:1/v1]\n    health: {interval_seconds: 0}\n",
       ":5: models.large.health.interval_seconds must be positive"},
      {"models:\n  small: {path: a.gguf}\n  large:\n    endpoints: [http://a:1/v1]\n    health: {path: health}\n",
       "health.path must start with /"},
      {"models:\n  small: {path: a.gguf, health: {path: /health}}\n", "applies to models with endpoints only"},
      {"models:\n  small: {path: a.gguf}\n  large:\n    endpoints: [http://a:1/v1]\n    affinity: sometimes\n",
       ":5: models.large.affinity must be true"},
      // Mixed pools: the local member is the model's own path.
      {"models:\n  small: {path: a.gguf}\n  large:\n    endpoints: [local, http://a:1/v1]\n",
       ":4: models.large lists a local member among its endpoints but has no 'path'"},
      {"models:\n  small: {path: a.gguf}\n  large:\n    path: b.gguf\n    endpoints: [local]\n",
       "has only the local member"},
      {"models:\n  small: {path: a.gguf}\n  large:\n    path: b.gguf\n    endpoints:\n      - local\n"
       "      - {local: true, weight: 2}\n      - http://a:1/v1\n",
       ":7: models.large.endpoints[1]: the local member is listed twice"},
      {"models:\n  small: {path: a.gguf}\n  large:\n    path: b.gguf\n    endpoints:\n"
       "      - {local: true, url: 'http://a:1/v1'}\n      - http://b:1/v1\n",
       ":6: models.large.endpoints[0] is the local member"},
      {"models:\n  small: {path: a.gguf}\n  large:\n    path: b.gguf\n    endpoints:\n"
       "      - {local: yes}\n      - http://b:1/v1\n",
       "endpoints[0].local must be true"},
  };
  for (const auto &c : cases) {
    auto cfg = load_config(write(c.yaml));
    ASSERT_FALSE(cfg.ok()) << c.yaml;
    EXPECT_NE(cfg.status().message().find("aio.yaml"), std::string::npos) << cfg.status().message();
    EXPECT_NE(cfg.status().message().find(c.expect), std::string::npos) << cfg.status().message();
  }
}

TEST(Config, RemoteModelsNameAnEndpoint) {
  auto cfg = load_config(write("models:\n  small: {path: s.gguf}\n  large: {endpoint: 'https://gpu-box:8000/v1/', "
                               "remote_model: meta-llama/Llama-3.1-8B-Instruct, timeout_seconds: 30, "
                               "api_key_env: GPU_BOX_KEY}\n"));
  ASSERT_TRUE(cfg.ok()) << cfg.status().to_string();
  const ModelEntry *large = cfg->find_model("large");
  EXPECT_TRUE(large->remote());
  EXPECT_FALSE(cfg->find_model("small")->remote());
  ASSERT_EQ(large->replicas.size(), 1u) << "one endpoint is a pool of one";
  EXPECT_EQ(large->replicas[0].url, "https://gpu-box:8000/v1") << "a trailing slash is dropped";
  EXPECT_EQ(large->replicas[0].name, "gpu-box:8000");
  EXPECT_EQ(large->remote_model, "meta-llama/Llama-3.1-8B-Instruct");
  EXPECT_EQ(large->timeout_seconds, 30);
  EXPECT_EQ(large->api_key_env, "GPU_BOX_KEY");
  EXPECT_TRUE(large->path.empty());
}

TEST(Config, AMixedPoolRunsItsPathHereBesideRemoteReplicas) {
  auto cfg = load_config(write("models:\n  small: {path: s.gguf}\n  large:\n    path: l.gguf\n    n_ctx: 2048\n"
                               "    endpoints:\n      - {local: true, weight: 2}\n      - http://10.0.0.5:8080/v1\n"));
  ASSERT_TRUE(cfg.ok()) << cfg.status().to_string();
  const ModelEntry *large = cfg->find_model("large");
  EXPECT_TRUE(large->mixed());
  EXPECT_FALSE(large->remote()) << "it is loaded here";
  EXPECT_EQ(large->n_ctx, 2048u) << "the local member's context";
  ASSERT_EQ(large->replicas.size(), 2u);
  EXPECT_TRUE(large->replicas[0].local);
  EXPECT_EQ(large->replicas[0].name, "local");
  EXPECT_EQ(large->replicas[0].weight, 2);
  EXPECT_TRUE(large->replicas[0].url.empty());
  EXPECT_FALSE(large->replicas[1].local);
  EXPECT_FALSE(cfg->find_model("small")->mixed());
  // The short form, and the probe may run on a mixed model (it is local).
  cfg = load_config(write("models:\n  small:\n    path: s.gguf\n    endpoints: [local, 'http://a:1/v1']\n"
                          "  large: {path: l.gguf}\n"));
  ASSERT_TRUE(cfg.ok()) << cfg.status().to_string();
  EXPECT_TRUE(cfg->find_model("small")->mixed());
}

TEST(Config, APoolListsItsReplicasWithWeightsAndHealthChecks) {
  auto cfg = load_config(write("models:\n  small: {path: s.gguf}\n  large:\n    endpoints:\n"
                               "      - http://10.0.0.5:8080/v1\n"
                               "      - {url: 'http://10.0.0.6:8080/v1', weight: 2.5, name: big-box}\n"
                               "    health: {path: /v1/models, interval_seconds: 1.5, timeout_seconds: 0.5}\n"));
  ASSERT_TRUE(cfg.ok()) << cfg.status().to_string();
  const ModelEntry *large = cfg->find_model("large");
  ASSERT_EQ(large->replicas.size(), 2u);
  EXPECT_EQ(large->replicas[0].name, "10.0.0.5:8080");
  EXPECT_EQ(large->replicas[0].weight, 1);
  EXPECT_EQ(large->replicas[1].name, "big-box");
  EXPECT_EQ(large->replicas[1].weight, 2.5);
  EXPECT_EQ(large->health.path, "/v1/models");
  EXPECT_EQ(large->health.interval_seconds, 1.5);
  EXPECT_EQ(large->health.timeout_seconds, 0.5);
  EXPECT_TRUE(large->affinity) << "on by default";
}

TEST(Config, MissingFileIsNotFound) {
  auto cfg = load_config("/nonexistent/aio.yaml");
  ASSERT_FALSE(cfg.ok());
  EXPECT_EQ(cfg.status().code(), StatusCode::not_found);
}

} // namespace
} // namespace aio::config
