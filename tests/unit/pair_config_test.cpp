// The config two GGUFs stand for (`aio serve --small A --large B`, `aio config init`): what it says and that it loads.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "config/pair_config.h"

namespace aio::config {
namespace {

TEST(PairConfig, LoadsAsThePapersPolicyOverTheTwoModelsWithTheBuiltInProbe) {
  auto cfg = load_config_text(pair_config_yaml({.small = "/m/a.gguf", .large = "/m/b.gguf", .n_ctx = 2048}), "test");
  ASSERT_TRUE(cfg.ok()) << cfg.status().message();
  ASSERT_EQ(cfg->models.size(), 2u);
  EXPECT_EQ(cfg->find_model("small")->path, "/m/a.gguf");
  EXPECT_EQ(cfg->find_model("large")->path, "/m/b.gguf");
  EXPECT_EQ(cfg->find_model("large")->n_ctx, 2048u);
  EXPECT_EQ(cfg->policy, "aio");
  EXPECT_EQ(cfg->probe.kind, "fasttext");
  EXPECT_EQ(cfg->probe.fasttext_model, "builtin");
  EXPECT_EQ(cfg->source, "test");
  EXPECT_TRUE(cfg->find_policy("aio").ok());
}

TEST(PairConfig, AnyFileNameSurvivesTheRoundTrip) {
  // YAML's special characters in a path: quotes, a backslash, '#', ': ', braces, a leading '-', spaces, non-ASCII.
  for (const std::string name : {"/m/it's \"q8\".gguf", "/m/back\\slash.gguf", "/m/a # b.gguf", "/m/k: v, {x}.gguf",
                                 "/m/-dash [1].gguf", "/m/模型 7b.gguf"}) {
    auto cfg = load_config_text(pair_config_yaml({.small = name, .large = "/m/b.gguf"}), "test");
    ASSERT_TRUE(cfg.ok()) << name << ": " << cfg.status().message();
    EXPECT_EQ(cfg->find_model("small")->path, name);
  }
}

TEST(PairConfig, RelativePathsAreWrittenAbsolute) {
  const std::string text = pair_config_yaml({.small = "models/a.gguf", .large = "./b.gguf"});
  const std::string cwd = std::filesystem::current_path().string();
  EXPECT_NE(text.find("\"" + cwd + "/models/a.gguf\""), std::string::npos) << text;
  EXPECT_NE(text.find("\"" + cwd + "/b.gguf\""), std::string::npos) << text;
}

TEST(PairConfig, ThePackageConfigIsWhatConfigInitWrites) {
  // /etc/aio/aio.yaml (packaging/aio.yaml) is `aio config init` for models in /var/lib/aio/models: regenerate it with
  //   aio config init --small /var/lib/aio/models/small.gguf --large /var/lib/aio/models/large.gguf -o -
  // (with two such files present) when the generated text changes.
  std::ifstream in(std::string(AIO_SOURCE_DIR) + "/packaging/aio.yaml");
  std::stringstream packaged;
  packaged << in.rdbuf();
  EXPECT_EQ(packaged.str(), pair_config_yaml({.small = "/var/lib/aio/models/small.gguf",
                                              .large = "/var/lib/aio/models/large.gguf"}));
}

} // namespace
} // namespace aio::config
