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
#include "decode/strategy.h"
#include "probe/fasttext_probe.h"

using namespace aio;
using Clock = std::chrono::steady_clock;

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

const std::vector<std::string> kRepetitive = {
    // Text that repeats itself: PLD finds earlier n-grams, a drafter predicts the pattern.
    "def add(a, b):\n    return a + b\n\ndef sub(a, b):\n    return a - b\n\ndef mul(a, b):\n    return a * b\n\ndef",
    "1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 1, 2, 3, 4, 5,",
};
const std::vector<std::string> kNovel = {
    "Explain in detail how the French Revolution changed European politics in the nineteenth century.",
    "Describe a walk through an unfamiliar city at dawn, noticing sounds, smells and light.",
};

} // namespace

int main(int argc, char **argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0); // progress shows as it happens even when redirected
  CLI::App app{"A-IO core benchmark: probe overhead, KV reuse, and pld/draft against plain decoding"};
  std::string small_path = "models/llama3.2-1b-q8_0.gguf", large_path = "models/llama3.1-8b-q8_0.gguf";
  std::string out_path = "bench/results/strategies.json";
  int n_tokens = 32, threads = 2;
  app.add_option("--small", small_path, "Small model GGUF")->capture_default_str();
  app.add_option("--large", large_path, "Large model GGUF")->capture_default_str();
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
  auto ft = probe::FastTextProbe::load(AIO_DEFAULT_PROBE_PATH, cfg.categories);
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
      lm_ms.push_back(r->probe.template_ms + r->probe.probe_ms);
      route_ms.push_back(r->route_ms);
    }
  engine::GenerateParams gp;
  gp.max_tokens = n_tokens;
  gp.ignore_eos = true;
  auto reference = router.generate({.prompt = prompts[1], .policy = "static-large"}, gp);
  if (!reference) return std::fprintf(stderr, "bench: %s\n", reference.status().message().c_str()), 1;
  const double request_ms = reference->record.prefill_ms + reference->record.decode_ms;
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
  auto reused = router.generate({.prompt = long_prompt, .policy = "static-small"}, gp);
  auto small_model = router.shared_model("small"); // resident already: no second copy of the weights
  auto fresh_session = *engine::Session::create(small_model, {.n_ctx = 2048, .n_threads = threads});
  auto fresh = engine::generate(*fresh_session, *small_model->tokenize(long_prompt), gp);
  if (!reused || !fresh) return std::fprintf(stderr, "bench: KV reuse run failed\n"), 1;
  std::printf("\nKV reuse after the lm probe (%d-token prompt answered by the small model):\n",
              reused->record.n_prompt_tokens);
  std::printf("  prefill with reuse %7.1f ms (%d tokens already cached), without %7.1f ms: saves %.1f ms (%.0f%%)\n",
              reused->record.prefill_ms, reused->record.n_prefill_tokens_saved, fresh->prefill_ms,
              fresh->prefill_ms - reused->record.prefill_ms,
              100 * (fresh->prefill_ms - reused->record.prefill_ms) / fresh->prefill_ms);
  results["kv_reuse"] = {{"prompt_tokens", reused->record.n_prompt_tokens},
                         {"prefill_ms_reused", reused->record.prefill_ms},
                         {"prefill_ms_fresh", fresh->prefill_ms}};

  // 3. Strategies on the large model: plain is the anchor.
  auto large = router.shared_model("large");
  auto target = *engine::Session::create(large, {.n_ctx = 2048, .n_threads = threads});
  auto drafter = *engine::Session::create(small_model, {.n_ctx = 2048, .n_threads = threads});
  std::printf("\nDecode on the large model, %d tokens, greedy (outputs identical across strategies):\n", n_tokens);
  std::printf("  %-11s %-6s %10s %9s %9s %s\n", "prompts", "strat", "tok/s", "vs plain", "accepted", "drafted");
  for (const auto &[kind, set] : {std::pair{"repetitive", &kRepetitive}, std::pair{"novel", &kNovel}}) {
    double plain_tps = 0;
    for (Strategy s : {Strategy::plain, Strategy::pld, Strategy::draft}) {
      double ms = 0;
      int tokens = 0, drafted = 0, accepted = 0;
      for (const auto &p : *set) {
        auto r = decode::run_strategy(s, {.pld_window = 6, .pld_lookahead = 2, .draft_tokens = 4},
                                      {target.get(), drafter.get(), 0, 0}, *large->tokenize(p), gp);
        if (!r) return std::fprintf(stderr, "bench: %s\n", r.status().message().c_str()), 1;
        ms += r->decode_ms;
        tokens += r->n_generated - 1;
        drafted += r->n_drafted;
        accepted += r->n_accepted;
      }
      const double tps = tokens * 1000.0 / ms;
      if (s == Strategy::plain) plain_tps = tps;
      std::printf("  %-11s %-6s %10.2f %8.2fx %8.0f%% %8d\n", kind, strategy_name(s), tps, tps / plain_tps,
                  drafted ? 100.0 * accepted / drafted : 0.0, drafted);
      results["strategies"][kind][strategy_name(s)] = {{"tokens_per_second", tps}, {"ratio_vs_plain", tps / plain_tps},
                                                       {"drafted", drafted}, {"accepted", accepted}};
    }
  }
  std::ofstream(out_path) << results.dump(2) << "\n";
  std::printf("\nwritten: %s\n", out_path.c_str());
  return 0;
}
