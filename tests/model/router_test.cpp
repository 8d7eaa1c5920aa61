// The lm probe and the Router over the tiny pair: probe properties, KV reuse, and routed generation.
#include <gtest/gtest.h>

#include <cmath>
#include <condition_variable>
#include <fstream>
#include <mutex>

#include "core/router.h"
#include "support/paths.h"
#include "support/tiny_models.h"

namespace aio::core {
namespace {

std::string write_config(const std::string &extra = "") {
  const std::string path = test::make_temp_dir("router") + "/aio.yaml";
  std::ofstream(path) << "models:\n  small: {path: " << test::tiny_pair().small_path << ", n_ctx: 1024}\n"
                      << "  large: {path: " << test::tiny_pair().large_path << ", n_ctx: 1024}\n"
                      << "threads: 1\n"
                      << extra;
  return path;
}

std::unique_ptr<Router> make_router(const std::string &extra = "") {
  auto cfg = config::load_config(write_config(extra));
  EXPECT_TRUE(cfg.ok()) << cfg.status().to_string();
  auto r = Router::create(std::move(*cfg));
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  return r.ok() ? std::move(*r) : nullptr;
}

using test::greedy;

TEST(LmProbe, DistributionSumsToOneAndIsDeterministic) {
  auto router = make_router();
  ASSERT_TRUE(router);
  for (const char *prompt : {"def add(a, b):", "What is the capital of France?", "Solve 3x + 5 = 20.", "x"}) {
    auto a = router->route({.prompt = prompt});
    auto b = router->route({.prompt = prompt});
    ASSERT_TRUE(a.ok() && b.ok());
    const ProbeResult &p = a->probe;
    EXPECT_EQ(p.probe_kind, "lm");
    ASSERT_EQ(p.distribution.size(), 3u);
    EXPECT_NEAR(p.distribution[0] + p.distribution[1] + p.distribution[2], 1.0, 1e-9);
    EXPECT_GE(p.entropy_bits, 0.0);
    EXPECT_LE(p.entropy_bits, std::log2(3.0) + 1e-9);
    EXPECT_EQ(p.distribution, b->probe.distribution) << prompt;
    EXPECT_EQ(p.argmax, std::max_element(p.distribution.begin(), p.distribution.end()) - p.distribution.begin());
    EXPECT_GT(p.n_context_tokens, 0);
    EXPECT_GT(p.probe_ms, 0);
  }
}

TEST(LmProbe, LabelsMustStartWithDifferentTokens) {
  auto model = *engine::Model::load({.path = test::tiny_pair().small_path});
  probe::LmProbeParams p;
  p.labels = {" code", " code", " math"};
  auto probe = probe::LmProbe::create(model, p);
  ASSERT_FALSE(probe.ok());
  EXPECT_NE(probe.status().message().find("different tokens"), std::string::npos);
}

TEST(KvReuse, GivesTheSameContinuationAsAFreshPrefill) {
  auto router = make_router();
  ASSERT_TRUE(router);
  // Every request to the small model, math with PLD: the verdict decides the strategy, so the probe runs.
  policy::Policy probe_then_small;
  probe_then_small.name = "probe-then-small";
  policy::Rule math, rest;
  math.when.categories = {"math"};
  math.model = rest.model = "small";
  math.strategy = Strategy::pld;
  probe_then_small.rules = {math, rest};
  ASSERT_TRUE(router->add_policy(probe_then_small).ok());
  for (const char *prompt : {"def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n",
                             "Write a function that checks whether a string is a palindrome.", "print("}) {
    // A policy that reads the probe and then sends everything to the small model, on which the probe ran: its KV is
    // reused.
    auto routed = router->generate({.prompt = prompt, .policy = "probe-then-small"}, greedy(24));
    ASSERT_TRUE(routed.ok()) << routed.status().to_string();
    // The probe's forward pass over the request was its prefill: the request went on in the probe's slot.
    EXPECT_EQ(routed->record.generation->n_prefill_tokens_saved, routed->record.generation->n_prompt_tokens)
        << prompt;
    // The same prompt on a fresh engine of the same model, no probe.
    auto model = *engine::Model::load({.path = test::tiny_pair().small_path});
    auto session = test::one_slot_engine(model, 1024);
    auto fresh = exec::generate(*session, *model->tokenize(prompt), greedy(24));
    ASSERT_TRUE(fresh.ok());
    EXPECT_EQ(routed->generation.tokens, fresh->tokens) << prompt;
    EXPECT_EQ(fresh->n_prefill_tokens_saved, 0);
  }
}

TEST(Router, RoutesToTheModelAndStrategyThePolicyChose) {
  auto router = make_router();
  ASSERT_TRUE(router);
  struct Case {
    const char *policy, *model, *strategy;
  };
  for (const Case c : {Case{"static-small", "small", "plain"}, Case{"static-large", "large", "plain"},
                       Case{"static-large-pld", "large", "pld"}, Case{"draft", "large", "draft"}}) {
    // Each case its own prompt (the policy's name first): a repeated prompt would be served from the slot's cache.
    auto out = router->generate({.prompt = std::string(c.policy) + ": the the the the the the", .policy = c.policy},
                                greedy(16));
    ASSERT_TRUE(out.ok()) << out.status().to_string();
    EXPECT_EQ(out->record.route.model, c.model);
    EXPECT_STREQ(strategy_name(out->record.route.strategy), c.strategy);
    EXPECT_EQ(out->record.generation->n_generated, 16);
    // These policies never read the probe, so it does not run.
    EXPECT_EQ(out->record.probe.probe_kind, "none") << c.policy;
    EXPECT_EQ(out->record.probe.probe_ms, 0) << c.policy;
    if (std::string(c.strategy) != "plain") { EXPECT_GT(out->record.generation->n_drafted, 0) << c.policy; }
  }
  // Routing is lossless: the large model's output is the same whichever strategy decodes it.
  auto plain = router->generate({.prompt = "the the the the the the", .policy = "static-large"}, greedy(16));
  auto pld = router->generate({.prompt = "the the the the the the", .policy = "static-large-pld"}, greedy(16));
  auto draft = router->generate({.prompt = "the the the the the the", .policy = "draft"}, greedy(16));
  EXPECT_EQ(plain->generation.tokens, pld->generation.tokens);
  EXPECT_EQ(plain->generation.tokens, draft->generation.tokens);
}

TEST(Router, RecordsEveryStage) {
  auto router = make_router();
  ASSERT_TRUE(router);
  auto out = router->generate({.messages = {{"user", "Explain recursion."}}}, greedy(8));
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  const RouteRecord &r = out->record;
  EXPECT_EQ(r.route.policy, "aio");
  EXPECT_FALSE(r.route.reason.empty());
  EXPECT_GE(r.probe.template_ms, 0);
  EXPECT_GT(r.probe.probe_ms, 0);
  EXPECT_GE(r.route_ms, 0);
  EXPECT_GE(r.switch_ms, 0);
  ASSERT_TRUE(r.generation.has_value());
  EXPECT_GT(r.generation->prefill_ms, 0);
  EXPECT_GT(r.generation->decode_ms, 0);
  EXPECT_GT(r.generation->n_prompt_tokens, r.probe.n_context_tokens - 1);
  EXPECT_EQ(r.generation->finish_reason, FinishReason::max_tokens);
}

TEST(Router, OracleNeedsALabelAndUsesIt) {
  auto router = make_router();
  ASSERT_TRUE(router);
  auto no_label = router->route({.prompt = "hi", .policy = "oracle"});
  EXPECT_FALSE(no_label.ok());
  auto code = router->route({.prompt = "hi", .policy = "oracle", .true_label = "code"});
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(code->route.model, "small");
  auto qa = router->route({.prompt = "hi", .policy = "oracle", .true_label = "qa"});
  EXPECT_EQ(qa->route.model, "large");
}

// Shadow labels: the oracle routes on the label while the configured probe still runs and is recorded.
TEST(Router, AShadowLabelRoutesTheOracleAndStillRunsTheProbe) {
  auto router = make_router();
  ASSERT_TRUE(router);
  Request req{.prompt = "def add(a, b):", .policy = "oracle", .true_label = "qa", .shadow_probe = true};
  auto r = router->route(req);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->route.model, "large");
  EXPECT_EQ(r->probe.probe_kind, "lm");
  EXPECT_EQ(r->true_label, "qa");
  EXPECT_EQ(r->probe.distribution.size(), 3u);
  req.shadow_probe = false;
  EXPECT_EQ(router->route(req)->probe.probe_kind, "none") << "the oracle reads no probe unless asked";
  req.true_label = "poetry";
  auto bad = router->route(req);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("not a category"), std::string::npos) << bad.status().message();
}

// A model's own `slots` overrides the server's: its engine decodes that many sequences together, and load-aware
// policies read that many.
TEST(Router, AModelsOwnSlotsOverrideTheServers) {
  const std::string path = test::make_temp_dir("router-slots") + "/aio.yaml";
  std::ofstream(path) << "models:\n  small: {path: " << test::tiny_pair().small_path << ", n_ctx: 256, slots: 5}\n"
                      << "  large: {path: " << test::tiny_pair().large_path << ", n_ctx: 256}\n"
                      << "threads: 1\nprobe: {kind: fasttext, fasttext_model: builtin}\n";
  auto cfg = config::load_config(path);
  ASSERT_TRUE(cfg.ok()) << cfg.status().to_string();
  auto router = Router::create(std::move(*cfg), {.n_slots = 2});
  ASSERT_TRUE(router.ok()) << router.status().to_string();
  EXPECT_EQ((*router)->load("small").slots, 5);
  EXPECT_EQ((*router)->load("large").slots, 2) << "no slots of its own: the server's";
}

// A step holds every sequence's next token: the router raises a small batch to each model's slots and, on the lm
// probe's model, its probe lane too (once the server raised it to --slots only, and the probe's engine refused).
TEST(Router, EachEnginesBatchHoldsItsSlotsAndProbeLanes) {
  auto cfg = config::load_config(write_config("probe: {kind: lm, model: small, lanes: 1}\n"));
  ASSERT_TRUE(cfg.ok()) << cfg.status().to_string();
  auto router = Router::create(std::move(*cfg), {.n_slots = 3, .n_batch = 3});
  ASSERT_TRUE(router.ok()) << router.status().to_string();
  auto out = (*router)->generate({.prompt = "Write a Python function that reverses a list."}, greedy(4));
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ(out->record.probe.probe_kind, "lm");
  EXPECT_FALSE(Router::create(*config::load_config(write_config()), {.n_slots = 3, .n_batch = 0}).ok());
}

// Many requests in flight at once (the server's way, and `aio bench --concurrency`): each is routed by the lm probe
// inside the small model's engine and finishes with its own route.
TEST(Router, ConcurrentRequestsAreProbedAndRoutedInsideTheEngines) {
  auto cfg = config::load_config(write_config());
  ASSERT_TRUE(cfg.ok());
  auto router = Router::create(std::move(*cfg), {.n_slots = 4});
  ASSERT_TRUE(router.ok()) << router.status().to_string();
  const std::vector<std::string> prompts = {"def add(a, b):", "What is the capital of France?", "Solve 3x + 5 = 20.",
                                            "Write a haiku.", "print(", "Name three rivers."};
  std::mutex mu;
  std::condition_variable cv;
  int n_done = 0;
  std::vector<std::optional<Expected<engine::GenerationRecord>>> results(prompts.size());
  std::vector<RouteRecord> routes(prompts.size());
  for (size_t i = 0; i < prompts.size(); ++i) {
    Callbacks cb;
    cb.on_route = [&, i](const RouteRecord &r) { routes[i] = r; };
    cb.on_done = [&, i](Expected<engine::GenerationRecord> r) {
      std::lock_guard lock(mu);
      results[i] = std::move(r);
      ++n_done;
      cv.notify_all();
    };
    (*router)->submit({.prompt = prompts[i]}, greedy(6), std::move(cb));
  }
  std::unique_lock lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(120), [&] { return n_done == static_cast<int>(prompts.size()); }));
  for (size_t i = 0; i < prompts.size(); ++i) {
    ASSERT_TRUE(results[i]->ok()) << results[i]->status().to_string();
    EXPECT_EQ((*results[i])->n_generated, 6);
    EXPECT_EQ(routes[i].probe.probe_kind, "lm");
    EXPECT_FALSE(routes[i].route.model.empty());
    EXPECT_GE(routes[i].probe.wait_ms, 0);
  }
}

TEST(Router, MissingModelFileSaysWhatToDo) {
  auto cfg = config::load_config(write_config());
  ASSERT_TRUE(cfg.ok());
  cfg->models[0].path = "/nonexistent/small.gguf";
  auto r = Router::create(std::move(*cfg));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::not_found);
  EXPECT_NE(r.status().message().find("models.small.path"), std::string::npos) << r.status().message();
}

TEST(Router, APinnedRequestSkipsProbeAndPolicy) {
  auto router = make_router();
  ASSERT_TRUE(router);
  auto out = router->generate({.prompt = "What is the capital of France?", .pinned_model = "small"}, greedy(6));
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ(out->record.route.model, "small");
  EXPECT_EQ(out->record.route.policy, "pinned");
  EXPECT_EQ(out->record.probe.probe_kind, "none");
  EXPECT_EQ(out->record.probe.probe_ms, 0);
  EXPECT_EQ(out->generation.n_generated, 6);
  auto bad = router->route({.prompt = "x", .pinned_model = "medium"});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("configured: large, small"), std::string::npos) << bad.status().message();
}

TEST(Router, EmptyPromptIsRefused) {
  auto router = make_router();
  ASSERT_TRUE(router);
  auto r = router->route({.prompt = ""});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("empty"), std::string::npos);
}

TEST(Router, PromptTooLongForTheModelsIsAClearError) {
  std::string text;
  for (int i = 0; i < 1500; ++i) text += "word ";
  // The probe reads its window of the request (512 tokens) and routes it; the answering model cannot take it.
  auto router = make_router();
  ASSERT_TRUE(router);
  auto r = router->generate({.prompt = text}, greedy(4));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::context_overflow);
  // A probe told to read whole requests cannot read this one.
  auto whole = make_router("probe: {kind: lm, read_tokens: 0}\n");
  ASSERT_TRUE(whole);
  auto w = whole->route({.prompt = text});
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), StatusCode::context_overflow);
}

// Past probe.read_tokens the lm probe reads the request's head and tail; the model that answers gets all of it.
TEST(Router, ALongRequestIsProbedOnItsHeadAndTailAndAnsweredOnTheWhole) {
  auto router = make_router("probe: {kind: lm, read_tokens: 32}\npolicy: probe-then-small\npolicies:\n"
                            "  probe-then-small:\n    rules:\n"
                            "      - {when: {category: math}, route: {model: small, strategy: pld}}\n"
                            "      - {route: {model: small, strategy: plain}}\n");
  ASSERT_TRUE(router);
  std::string text = "Read this list and answer at the end:";
  for (int i = 0; i < 120; ++i) text += " item" + std::to_string(i);
  text += ". Which item came first?";
  auto routed = router->generate({.prompt = text}, greedy(8));
  ASSERT_TRUE(routed.ok()) << routed.status().to_string();
  EXPECT_EQ(routed->record.probe.probe_kind, "lm");
  EXPECT_EQ(routed->record.route.model, "small");
  EXPECT_GT(routed->record.probe.n_context_tokens, 200) << "the record counts the whole request";
  EXPECT_EQ(routed->generation.n_prompt_tokens, routed->record.probe.n_context_tokens);
  EXPECT_GE(routed->generation.n_prefill_tokens_saved, 20) << "the head the probe read was not prefilled again";
  // The same request pinned to the small model (a fresh prefill of everything): the same answer.
  auto pinned = router->generate({.prompt = text + " ", .pinned_model = "small"}, greedy(8));
  auto reference = router->generate({.prompt = text, .pinned_model = "small"}, greedy(8));
  ASSERT_TRUE(pinned.ok() && reference.ok());
  EXPECT_EQ(routed->generation.tokens, reference->generation.tokens);
}

// When every verdict the probe could give leads to one route, it is not run (here: long prompts go large first).
TEST(Router, APolicyNoVerdictCanChangeSkipsTheProbe) {
  auto router = make_router("probe: {kind: lm}\npolicy: long-first\npolicies:\n  long-first:\n    rules:\n"
                            "      - {when: {context_gt: 64}, route: {model: large, strategy: plain}}\n"
                            "      - {when: {category: code, entropy_le: 0.5}, route: {model: small, strategy: plain}}\n"
                            "      - {route: {model: large, strategy: pld}}\n");
  ASSERT_TRUE(router);
  std::string text = "Summarize:";
  for (int i = 0; i < 100; ++i) text += " word" + std::to_string(i);
  auto long_one = router->route({.prompt = text});
  ASSERT_TRUE(long_one.ok()) << long_one.status().to_string();
  EXPECT_EQ(long_one->probe.probe_kind, "none");
  EXPECT_EQ(long_one->route.model, "large");
  EXPECT_EQ(long_one->route.rule, "probe skipped");
  EXPECT_NE(long_one->route.reason.find("the probe did not run"), std::string::npos) << long_one->route.reason;
  auto short_one = router->route({.prompt = "Write a Python function that adds two numbers."});
  ASSERT_TRUE(short_one.ok());
  EXPECT_EQ(short_one->probe.probe_kind, "lm") << "a short prompt's route depends on its category";
  // A shadow label asks for the probe's verdict: it runs even then.
  auto shadow = router->route({.prompt = text, .true_label = "qa", .shadow_probe = true});
  ASSERT_TRUE(shadow.ok());
  EXPECT_EQ(shadow->probe.probe_kind, "lm");
}

// A cascade: fastText reads every request; the lm probe reads one only when fastText's entropy is above the
// threshold, and then its verdict is the one routed on (and a request the small model answers goes on in the lm
// probe's slot, as with the lm probe alone).
TEST(Router, ACascadeSendsOnlyWhatFastTextIsUnsureOfToTheLmProbe) {
  const char *prompts[] = {"def add(a, b):\n    return a + b\n\nWrite tests for this function.",
                           "What is the capital of France?", "Solve for x: 3x + 5 = 20.", "hello there"};
  auto fasttext = make_router("probe: {kind: fasttext, fasttext_model: builtin}\n");
  ASSERT_TRUE(fasttext);
  int escalated = 0, kept = 0;
  for (const char *prompt : prompts) {
    auto screened = fasttext->route({.prompt = prompt});
    ASSERT_TRUE(screened.ok()) << screened.status().to_string();
    ASSERT_EQ(screened->probe.probe_kind, "fasttext");
    const double h = screened->probe.entropy_bits;
    // Just below fastText's entropy for this prompt: unsure, so the lm probe reads it and its verdict routes.
    if (h > 1e-3) {
      auto unsure = make_router("probe: {kind: cascade, fasttext_model: builtin, escalate_entropy_gt: " +
                                std::to_string(h * 0.99) + "}\n");
      ASSERT_TRUE(unsure);
      auto r = unsure->generate({.prompt = prompt}, greedy(4));
      ASSERT_TRUE(r.ok()) << r.status().to_string();
      EXPECT_EQ(r->record.probe.probe_kind, "lm") << prompt << " (fastText entropy " << h << ")";
      EXPECT_GT(r->record.probe.probe_ms, 0) << prompt;
      EXPECT_EQ(r->generation.tokens.size(), 4u);
      ++escalated;
    }
    // Just above it: fastText's verdict stands and no forward pass is spent on the probe.
    if (h * 1.01 + 1e-6 < std::log2(3.0)) {
      auto sure = make_router("probe: {kind: cascade, fasttext_model: builtin, escalate_entropy_gt: " +
                              std::to_string(h * 1.01 + 1e-6) + "}\n");
      ASSERT_TRUE(sure);
      auto r = sure->route({.prompt = prompt});
      ASSERT_TRUE(r.ok()) << r.status().to_string();
      EXPECT_EQ(r->probe.probe_kind, "fasttext") << prompt << " (fastText entropy " << h << ")";
      EXPECT_EQ(r->probe.distribution, screened->probe.distribution) << prompt;
      ++kept;
    }
  }
  EXPECT_EQ(escalated, 4) << "every prompt had a fastText entropy above 0.001 bits";
  EXPECT_EQ(kept, 4) << "every prompt had a fastText entropy below log2(3)";
}

} // namespace
} // namespace aio::core
