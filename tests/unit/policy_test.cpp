// The paper's rule and every built-in baseline and ablation, at and around their boundaries; policy-file errors.
#include <gtest/gtest.h>

#include <fstream>

#include "policy/calibrate.h"
#include "policy/policy_config.h"
#include "probe/entropy.h"
#include "support/paths.h"

namespace aio::policy {
namespace {

// A probe result with the given argmax category and entropy (the distribution itself does not matter to policies).
ProbeResult probe_of(const std::string &category, double entropy) {
  ProbeResult p;
  p.probe_kind = "test";
  p.categories = {"code", "qa", "math"};
  p.distribution = {0, 0, 0};
  p.argmax = static_cast<int32_t>(std::find(p.categories.begin(), p.categories.end(), category) - p.categories.begin());
  p.distribution[p.argmax] = 1;
  p.entropy_bits = entropy;
  return p;
}

Route route(const std::string &policy, const std::string &category, double entropy, int32_t ctx,
            std::optional<std::string> label = std::nullopt, uint64_t id = 0) {
  const ProbeResult p = probe_of(category, entropy);
  auto r = decide(builtin_policies().at(policy), {&p, ctx, label, id}, StrategyParams{});
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  return r.ok() ? *r : Route{};
}

std::string where(const Route &r) { return r.model + "/" + strategy_name(r.strategy); }

TEST(AioPolicy, ConfidentShortCodeGoesToTheSmallModel) {
  EXPECT_EQ(where(route("aio", "code", 0.1, 100)), "small/plain");
  EXPECT_EQ(route("aio", "code", 0.1, 100).rule, "confident-short-code");
}

TEST(AioPolicy, ContextBoundaryIs2048Inclusive) {
  EXPECT_EQ(where(route("aio", "code", 0.1, 2048)), "small/plain");
  EXPECT_EQ(where(route("aio", "code", 0.1, 2049)), "large/plain");
}

TEST(AioPolicy, EntropyBoundaryIsTauInclusive) {
  EXPECT_EQ(where(route("aio", "code", 0.45, 10)), "small/plain");
  EXPECT_EQ(where(route("aio", "code", 0.4500001, 10)), "large/plain");
}

TEST(AioPolicy, QaAndMathGoToTheLargeModelWithPld) {
  for (const char *cat : {"qa", "math"}) {
    EXPECT_EQ(where(route("aio", cat, 0.0, 10)), "large/pld") << cat;
    EXPECT_EQ(where(route("aio", cat, 1.5, 10)), "large/pld") << cat << " uncertain";
    EXPECT_EQ(where(route("aio", cat, 0.0, 30000)), "large/pld") << cat << " long";
  }
}

TEST(AioPolicy, LongOrUncertainCodeNeverGetsPld) {
  EXPECT_EQ(where(route("aio", "code", 0.0, 32768)), "large/plain");
  EXPECT_EQ(where(route("aio", "code", 1.58, 10)), "large/plain");
}

TEST(AioPolicy, ReasonSaysWhy) {
  const Route r = route("aio", "code", 0.2, 50);
  EXPECT_NE(r.reason.find("category code"), std::string::npos) << r.reason;
  EXPECT_NE(r.reason.find("context 50 <= 2048"), std::string::npos) << r.reason;
  EXPECT_NE(r.reason.find("entropy 0.2 <= 0.45 bits"), std::string::npos) << r.reason;
  EXPECT_EQ(r.policy, "aio");
}

TEST(Baselines, StaticOnesIgnoreTheProbe) {
  for (const char *cat : {"code", "qa", "math"}) {
    EXPECT_EQ(where(route("static-small", cat, 1.5, 9999)), "small/plain");
    EXPECT_EQ(where(route("static-large", cat, 0.0, 1)), "large/plain");
    EXPECT_EQ(where(route("static-small-pld", cat, 0.0, 1)), "small/pld");
    EXPECT_EQ(where(route("static-large-pld", cat, 0.0, 1)), "large/pld");
    EXPECT_EQ(where(route("quant", cat, 0.0, 1)), "quant/plain");
  }
}

TEST(Baselines, DraftUsesTheSmallModelToDraftForTheLarge) {
  const Route r = route("draft", "qa", 0.0, 10);
  EXPECT_EQ(where(r), "large/draft");
  EXPECT_EQ(r.draft_model, "small");
}

TEST(Baselines, RandomIsSeededPerRequestAndRoughlyHalf) {
  int small = 0;
  for (uint64_t id = 0; id < 1000; ++id) {
    const Route a = route("random", "code", 0.0, 10, std::nullopt, id);
    EXPECT_EQ(a.model, route("random", "code", 0.0, 10, std::nullopt, id).model) << "not reproducible";
    small += a.model == "small";
  }
  EXPECT_GT(small, 430);
  EXPECT_LT(small, 570);
}

TEST(Baselines, RandomProbabilityIsAVariable) {
  Policy p = builtin_policies().at("random");
  ASSERT_TRUE(p.set_var("p_small", 0.0).ok());
  const ProbeResult probe = probe_of("code", 0);
  for (uint64_t id = 0; id < 50; ++id) EXPECT_EQ(decide(p, {&probe, 1, {}, id}, {})->model, "large");
  ASSERT_TRUE(p.set_var("p_small", 1.0).ok());
  for (uint64_t id = 0; id < 50; ++id) EXPECT_EQ(decide(p, {&probe, 1, {}, id}, {})->model, "small");
}

TEST(Baselines, OracleRoutesOnTheTrueLabelNotTheProbe) {
  EXPECT_EQ(where(route("oracle", "qa", 1.5, 10, "code")), "small/plain");
  EXPECT_EQ(where(route("oracle", "code", 0.0, 10, "math")), "large/pld");
  EXPECT_EQ(where(route("oracle", "code", 0.0, 5000, "code")), "large/plain");
  const ProbeResult p = probe_of("code", 0);
  auto r = decide(builtin_policies().at("oracle"), {&p, 10, std::nullopt, 0}, {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("true label"), std::string::npos);
}

TEST(Ablations, NoModelRoutingKeepsThePldSwitch) {
  EXPECT_EQ(where(route("no-model-routing", "code", 0.0, 10)), "large/plain");
  EXPECT_EQ(where(route("no-model-routing", "qa", 0.0, 10)), "large/pld");
  EXPECT_EQ(where(route("no-model-routing", "math", 1.0, 10)), "large/pld");
}

TEST(Ablations, NoPldSwitchKeepsModelRouting) {
  EXPECT_EQ(where(route("no-pld-switch", "code", 0.1, 10)), "small/plain");
  EXPECT_EQ(where(route("no-pld-switch", "qa", 0.1, 10)), "large/plain");
  EXPECT_EQ(where(route("no-pld-switch", "code", 0.9, 10)), "large/plain");
}

TEST(Ablations, NoEntropyFallbackSendsUncertainCodeSmall) {
  EXPECT_EQ(where(route("no-entropy-fallback", "code", 1.58, 10)), "small/plain");
  EXPECT_EQ(where(route("no-entropy-fallback", "code", 1.58, 4096)), "large/plain");
  EXPECT_EQ(where(route("no-entropy-fallback", "math", 0.0, 10)), "large/pld");
}

TEST(PolicyVars, SetVarMovesEveryThresholdThatNamesIt) {
  Policy p = builtin_policies().at("aio");
  ASSERT_TRUE(p.set_var("tau", 1.0).ok());
  const ProbeResult probe = probe_of("code", 0.9);
  EXPECT_EQ(decide(p, {&probe, 10, {}, 0}, {})->model, "small");
  EXPECT_FALSE(p.set_var("nonexistent", 1).ok());
}

// --- Load-aware routing ---

// A RouteInput whose models all report `wait_ms` of expected wait and `queued` waiting requests.
Route route_under_load(const std::string &policy, const std::string &category, double entropy, double wait_ms,
                       int32_t queued = 0, int32_t ctx = 100) {
  const ProbeResult p = probe_of(category, entropy);
  RouteInput in{&p, ctx, std::nullopt, 0};
  in.load = [=](const std::string &) { return std::optional(ModelLoad{.slots = 4, .busy = 4, .queued = queued, .wait_ms = wait_ms}); };
  auto r = decide(builtin_policies().at(policy), in, StrategyParams{});
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  return r.ok() ? *r : Route{};
}

TEST(AioLoadPolicy, WhileTheLargeModelKeepsUpItRoutesAsAioDoes) {
  for (const char *cat : {"code", "qa", "math"})
    for (double h : {0.1, 0.8, 1.5})
      for (int32_t ctx : {100, 4096}) {
        const Route load = route_under_load("aio-load", cat, h, /*wait_ms=*/1999, 0, ctx);
        EXPECT_EQ(where(load), where(route("aio", cat, h, ctx))) << cat << " " << h << " " << ctx;
        EXPECT_FALSE(load.load.has_value()) << "no load rule decided";
      }
}

TEST(AioLoadPolicy, WhileTheLargeModelIsBusyQaAndFairlySureCodeGoSmallAndMathStays) {
  const Route qa = route_under_load("aio-load", "qa", 0.3, 2500);
  EXPECT_EQ(where(qa), "small/pld");
  EXPECT_EQ(qa.rule, "busy-large-qa");
  ASSERT_TRUE(qa.load.has_value());
  EXPECT_EQ(qa.load_model, "large");
  EXPECT_DOUBLE_EQ(qa.load->wait_ms, 2500);
  EXPECT_NE(qa.reason.find("large expected wait 2500 ms > 2000 ms"), std::string::npos) << qa.reason;
  EXPECT_EQ(where(route_under_load("aio-load", "code", 0.8, 2500)), "small/plain"); // near tau: small under load
  EXPECT_EQ(route_under_load("aio-load", "code", 0.8, 2500).rule, "busy-large-code");
  EXPECT_EQ(where(route_under_load("aio-load", "code", 1.2, 2500)), "large/plain"); // too unsure while only busy
  EXPECT_EQ(where(route_under_load("aio-load", "math", 0.1, 6000)), "large/pld");   // math stays while only busy
  // Confident short code goes small by the first rule, not because of load.
  EXPECT_FALSE(route_under_load("aio-load", "code", 0.1, 1e6).load.has_value());
}

TEST(AioLoadPolicy, WhileTheLargeModelIsOverloadedEveryShortRequestGoesSmall) {
  const Route math = route_under_load("aio-load", "math", 0.1, 6001);
  EXPECT_EQ(where(math), "small/pld");
  EXPECT_EQ(math.rule, "overloaded-large");
  EXPECT_NE(math.reason.find("large expected wait 6001 ms > 6000 ms"), std::string::npos) << math.reason;
  const Route unsure = route_under_load("aio-load", "code", 1.5, 6001);
  EXPECT_EQ(where(unsure), "small/plain"); // code keeps PLD off
  EXPECT_EQ(unsure.rule, "overloaded-large-code");
  for (const char *cat : {"code", "qa", "math"}) // too long for the small one: the large model however long the wait
    EXPECT_EQ(route_under_load("aio-load", cat, 0.3, 1e6, 0, 4096).model, "large") << cat;
}

TEST(AioLoadPolicy, ItsStagesAreItsWaitThresholds) {
  EXPECT_EQ(wait_thresholds(builtin_policies().at("aio-load")), (std::vector<double>{2000, 6000}));
  EXPECT_TRUE(wait_thresholds(builtin_policies().at("aio")).empty());
}

TEST(AioLoadPolicy, AnUnknownLoadNeverFiresALoadRule) {
  const ProbeResult p = probe_of("qa", 0.3);
  RouteInput in{&p, 100, std::nullopt, 0};
  EXPECT_EQ(where(*decide(builtin_policies().at("aio-load"), in, {})), "large/pld"); // no load reader at all
  in.load = [](const std::string &) { return std::optional<ModelLoad>(); };
  EXPECT_EQ(where(*decide(builtin_policies().at("aio-load"), in, {})), "large/pld");
}

TEST(PolicyFile, LoadConditionsReadQueueBusySlotsAndWaitAndTakeVariables) {
  const std::string path = test::make_temp_dir("policy") + "/load.yaml";
  std::ofstream(path) << "policies:\n"
                         "  shed:\n"
                         "    vars: {q: 3}\n"
                         "    rules:\n"
                         "      - {name: queue, when: {load: {model: large, queued_gt: q}}, route: {model: small}}\n"
                         "      - {name: full, when: {load: {model: large, busy_gt: 7}}, route: {model: small, strategy: pld}}\n"
                         "      - route: {model: large}\n";
  auto set = load_policy_file(path);
  ASSERT_TRUE(set.ok()) << set.status().to_string();
  Policy p = set->at("shed");
  EXPECT_EQ(models_used(p), (std::vector<std::string>{"small", "large"}));
  EXPECT_TRUE(uses_load(p));
  EXPECT_FALSE(uses_load(builtin_policies().at("aio")));
  const ProbeResult probe = probe_of("qa", 0.1);
  auto at = [&](int32_t busy, int32_t queued) {
    RouteInput in{&probe, 10, std::nullopt, 0};
    std::vector<std::string> asked;
    in.load = [&](const std::string &m) {
      asked.push_back(m);
      return std::optional(ModelLoad{.slots = 8, .busy = busy, .queued = queued, .wait_ms = 0});
    };
    auto r = decide(p, in, {});
    EXPECT_TRUE(r.ok());
    for (const auto &m : asked) EXPECT_EQ(m, "large");
    return r.ok() ? r->rule : "";
  };
  EXPECT_EQ(at(8, 4), "queue");
  EXPECT_EQ(at(8, 3), "full");
  EXPECT_EQ(at(7, 3), "rule 3");
  ASSERT_TRUE(p.set_var("q", 10).ok()); // a variable moves a load threshold too
  EXPECT_EQ(at(8, 4), "full");
}

TEST(DecideWithoutProbe, OnlyWhenEveryVerdictLeadsToOneRoute) {
  const std::vector<std::string> cats = {"code", "qa", "math"};
  RouteInput in{nullptr, 100, std::nullopt, 0};
  // The paper's policy: the category always matters (short code small; long code plain, long qa/math PLD).
  EXPECT_FALSE(decide_without_probe(builtin_policies().at("aio"), in, cats, {}).has_value());
  in.n_context_tokens = 4096;
  EXPECT_FALSE(decide_without_probe(builtin_policies().at("aio"), in, cats, {}).has_value());
  // A policy whose first rule sends every long prompt to one place.
  Policy p = builtin_policies().at("aio");
  Rule long_first;
  long_first.name = "long";
  long_first.when.context_gt = Threshold{2048, ""};
  long_first.model = "large";
  p.rules.insert(p.rules.begin(), long_first);
  auto r = decide_without_probe(p, in, cats, {});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(where(*r), "large/plain");
  EXPECT_EQ(r->rule, "probe skipped");
  in.n_context_tokens = 100;
  EXPECT_FALSE(decide_without_probe(p, in, cats, {}).has_value());
  // Entropy thresholds are crossed: code just above tau goes elsewhere than code at tau.
  Policy only_code;
  only_code.name = "only-code";
  Rule sure;
  sure.when.entropy_le = Threshold{0.45, ""};
  sure.model = "small";
  Rule rest;
  rest.model = "small";
  only_code.rules = {sure, rest};
  EXPECT_TRUE(decide_without_probe(only_code, in, cats, {}).has_value()) << "both rules go to small/plain";
  only_code.rules[1].model = "large";
  EXPECT_FALSE(decide_without_probe(only_code, in, cats, {}).has_value());
}

TEST(BuiltinPolicies, AllArePresent) {
  for (const char *name : {"aio", "aio-load", "static-small", "static-large", "static-small-pld", "static-large-pld", "random",
                           "draft", "quant", "oracle", "no-model-routing", "no-pld-switch", "no-entropy-fallback"})
    EXPECT_TRUE(builtin_policies().count(name)) << name;
}

// --- Policy files written by users ---

Status load_error(const std::string &yaml_text) {
  const std::string path = test::make_temp_dir("policy") + "/my-policy.yaml";
  std::ofstream(path) << yaml_text;
  auto r = load_policy_file(path);
  return r.ok() ? Status{} : r.status();
}

TEST(PolicyFile, AUserRuleTableLoadsWithoutRecompiling) {
  const std::string path = test::make_temp_dir("policy") + "/mine.yaml";
  std::ofstream(path) << "policies:\n"
                         "  math-small:\n"
                         "    vars: {t: 0.8}\n"
                         "    rules:\n"
                         "      - {when: {category: math, entropy_le: t}, route: {model: small, strategy: pld}}\n"
                         "      - route: {model: large}\n";
  auto set = load_policy_file(path);
  ASSERT_TRUE(set.ok()) << set.status().to_string();
  const ProbeResult p = probe_of("math", 0.5);
  auto r = decide(set->at("math-small"), {&p, 10, {}, 0}, {});
  EXPECT_EQ(where(*r), "small/pld");
  EXPECT_EQ(r->rule, "rule 1");
}

TEST(PolicyFile, ARuleCanMatchRequestsThatOfferTools) {
  const std::string path = test::make_temp_dir("policy") + "/tools.yaml";
  std::ofstream(path) << "policies:\n"
                         "  tools-large:\n"
                         "    rules:\n"
                         "      - {name: tool-use, when: {tools: true}, route: {model: large, strategy: plain}}\n"
                         "      - {when: {tools: false, category: code}, route: {model: small}}\n"
                         "      - route: {model: large, strategy: pld}\n";
  auto set = load_policy_file(path);
  ASSERT_TRUE(set.ok()) << set.status().to_string();
  const ProbeResult code = probe_of("code", 0.1);
  RouteInput with_tools{&code, 10, {}, 0, /*has_tools=*/true};
  auto r = decide(set->at("tools-large"), with_tools, {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(where(*r), "large/plain");
  EXPECT_EQ(r->rule, "tool-use");
  EXPECT_NE(r->reason.find("offers tools"), std::string::npos) << r->reason;
  auto plain = decide(set->at("tools-large"), {&code, 10, {}, 0, false}, {});
  EXPECT_EQ(where(*plain), "small/plain");
}

TEST(PolicyFile, ErrorsNameFileLineAndProblem) {
  struct Case {
    std::string yaml, expect_line, expect_text;
  };
  const std::vector<Case> cases = {
      {"policies:\n  p:\n    rules:\n      - {when: {entropy_lt: 0.4}, route: {model: large}}\n      - route: {model: large}\n",
       ":4:", "unknown key 'entropy_lt'"},
      {"policies:\n  p:\n    rules:\n      - route: {model: large, strategy: turbo}\n", ":4:", "unknown strategy 'turbo'"},
      {"policies:\n  p:\n    rules:\n      - {when: {category: code}, route: {model: small}}\n", ":4:",
       "add a final rule without 'when'"},
      {"policies:\n  p:\n    rules:\n      - {when: {entropy_le: tau}, route: {model: small}}\n      - route: {model: large}\n",
       ":4:", "'tau' is neither a number nor a variable"},
      {"policies:\n  p:\n    rules:\n      - {when: {category: code}}\n", ":4:", "has no 'route'"},
      {"policies:\n  p:\n    rules: []\n", ":3:", "non-empty list"},
      {"policies:\n  p:\n    rules:\n      - route: {model: large, strategy: draft}\n", ":4:", "needs a draft_model"},
      {"policies:\n  p:\n    rules:\n      - route: {model: large\n", ":5:", "YAML syntax error"},
      {"policies:\n  p:\n    rules:\n      - {when: {random_lt: 2}, route: {model: large}}\n      - route: {model: large}\n",
       ":4:", "probability"},
      {"policies:\n  p:\n    rules:\n      - {when: {tools: maybe}, route: {model: large}}\n      - route: {model: large}\n",
       ":4:", "tools must be true"},
      {"policies:\n  p:\n    rules:\n      - {when: {tools: true}, route: {model: large}}\n", ":4:",
       "add a final rule without 'when'"},
      {"policies:\n  p:\n    rules:\n      - {when: {load: {model: large}}, route: {model: small}}\n"
       "      - route: {model: large}\n",
       ":4:", "needs a threshold: queued_gt, busy_gt or wait_ms_gt"},
      {"policies:\n  p:\n    rules:\n      - {when: {load: {wait_ms_gt: 5}}, route: {model: small}}\n"
       "      - route: {model: large}\n",
       ":4:", "has no 'model'"},
      {"policies:\n  p:\n    rules:\n      - {when: {load: {model: large, wait_gt: 5}}, route: {model: small}}\n"
       "      - route: {model: large}\n",
       ":4:", "unknown key 'wait_gt'"},
      {"policies:\n  p:\n    rules:\n      - {when: {load: {model: large, queued_gt: -1}}, route: {model: small}}\n"
       "      - route: {model: large}\n",
       ":4:", "must not be negative"},
      {"policies:\n  p:\n    rules:\n      - {when: {load: large}, route: {model: small}}\n      - route: {model: large}\n",
       ":4:", "must be a mapping"},
  };
  for (const auto &c : cases) {
    Status s = load_error(c.yaml);
    ASSERT_FALSE(s.ok()) << c.yaml;
    EXPECT_NE(s.message().find("my-policy.yaml" + c.expect_line), std::string::npos) << s.message();
    EXPECT_NE(s.message().find(c.expect_text), std::string::npos) << s.message();
  }
}

TEST(PolicyFile, MissingFileIsNotFound) {
  auto r = load_policy_file("/nonexistent/policy.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::not_found);
}

TEST(ModelsUsed, ListsRoutedAndDraftModels) {
  EXPECT_EQ(models_used(builtin_policies().at("aio")), (std::vector<std::string>{"small", "large"}));
  EXPECT_EQ(models_used(builtin_policies().at("draft")), (std::vector<std::string>{"large", "small"}));
}

// The tau search on known probe results: at tau 0 nothing is confident enough for the small model; as tau grows the
// confident code requests go small, and the uncertain QA request (which the oracle sends large) only past its
// entropy - where the misroute bound rules that tau out.
TEST(Calibrate, TheSearchPicksTheLargestFeasibleSmallShare) {
  std::vector<LabeledProbe> probed = {{probe_of("code", 0.2), "code"},
                                      {probe_of("code", 0.9), "code"},
                                      {probe_of("code", 0.95), "qa"},
                                      {probe_of("qa", 0.1), "qa"}};
  for (auto &p : probed) p.probe.n_context_tokens = 100;
  const auto &set = builtin_policies();
  auto s = search_tau(set.at("aio"), set.at("oracle"), probed, 3, StrategyParams{},
                      {.var = "tau", .step = 0.5, .max_wrong_small = 0.0, .small_model = "small"});
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  ASSERT_EQ(s->rows.size(), 4u); // 0, 0.5, 1.0, 1.5
  EXPECT_EQ(s->rows[0].small_share, 0.0);
  EXPECT_EQ(s->rows[1].correct_small, 1);   // tau 0.5: the confident code request
  EXPECT_TRUE(s->rows[1].feasible);
  EXPECT_EQ(s->rows[2].correct_small, 2);   // tau 1.0: both code requests, but also the qa one at 0.95
  EXPECT_FALSE(s->rows[2].feasible);
  EXPECT_DOUBLE_EQ(s->rows[2].wrong_small, 0.5);
  ASSERT_TRUE(s->chosen.has_value());
  EXPECT_DOUBLE_EQ(*s->chosen, 0.5);
  auto none = search_tau(set.at("static-large"), set.at("oracle"), probed, 3, StrategyParams{},
                         {.small_model = "small"});
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("no variable 'tau'"), std::string::npos);
}

} // namespace
} // namespace aio::policy
