// Aggregate decode throughput of the BatchEngine at 1, 2, 4 and 8 concurrent streams on one model (default: the
// synthetic llama3.2-1b Q8_0), against the same engine with one stream (the anchor): how much one shared
// llama_decode per step buys on memory-bound hardware. With --compare-kv, a unified KV cache and a cache split per
// slot are measured in alternation in the same process. Synthetic weights: the speeds are real, the text is not.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>

#include <CLI/CLI.hpp>

#include "serve/batch_engine.h"

using namespace aio;

namespace {

// One level: `streams` requests of n_tokens each, submitted at once; generated tokens per second of wall time
// (including the short prompts' prefill, about 12 tokens each).
double run_level(serve::BatchEngine &engine, const engine::Model &model, int streams, int n_tokens) {
  int generated = 0;
  for (int i = 0; i < streams; ++i) {
    serve::Job j;
    j.prompt = *model.tokenize("Stream " + std::to_string(i) + ": tell me a story about the sea.");
    j.params.max_tokens = n_tokens;
    j.params.ignore_eos = true;
    j.on_done = [&](Expected<engine::GenerationRecord> r) {
      if (r) generated += r->n_generated;
    };
    engine.submit(std::move(j));
  }
  const auto t0 = std::chrono::steady_clock::now();
  while (engine.step()) {
  }
  return generated / std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

} // namespace

int main(int argc, char **argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  CLI::App app{"BatchEngine aggregate decode throughput at 1..8 streams"};
  std::string model_path = "models/llama3.2-1b-q8_0.gguf";
  int n_tokens = 48, threads = 2, repeats = 1;
  bool compare_kv = false;
  app.add_option("-m,--model", model_path)->capture_default_str();
  app.add_option("-n,--tokens", n_tokens, "Tokens per stream")->capture_default_str();
  app.add_option("-t,--threads", threads)->capture_default_str();
  app.add_option("-r,--repeats", repeats, "Repeats per level (median reported)")->capture_default_str();
  app.add_flag("--compare-kv", compare_kv, "Also measure a KV cache split per slot, alternating with the unified one");
  CLI11_PARSE(app, argc, argv);

  auto model = engine::Model::load({.path = model_path});
  if (!model) return std::fprintf(stderr, "bench: %s\n", model.status().message().c_str()), 1;
  std::map<std::string, std::unique_ptr<serve::BatchEngine>> engines;
  for (bool unified : compare_kv ? std::vector<bool>{true, false} : std::vector<bool>{true}) {
    serve::BatchEngineParams p;
    p.n_slots = 8;
    p.n_ctx_per_slot = 512;
    p.n_threads = threads;
    p.kv_unified = unified;
    auto engine = serve::BatchEngine::create(*model, p);
    if (!engine) return std::fprintf(stderr, "bench: %s\n", engine.status().message().c_str()), 1;
    run_level(**engine, **model, 1, 4); // warm-up: the first pass pages the mmap'd weights in
    engines[unified ? "unified" : "split"] = std::move(*engine);
  }
  std::printf("BatchEngine on %s, %d threads, %d tokens per stream (greedy), median of %d\n", model_path.c_str(),
              threads, n_tokens, repeats);
  std::printf("%8s %10s %14s %12s %10s\n", "streams", "kv", "aggregate t/s", "per stream", "vs 1");
  std::map<std::string, double> one;
  for (int streams : {1, 2, 4, 8}) {
    std::map<std::string, std::vector<double>> samples;
    for (int r = 0; r < repeats; ++r)
      for (auto &[kv, engine] : engines) samples[kv].push_back(run_level(*engine, **model, streams, n_tokens));
    for (auto &[kv, v] : samples) {
      const double tps = median(v);
      if (streams == 1) one[kv] = tps;
      std::printf("%8d %10s %14.2f %12.2f %9.2fx\n", streams, kv.c_str(), tps, tps / streams, tps / one[kv]);
    }
  }
  return 0;
}
