// Aggregate decode throughput of the BatchEngine at 1, 2, 4 and 8 concurrent streams on one model (default: the
// synthetic llama3.2-1b Q8_0), against the same engine with one stream (the anchor): how much one shared
// llama_decode per step buys on memory-bound hardware. Synthetic weights: the speeds are real, the text is not.
#include <chrono>
#include <cstdio>

#include <CLI/CLI.hpp>

#include "serve/batch_engine.h"

using namespace aio;

int main(int argc, char **argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  CLI::App app{"BatchEngine aggregate decode throughput at 1..8 streams"};
  std::string model_path = "models/llama3.2-1b-q8_0.gguf";
  int n_tokens = 48, threads = 2;
  app.add_option("-m,--model", model_path)->capture_default_str();
  app.add_option("-n,--tokens", n_tokens, "Tokens per stream")->capture_default_str();
  app.add_option("-t,--threads", threads)->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  auto model = engine::Model::load({.path = model_path});
  if (!model) return std::fprintf(stderr, "bench: %s\n", model.status().message().c_str()), 1;
  serve::BatchEngineParams p;
  p.n_slots = 8;
  p.n_ctx_per_slot = 512;
  p.n_threads = threads;
  auto engine = serve::BatchEngine::create(*model, p);
  if (!engine) return std::fprintf(stderr, "bench: %s\n", engine.status().message().c_str()), 1;
  std::printf("BatchEngine on %s, %d threads, %d tokens per stream (greedy)\n", model_path.c_str(), threads, n_tokens);
  std::printf("%8s %14s %12s %10s\n", "streams", "aggregate t/s", "per stream", "vs 1");
  {
    // Warm-up: the first pass pages the mmap'd weights in; no configuration should pay for that.
    serve::Job warm;
    warm.prompt = *(*model)->tokenize("warm up");
    warm.params.max_tokens = 4;
    (*engine)->submit(std::move(warm));
    while ((*engine)->step()) {
    }
  }
  double one = 0;
  for (int streams : {1, 2, 4, 8}) {
    int done = 0, generated = 0;
    for (int i = 0; i < streams; ++i) {
      serve::Job j;
      j.prompt = *(*model)->tokenize("Stream " + std::to_string(i) + ": tell me a story about the sea.");
      j.params.max_tokens = n_tokens;
      j.params.ignore_eos = true;
      j.on_done = [&](Expected<engine::GenerationRecord> r) {
        ++done;
        if (r) generated += r->n_generated;
      };
      (*engine)->submit(std::move(j));
    }
    // Timed from submission to the last token: includes the short prompts' prefill (about 12 tokens each).
    const auto t0 = std::chrono::steady_clock::now();
    while ((*engine)->step()) {
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double tps = generated / s;
    if (streams == 1) one = tps;
    std::printf("%8d %14.2f %12.2f %9.2fx\n", streams, tps, tps / streams, tps / one);
  }
  return 0;
}
