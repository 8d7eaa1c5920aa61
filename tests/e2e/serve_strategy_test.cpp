// The server executes the routed decoding strategy: PLD and draft-model speculation run inside the batched engine and
// give the same greedy text as plain decoding on the same model, with their drafted/accepted counts reported.
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>

#include "support/aio_server.h"

namespace aio::test {
namespace {
using nlohmann::json;

// The tiny models repeat themselves, so PLD finds drafts in their own output.
const char *kMathPrompt = "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in "
                          "May. How many clips did Natalia sell altogether in April and May?";

json pinned(const std::string &model, const std::string &content, int max_tokens) {
  json b = chat_body(content);
  b["model"] = model;
  b["max_tokens"] = max_tokens;
  return b;
}

TEST(ServeStrategies, RoutedPldRunsInTheServerAndMatchesPlain) {
  AioServer s;
  ASSERT_GT(s.port, 0) << s.proc->output();
  json body = chat_body(kMathPrompt);
  body["max_tokens"] = 40;
  auto routed = s.chat(body);
  ASSERT_TRUE(routed);
  ASSERT_EQ(routed->status, 200) << routed->body;
  const json r = json::parse(routed->body);
  EXPECT_EQ(r["aio"]["probe"]["category"], "math");
  EXPECT_EQ(r["aio"]["route"]["model"], "large");
  EXPECT_EQ(r["aio"]["route"]["strategy"], "pld");
  EXPECT_EQ(routed->get_header_value("x-aio-strategy"), "pld");
  EXPECT_GT(r["aio"]["tokens"]["drafted"].get<int>(), 0) << r["aio"].dump();
  EXPECT_GT(r["aio"]["tokens"]["accepted"].get<int>(), 0) << r["aio"].dump();

  auto plain = s.chat(pinned("large", kMathPrompt, 40));
  ASSERT_TRUE(plain);
  ASSERT_EQ(plain->status, 200);
  EXPECT_EQ(json::parse(plain->body)["aio"]["route"]["strategy"], "plain");
  EXPECT_EQ(r["choices"][0]["message"]["content"], json::parse(plain->body)["choices"][0]["message"]["content"]);

  // Streaming a PLD request: several tokens may arrive per step, the text is the same.
  body["stream"] = true;
  auto streamed = s.chat(body);
  ASSERT_TRUE(streamed);
  bool done = false;
  EXPECT_EQ(streamed_text(streamed->body, &done), r["choices"][0]["message"]["content"].get<std::string>());
  EXPECT_TRUE(done);

  auto metrics = s.client->Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("aio_drafted_tokens_total{category=\"math\",strategy=\"pld\"}"), std::string::npos)
      << metrics->body;
  EXPECT_NE(metrics->body.find("aio_accepted_tokens_total{category=\"math\",strategy=\"pld\"}"), std::string::npos);
}

TEST(ServeStrategies, DraftPolicyRunsTheSmallModelAsDrafter) {
  AioServer s({"--policy", "draft"});
  ASSERT_GT(s.port, 0) << s.proc->output();
  json body = chat_body("Write a Python function that reverses a list.");
  body["max_tokens"] = 24;
  auto r = s.chat(body);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const json j = json::parse(r->body);
  EXPECT_EQ(j["aio"]["route"]["strategy"], "draft");
  EXPECT_EQ(j["aio"]["route"]["model"], "large");
  EXPECT_GT(j["aio"]["tokens"]["drafted"].get<int>(), 0) << j["aio"].dump();
  auto plain = s.chat(pinned("large", "Write a Python function that reverses a list.", 24));
  ASSERT_TRUE(plain);
  EXPECT_EQ(j["choices"][0]["message"]["content"], json::parse(plain->body)["choices"][0]["message"]["content"]);
  s.proc->send_signal(SIGTERM);
  EXPECT_EQ(s.proc->wait(), 0);
}

TEST(ServeStrategies, TheLmProbesKvIsReusedWhenTheSmallModelAnswers) {
  // The paper's probe: one forward pass of the small model over the request. When the small model then answers, its
  // engine starts from the probe's KV instead of prefilling the prompt again.
  const std::string config =
      serve_config("policy: all-small\npolicies:\n  all-small:\n    rules: [{when: {category: math}, "
                   "route: {model: small, strategy: pld}, reason: test}, {route: {model: small, strategy: plain}, "
                   "reason: default}]\n");
  std::string text;
  {
    std::ifstream in(config);
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  const size_t at = text.find("probe: {kind: fasttext, fasttext_model: builtin}");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, std::string("probe: {kind: fasttext, fasttext_model: builtin}").size(), "probe: {kind: lm}");
  std::ofstream(config) << text;

  AioServer s({}, config);
  ASSERT_GT(s.port, 0) << s.proc->output();
  for (const char *endpoint : {"chat", "completions"}) {
    const bool chat = std::string(endpoint) == "chat";
    json body = chat ? chat_body(kMathPrompt)
                     : json{{"model", "aio"}, {"prompt", kMathPrompt}, {"max_tokens", 12}, {"temperature", 0}};
    auto routed = chat ? s.chat(body) : s.client->Post("/v1/completions", body.dump(), "application/json");
    ASSERT_TRUE(routed);
    ASSERT_EQ(routed->status, 200) << routed->body;
    const json r = json::parse(routed->body);
    EXPECT_EQ(r["aio"]["probe"]["kind"], "lm");
    EXPECT_EQ(r["aio"]["route"]["model"], "small");
    const int prompt_tokens = r["usage"]["prompt_tokens"];
    // The probe's forward pass over the request was its prefill: the request went on in the probe's slot.
    EXPECT_EQ(r["aio"]["tokens"]["prefill_saved"].get<int>(), prompt_tokens) << endpoint << r["aio"].dump();

    body["model"] = "small";
    auto plain = chat ? s.chat(body) : s.client->Post("/v1/completions", body.dump(), "application/json");
    ASSERT_TRUE(plain);
    const json p = json::parse(plain->body);
    EXPECT_EQ(p["aio"]["tokens"]["prefill_saved"], prompt_tokens - 1) << "the same prompt again: the slot's cache";
    EXPECT_EQ(p["choices"][0], r["choices"][0]) << "reusing the probe's KV changes nothing in the answer";
  }
}

TEST(ServeStrategies, TheNextTurnOfAChatPrefillsOnlyWhatIsNew) {
  AioServer s;
  ASSERT_GT(s.port, 0) << s.proc->output();
  // Pinned to one model: what is under test is the slot's cache across turns, not how the probe reads a short
  // follow-up ("Now write it in C." is code, but not confidently enough for every probe to send it small).
  json body = chat_body("Write a Python function that reverses a list.");
  body["model"] = "small";
  auto first = s.chat(body);
  ASSERT_TRUE(first);
  ASSERT_EQ(first->status, 200);
  const json a = json::parse(first->body);
  body["messages"].push_back({{"role", "assistant"}, {"content", a["choices"][0]["message"]["content"]}});
  body["messages"].push_back({{"role", "user"}, {"content", "Now write it in C."}});
  auto second = s.chat(body);
  ASSERT_TRUE(second);
  ASSERT_EQ(second->status, 200) << second->body;
  const json b = json::parse(second->body);
  ASSERT_EQ(b["aio"]["route"]["model"], a["aio"]["route"]["model"]);
  EXPECT_GE(b["aio"]["tokens"]["prefill_saved"].get<int>(), a["usage"]["prompt_tokens"].get<int>() - 1)
      << "the first turn's prompt is still in the slot's KV cache: " << b["aio"].dump();
  // As the OpenAI API reports it: the first turn found nothing cached, the second its predecessor's prompt.
  EXPECT_EQ(a["usage"]["prompt_tokens_details"]["cached_tokens"], 0) << a["usage"].dump();
  EXPECT_EQ(b["usage"]["prompt_tokens_details"]["cached_tokens"], b["aio"]["tokens"]["prompt_cached"]) << b.dump();
  EXPECT_GE(b["usage"]["prompt_tokens_details"]["cached_tokens"].get<int>(),
            a["usage"]["prompt_tokens"].get<int>() - 1) << b["usage"].dump();
  EXPECT_LT(b["usage"]["prompt_tokens_details"]["cached_tokens"].get<int>(), b["usage"]["prompt_tokens"].get<int>());
}

TEST(ServeStrategies, UnknownPolicyIsRefusedAtStart) {
  auto r = run_aio({"serve", "--config", serve_config(), "--port", "0", "--policy", "fastest"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("fastest"), std::string::npos) << r.err;
}

// Shadow labels: a request carries its true category; the oracle routes on it while the configured probe still runs,
// its verdict recorded beside the label and counted in /metrics (a probe trialled on live traffic).
TEST(ServeStrategies, ShadowLabelsRouteTheOracleAndCountTheProbesVerdicts) {
  AioServer s({"--policy", "oracle"});
  ASSERT_GT(s.port, 0) << s.proc->output();
  json body = chat_body("Write a Python function that reverses a list.");
  body["aio"] = {{"label", "qa"}}; // the label decides (a code-looking request said to be qa goes large)
  auto r = s.chat(body);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const json j = json::parse(r->body);
  EXPECT_EQ(j["aio"]["route"]["model"], "large");
  EXPECT_EQ(j["aio"]["true_label"], "qa");
  EXPECT_EQ(j["aio"]["probe"]["kind"], "fasttext");
  EXPECT_EQ(j["aio"]["probe"]["category"], "code") << "the probe's own verdict is recorded";
  EXPECT_TRUE(j["aio"]["timings_ms"].contains("probe_wait"));
  body["aio"] = {{"label", "code"}};
  auto small = s.chat(body);
  ASSERT_TRUE(small && small->status == 200);
  EXPECT_EQ(json::parse(small->body)["aio"]["route"]["model"], "small");

  auto metrics = s.client->Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find(R"(aio_probe_shadow_total{kind="fasttext",label="qa",verdict="code"} 1)"),
            std::string::npos) << metrics->body;
  EXPECT_NE(metrics->body.find(R"(aio_probe_shadow_total{kind="fasttext",label="code",verdict="code"} 1)"),
            std::string::npos);

  // Without a label the oracle cannot route; a label that is no category, or another key under aio, is refused.
  auto unlabelled = s.chat(chat_body("hello"));
  ASSERT_TRUE(unlabelled);
  EXPECT_EQ(unlabelled->status, 400) << unlabelled->body;
  json bad = chat_body("hello");
  bad["aio"] = {{"label", "poetry"}};
  auto wrong = s.chat(bad);
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 400);
  EXPECT_NE(wrong->body.find("not a category"), std::string::npos) << wrong->body;
  bad["aio"] = {{"lable", "qa"}};
  auto typo = s.chat(bad);
  ASSERT_TRUE(typo);
  EXPECT_EQ(typo->status, 400);
  EXPECT_NE(typo->body.find("aio.lable"), std::string::npos) << typo->body;
}

// A request may name a policy (`aio.policy`) instead of the serving one: an A/B trial on live traffic, or a strategy
// asked for. An unknown one is a 400 listing the policies; a pinned model with a policy is a 400 too.
TEST(ServeStrategies, ARequestMayNameItsPolicy) {
  AioServer s; // serving policy: aio
  ASSERT_GT(s.port, 0) << s.proc->output();
  json body = chat_body("Write a Python function that reverses a list.");
  body["max_tokens"] = 4;
  auto served = s.chat(body);
  ASSERT_TRUE(served && served->status == 200);
  EXPECT_EQ(json::parse(served->body)["aio"]["route"]["policy"], "aio");
  body["aio"] = {{"policy", "draft"}};
  auto drafted = s.chat(body);
  ASSERT_TRUE(drafted);
  ASSERT_EQ(drafted->status, 200) << drafted->body;
  const json d = json::parse(drafted->body);
  EXPECT_EQ(d["aio"]["route"]["policy"], "draft");
  EXPECT_EQ(d["aio"]["route"]["strategy"], "draft");
  EXPECT_EQ(d["aio"]["route"]["model"], "large");
  body["aio"] = {{"policy", "fastest"}};
  auto unknown = s.chat(body);
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 400);
  EXPECT_NE(unknown->body.find("no policy named 'fastest'"), std::string::npos) << unknown->body;
  body["model"] = "small";
  body["aio"] = {{"policy", "draft"}};
  auto pinned = s.chat(body);
  ASSERT_TRUE(pinned);
  EXPECT_EQ(pinned->status, 400);
  EXPECT_NE(pinned->body.find("aio.policy"), std::string::npos) << pinned->body;
}

} // namespace
} // namespace aio::test
