// The categories are the config's: a user adds a fourth, `chat` (conversation and creative writing), trains the
// fastText probe on their own labelled file with `aio probe train`, names it in the config and in a policy rule, and
// every surface carries it - the probe's distribution and entropy (at most log2 4 = 2 bits), the route and its record,
// /metrics, the live stats behind the dashboard, and `aio route`.
#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "support/aio_server.h"
#include "support/paths.h"
#include "support/tiny_models.h"

namespace aio::test {
namespace {
using nlohmann::json;

// A user's labelled chat requests, composed from templates and topics (the mechanism is under test here, not how
// well a probe learns chat: that needs the user's real traffic).
std::string write_chat_data(const std::string &dir, const std::vector<std::string> &topics) {
  const std::vector<std::string> en = {"Write a short poem about {}.", "Tell me a bedtime story about {}.",
                                       "I feel a bit lonely tonight, can we just talk about {}?",
                                       "Compose a haiku about {}.", "Let's chat! What do you love about {}?",
                                       "Write a cheerful limerick about {}."};
  const std::vector<std::string> zh = {"写一首关于{}的小诗。", "给我讲一个关于{}的睡前故事。", "陪我聊聊{}吧。"};
  const std::vector<std::string> zh_topics = {"大海", "秋天", "奶奶", "友谊", "小猫", "雨天", "星空", "童年"};
  const std::string path = dir + "/chat.jsonl";
  std::ofstream out(path);
  auto fill = [](std::string t, const std::string &topic) { return t.replace(t.find("{}"), 2, topic); };
  for (const auto &t : en)
    for (const auto &topic : topics) out << json({{"text", fill(t, topic)}, {"label", "chat"}}).dump() << "\n";
  for (const auto &t : zh)
    for (const auto &topic : zh_topics) out << json({{"text", fill(t, topic)}, {"label", "chat"}}).dump() << "\n";
  return path;
}

std::string four_category_config(const std::string &dir, const std::string &probe_path, const std::string &rule_category) {
  const std::string path = dir + "/aio.yaml";
  std::ofstream(path) << "categories: [code, qa, math, chat]\n"
                      << "models:\n  small: {path: " << tiny_pair().small_path << ", n_ctx: 512}\n"
                      << "  large: {path: " << tiny_pair().large_path << ", n_ctx: 512}\n"
                      << "probe:\n  kind: fasttext\n  fasttext_model: " << probe_path << "\n"
                      << "  suffix: \"\\n\\nWhich kind of request is this: code, qa, math or chat?\\nAnswer:\"\n"
                      << "  labels: {code: \" code\", qa: \" qa\", math: \" math\", chat: \" chat\"}\n"
                      << "threads: 1\n"
                      << "policy: chat-aware\n"
                      << "policies:\n  chat-aware:\n    vars: {tau: 1.0}\n    rules:\n"
                      << "      - {name: chat-small, when: {category: " << rule_category
                      << "}, route: {model: small, strategy: plain}, reason: chat -> small model}\n"
                      << "      - {when: {category: code, entropy_le: tau}, route: {model: small, strategy: plain}}\n"
                      << "      - {when: {category: [qa, math]}, route: {model: large, strategy: pld}}\n"
                      << "      - {route: {model: large, strategy: plain}}\n";
  return path;
}

class FourCategories : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    dir_ = make_temp_dir("cat4");
    const std::string chat = write_chat_data(dir_, {"the ocean", "my grandmother", "autumn leaves", "a lost cat",
                                                    "friendship", "the first day of school", "rainy Sundays",
                                                    "a lighthouse keeper", "the moon", "an old bicycle"});
    probe_ = dir_ + "/probe4.bin";
    train_ = run_aio({"probe", "train", "--data", std::string(AIO_SOURCE_DIR) + "/data/calibration.jsonl", "--data",
                      chat, "--categories", "code,qa,math,chat", "-o", probe_, "--calibrate-on", chat});
  }
  static inline std::string dir_, probe_;
  static inline ProcessResult train_;
};

TEST_F(FourCategories, TrainingEvaluationAndRouteCarryTheFourthCategory) {
  ASSERT_EQ(train_.exit_code, 0) << train_.err;
  EXPECT_NE(train_.out.find("chat"), std::string::npos) << train_.out;
  // Held-out chat requests (other topics) and the other categories: `aio probe eval` reports all four.
  const std::string heldout = write_chat_data(make_temp_dir("cat4-eval"), {"a snowy mountain", "my best friend",
                                                                           "a summer festival"});
  auto ev = run_aio({"probe", "eval", "--model", probe_, "--data", heldout, "--json"});
  ASSERT_EQ(ev.exit_code, 0) << ev.err;
  const json e = json::parse(ev.out);
  EXPECT_EQ(e["categories"], json({"code", "qa", "math", "chat"}));
  EXPECT_GE(e["recall"]["chat"].get<double>(), 0.9) << ev.out;

  const std::string cfg = four_category_config(dir_, probe_, "chat");
  auto r = run_aio({"route", "--config", cfg, "-p", "Write a short poem about the quiet harbour at night.", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json route = json::parse(r.out);
  EXPECT_EQ(route["probe"]["category"], "chat") << r.out;
  EXPECT_EQ(route["probe"]["distribution"].size(), 4u);
  EXPECT_LE(route["probe"]["entropy"].get<double>(), 2.0 + 1e-9);
  EXPECT_EQ(route["route"]["model"], "small");
  EXPECT_NE(route["route"]["reason"].get<std::string>().find("chat"), std::string::npos) << r.out;
}

TEST_F(FourCategories, APolicyNamingAnUnknownCategoryIsRefused) {
  ASSERT_EQ(train_.exit_code, 0) << train_.err;
  const std::string cfg = four_category_config(make_temp_dir("cat4-bad"), probe_, "chitchat");
  auto r = run_aio({"route", "--config", cfg, "-p", "hello"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("'chitchat'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("chat-small"), std::string::npos) << r.err;
  // A probe trained for other categories than the config's is refused too, naming what it knows.
  const std::string three = four_category_config(make_temp_dir("cat4-3"), "builtin", "chat");
  auto t = run_aio({"route", "--config", three, "-p", "hello"});
  EXPECT_NE(t.exit_code, 0);
  EXPECT_NE(t.err.find("code, qa, math"), std::string::npos) << t.err;
}

TEST_F(FourCategories, ServeRoutesRecordsAndCountsAllFour) {
  ASSERT_EQ(train_.exit_code, 0) << train_.err;
  AioServer s({}, four_category_config(dir_, probe_, "chat"));
  ASSERT_GT(s.port, 0) << s.proc->output();
  const std::vector<std::pair<std::string, std::string>> mix = {
      {"chat", "Tell me a bedtime story about a sleepy dragon."},
      {"chat", "写一首关于春天的小诗。"},
      {"code", "Write a Python function that reverses a linked list."},
      {"math", "Tom has 3 boxes of 12 pencils and gives away 7 pencils. How many pencils are left?"},
      {"qa", "Which planet is closest to the sun?\nA. Venus\nB. Mercury\nC. Mars\nD. Earth\nAnswer:"}};
  for (const auto &[label, text] : mix) {
    json body = chat_body(text);
    body["max_tokens"] = 4;
    body["aio"] = {{"label", label}}; // a shadow label: the probe's verdict is counted against it
    auto res = s.chat(body);
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body;
    const json a = json::parse(res->body)["aio"];
    EXPECT_EQ(a["probe"]["distribution"].size(), 4u) << a.dump();
    EXPECT_LE(a["probe"]["entropy"].get<double>(), 2.0 + 1e-9);
    if (label == "chat") {
      EXPECT_EQ(a["probe"]["category"], "chat") << text;
      EXPECT_EQ(a["route"]["model"], "small");
      EXPECT_EQ(res->get_header_value("x-aio-category"), "chat");
    }
  }
  auto metrics = s.client->Get("/metrics");
  ASSERT_TRUE(metrics);
  const std::string &m = metrics->body;
  EXPECT_NE(m.find("category=\"chat\""), std::string::npos) << m;
  EXPECT_NE(m.find("aio_probe_shadow_total{kind=\"fasttext\",label=\"chat\",verdict=\"chat\"}"), std::string::npos) << m;
  EXPECT_NE(m.find("aio_probe_entropy_bucket{kind=\"fasttext\",le=\"2\"}"), std::string::npos) << m;
  auto stats = s.client->Get("/v1/aio/stats");
  ASSERT_TRUE(stats);
  const json st = json::parse(stats->body);
  EXPECT_EQ(st["categories"], json({"code", "qa", "math", "chat"}));
  EXPECT_DOUBLE_EQ(st["entropy"]["edges"].back().get<double>(), 2.0); // the dashboard's histogram spans log2 4
  bool chat_routed = false;
  for (const auto &row : st["recent"]) chat_routed = chat_routed || row["category"] == "chat";
  EXPECT_TRUE(chat_routed) << st.dump();
}

} // namespace
} // namespace aio::test
