// Benchmark of the A-IO core on a small/large pair (default: the synthetic llama3.2-1b + llama3.1-8b, Q8_0):
//  1. per-request overhead of each probe kind (fastText, lm) and of the routing decision, next to a request's
//     generation time on the large model;
//  2. what the lm probe's KV reuse saves when the small model answers;
//  3. decode tokens/s of pld and draft against plain (the anchor, same process, same model) on prompts where drafts
//     are accepted and on prompts where they are not, with acceptance rates.
// Synthetic weights: speeds and acceptance mechanics are real, the text is not. Writes bench/results/strategies.json.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "core/router.h"
#include "exec/batch_engine.h"
#include "probe/fasttext_probe.h"
#include "util/data_dir.h"

using namespace aio;
using Clock = std::chrono::steady_clock;

namespace {

// The executor with one slot (requests one at a time, as this benchmark measures them).
std::unique_ptr<exec::BatchEngine> one_slot(std::shared_ptr<const engine::Model> model, int threads) {
  exec::BatchEngineParams p;
  p.n_slots = 1;
  p.n_ctx_per_slot = 2048;
  p.n_threads = threads;
  return std::move(*exec::BatchEngine::create(std::move(model), p));
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

const std::vector<std::string> kPrompts = {
    "Explain in detail how the French Revolution changed European politics in the nineteenth century.",
    "def merge_sorted(a, b):\n    \"\"\"Merge two sorted lists into one sorted list.\"\"\"\n",
};

} // namespace

int main(int argc, char **argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0); // progress shows as it happens even when redirected
  CLI::App app{"A-IO core benchmark: probe overhead, KV reuse, and pld/draft against plain decoding"};
  std::string small_path = "models/llama3.2-1b-q8_0.gguf", large_path = "models/llama3.1-8b-q8_0.gguf";
  std::string tiny_small_path = "models/tiny-small-q8_0.gguf", tiny_large_path = "models/tiny-large-q8_0.gguf";
  std::string stories_path = "../shared/data/gguf/stories260K.gguf";
  std::string out_path = "bench/results/strategies.json";
  int n_tokens = 32, threads = 2;
  app.add_option("--small", small_path, "Small model GGUF")->capture_default_str();
  app.add_option("--large", large_path, "Large model GGUF")->capture_default_str();
  app.add_option("--tiny-small", tiny_small_path, "Tiny pair, small side (for the drafts-accepted rows)")
      ->capture_default_str();
  app.add_option("--tiny-large", tiny_large_path, "Tiny pair, large side")->capture_default_str();
  app.add_option("--stories", stories_path, "A real pretrained model for the real-text rows")->capture_default_str();
  app.add_option("-n,--tokens", n_tokens, "Tokens generated per run")->capture_default_str();
  app.add_option("-t,--threads", threads, "CPU threads")->capture_default_str();
  app.add_option("-o,--output", out_path, "Results JSON")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  config::AioConfig cfg;
  cfg.source = "bench";
  cfg.models = {{"small", small_path, 2048, -1}, {"large", large_path, 2048, -1}};
  cfg.threads = threads;
  cfg.policies = policy::builtin_policies();
  auto lm_router = core::Router::create(cfg);
  if (!lm_router) {
    std::fprintf(stderr, "bench: %s\n(make the pair with: build/bin/aio synth --preset llama3.2-1b -o %s, and "
                         "--preset llama3.1-8b -o %s)\n",
                 lm_router.status().message().c_str(), small_path.c_str(), large_path.c_str());
    return 1;
  }
  core::Router &router = **lm_router;
  auto builtin = builtin_probe_path();
  auto ft = builtin ? probe::FastTextProbe::load(*builtin, cfg.categories)
                    : Expected<std::unique_ptr<probe::FastTextProbe>>(builtin.status());
  if (!ft) {
    std::fprintf(stderr, "bench: %s\n", ft.status().message().c_str());
    return 1;
  }
  nlohmann::json results = {{"small", small_path}, {"large", large_path}, {"threads", threads},
                            {"tokens", n_tokens}, {"synthetic_weights", router.model("large").info().synthetic}};

  // 1. Probe overhead.
  const std::vector<std::string> prompts = {"Write a Python function that merges two sorted lists.",
                                            "What is the capital of Australia?",
                                            "Tom has 12 apples and gives away 5. How many are left?"};
  std::vector<double> ft_ms, lm_ms, route_ms;
  for (int rep = 0; rep < 200; ++rep)
    for (const auto &p : prompts) {
      const ProbeResult r = (*ft)->classify(p);
      ft_ms.push_back(r.template_ms + r.probe_ms);
    }
  for (int rep = 0; rep < 5; ++rep)
    for (const auto &p : prompts) {
      auto r = router.route({.prompt = p});
      if (!r) return std::fprintf(stderr, "bench: %s\n", r.status().message().c_str()), 1;
      lm_ms.push_back(r->probe.template_ms + r->probe.wait_ms + r->probe.probe_ms);
      route_ms.push_back(r->route_ms);
    }
  GenerateParams gp;
  gp.max_tokens = n_tokens;
  gp.ignore_eos = true;
  auto reference = router.generate({.prompt = prompts[1], .policy = "static-large"}, gp);
  if (!reference) return std::fprintf(stderr, "bench: %s\n", reference.status().message().c_str()), 1;
  const double request_ms = reference->generation.prefill_ms + reference->generation.decode_ms;
  std::printf("Probe overhead per request (median)%s:\n",
              router.model("large").info().synthetic ? " - synthetic weights, real speed" : "");
  std::printf("  fastText probe   %8.4f ms  (%.3f%% of a %d-token request on the large model, %.0f ms)\n",
              median(ft_ms), 100 * median(ft_ms) / request_ms, n_tokens, request_ms);
  std::printf("  lm probe         %8.3f ms  (%.2f%%; one forward pass of the small model)\n", median(lm_ms),
              100 * median(lm_ms) / request_ms);
  std::printf("  routing decision %8.4f ms\n", median(route_ms));
  results["probe_overhead_ms"] = {{"fasttext", median(ft_ms)}, {"lm", median(lm_ms)}, {"route", median(route_ms)},
                                  {"request_on_large", request_ms}};

  // 2. KV reuse: the same request answered by the small model, after the lm probe, with and without its KV.
  std::string long_prompt;
  for (int i = 0; i < 12; ++i) long_prompt += "def helper_" + std::to_string(i) + "(x):\n    return x * " + std::to_string(i) + "\n\n";
  long_prompt += "# Write a function that sums all helpers:\n";
  // A policy that reads the probe (so the lm probe runs and leaves its KV: math would decode with PLD) and answers on
  // the small model.
  policy::Policy probe_then_small;
  probe_then_small.name = "probe-then-small";
  policy::Rule math, fallback;
  math.when.categories = {"math"};
  math.strategy = Strategy::pld;
  math.model = fallback.model = "small";
  probe_then_small.rules = {math, fallback};
  if (Status st = router.add_policy(probe_then_small); !st.ok())
    return std::fprintf(stderr, "bench: %s\n", st.message().c_str()), 1;
  auto reused = router.generate({.prompt = long_prompt, .policy = "probe-then-small"}, gp);
  auto small_model = router.shared_model("small"); // resident already: no second copy of the weights
  auto fresh_engine = one_slot(small_model, threads);
  auto fresh = exec::generate(*fresh_engine, *small_model->tokenize(long_prompt), gp);
  if (!reused || !fresh) return std::fprintf(stderr, "bench: KV reuse run failed\n"), 1;
  std::printf("\nKV reuse after the lm probe (%d-token prompt answered by the small model):\n",
              reused->generation.n_prompt_tokens);
  std::printf("  prefill with reuse %7.1f ms (%d tokens already cached), without %7.1f ms: saves %.1f ms (%.0f%%)\n",
              reused->generation.prefill_ms, reused->generation.n_prefill_tokens_saved, fresh->prefill_ms,
              fresh->prefill_ms - reused->generation.prefill_ms,
              100 * (fresh->prefill_ms - reused->generation.prefill_ms) / fresh->prefill_ms);
  results["kv_reuse"] = {{"prompt_tokens", reused->generation.n_prompt_tokens},
                         {"prefill_ms_reused", reused->generation.prefill_ms},
                         {"prefill_ms_fresh", fresh->prefill_ms}};

  // 3. Strategies against plain decoding (the anchor: same model, same process, same prompts).
  //  - The 1B/8B pair on ordinary prompts. Random-weight models agree with nobody and their output does not repeat,
  //    so no draft is accepted here: these rows measure what failed speculation costs.
  //  - The tiny pair on self-repeating prompts: its random output repeats itself, so PLD and the drafter are right
  //    and the rows show the gain when drafts are accepted.
  std::printf("\nDecode, %d tokens, greedy; every strategy's output is checked against plain's:\n", n_tokens);
  std::printf("  %-36s %-6s %9s %9s %9s %8s\n", "model / prompts", "strat", "tok/s", "vs plain", "accepted", "drafted");
  auto table = [&](const std::string &label, exec::BatchEngine &target, std::shared_ptr<const engine::Model> draft,
                   const std::vector<std::string> &texts) -> bool {
    double plain_tps = 0;
    std::vector<llama_token> plain_tokens;
    for (Strategy s : {Strategy::plain, Strategy::pld, Strategy::draft}) {
      double ms = 0;
      int tokens = 0, drafted = 0, accepted = 0;
      std::vector<llama_token> all;
      for (const auto &text : texts) {
        auto r = exec::generate(target, *target.model().tokenize(text), gp,
                                {s, {.pld_window = 6, .pld_lookahead = 2, .draft_tokens = 4}, draft});
        if (!r) return std::fprintf(stderr, "bench: %s\n", r.status().message().c_str()), false;
        ms += r->decode_ms;
        tokens += r->n_generated - 1;
        drafted += r->n_drafted;
        accepted += r->n_accepted;
        all.insert(all.end(), r->tokens.begin(), r->tokens.end());
      }
      const double tps = tokens * 1000.0 / ms;
      if (s == Strategy::plain) plain_tps = tps, plain_tokens = all;
      const bool same = all == plain_tokens;
      std::printf("  %-36s %-6s %9.2f %8.2fx %8.0f%% %8d%s\n", label.c_str(), strategy_name(s), tps, tps / plain_tps,
                  drafted ? 100.0 * accepted / drafted : 0.0, drafted, same ? "" : "  OUTPUT DIFFERS FROM PLAIN");
      results["strategies"][label][strategy_name(s)] = {{"tokens_per_second", tps}, {"ratio_vs_plain", tps / plain_tps},
                                                        {"drafted", drafted}, {"accepted", accepted},
                                                        {"same_output_as_plain", same}};
    }
    return true;
  };
  {
    auto target = one_slot(router.shared_model("large"), threads);
    if (!table("8B (1B drafts) / ordinary", *target, small_model, kPrompts)) return 1;
  }
  auto tiny_small = engine::Model::load({.path = tiny_small_path});
  auto tiny_large = engine::Model::load({.path = tiny_large_path});
  if (tiny_small && tiny_large) {
    auto target = one_slot(*tiny_large, threads);
    gp.max_tokens = 128;
    if (!table("tiny-large (tiny-small) / repeating", *target, *tiny_small,
               {"the the the the the the the the", "abc abc abc abc abc abc", "1 2 1 2 1 2 1 2 1 2"}))
      return 1;
  } else {
    std::printf("  (tiny pair not found at %s / %s: run `make demo` for the drafts-accepted rows)\n",
                tiny_small_path.c_str(), tiny_large_path.c_str());
  }
  // A real pretrained model (TinyStories, ../shared/data): what prompt lookup is worth on real story text, which
  // repeats its names and phrases; draft = the model drafting for itself (every draft accepted: the upper bound).
  auto stories = engine::Model::load({.path = stories_path});
  if (stories) {
    auto target = one_slot(*stories, threads);
    gp.max_tokens = 128;
    gp.ignore_eos = false;
    if (!table("stories260K (real weights) / stories", *target, *stories,
               {"Once upon a time, there was a little girl named Lily. Lily", "Tom had a big red ball. Tom",
                "The cat and the dog were friends. One day, the cat"}))
      return 1;
  } else {
    std::printf("  (%s not found: the real-text rows need ../shared/data)\n", stories_path.c_str());
  }
  std::ofstream(out_path) << results.dump(2) << "\n";
  std::printf("\nwritten: %s\n", out_path.c_str());
  return 0;
}
