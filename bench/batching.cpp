// Aggregate decode throughput of the BatchEngine at 1, 2, 4 and 8 concurrent streams on one model (default: the
// synthetic llama3.2-1b Q8_0): how much one shared llama_decode per step buys on memory-bound hardware. The anchor,
// measured in alternation in the same process: llama.cpp's batched decoding written directly against its API the way
// its server does it (a KV cache split per sequence, a persistent threadpool), with no A-IO code in the loop; the
// ratio engine / anchor is printed per level. --compare-kv adds the engine with a split KV cache.
// --speculation measures PLD and draft-model verification inside the batched step against plain batched decoding on
// the tiny pair (whose self-repeating output gives the drafts something to be right about). --depth D measures what
// one step costs with every sequence D tokens deep, per KV layout and attention kernel.
// Synthetic weights: the speeds are real, the text is not.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>

#include <CLI/CLI.hpp>

#include "ggml-cpu.h"
#include "exec/batch_engine.h"

using namespace aio;

namespace {

// One level: `streams` requests of n_tokens each, submitted at once; generated tokens per second of wall time
// (including the short prompts' prefill, about 12 tokens each).
double run_level(exec::BatchEngine &engine, const engine::Model &model, int streams, int n_tokens) {
  int generated = 0;
  for (int i = 0; i < streams; ++i) {
    exec::Job j;
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

// The anchor: `streams` sequences prefilled together, then one llama_decode per step with each sequence's next greedy
// token, on a context like llama-server's (n_seq_max = slots, split KV, threadpool attached).
class RawLlamaLoop {
public:
  RawLlamaLoop(const engine::Model &model, int n_slots, int threads) : model_(model) {
    llama_context_params cp = llama_context_default_params();
    cp.n_ctx = 512 * n_slots;
    cp.n_batch = 512;
    cp.n_seq_max = n_slots;
    cp.kv_unified = false;
    cp.n_threads = cp.n_threads_batch = threads;
    cp.no_perf = true;
    ctx_ = llama_init_from_model(model.raw(), cp);
    ggml_threadpool_params tpp = ggml_threadpool_params_default(threads);
    pool_ = ggml_threadpool_new(&tpp);
    llama_attach_threadpool(ctx_, pool_, nullptr);
    batch_ = llama_batch_init(512, 0, 1);
  }
  ~RawLlamaLoop() {
    llama_batch_free(batch_);
    llama_free(ctx_);
    ggml_threadpool_free(pool_);
  }
  double run(int streams, int n_tokens) {
    llama_memory_clear(llama_get_memory(ctx_), true);
    const int32_t n_vocab = model_.info().n_vocab;
    std::vector<llama_pos> pos(streams, 0);
    std::vector<int32_t> row(streams);
    const auto t0 = std::chrono::steady_clock::now();
    batch_.n_tokens = 0;
    for (int s = 0; s < streams; ++s) {
      const auto prompt = *model_.tokenize("Stream " + std::to_string(s) + ": tell me a story about the sea.");
      for (size_t k = 0; k < prompt.size(); ++k) add(prompt[k], pos[s]++, s, k + 1 == prompt.size());
      row[s] = batch_.n_tokens - 1;
    }
    int generated = 0;
    for (int step = 0; step < n_tokens; ++step) {
      if (llama_decode(ctx_, batch_) != 0) return 0;
      std::vector<llama_token> next(streams);
      for (int s = 0; s < streams; ++s) next[s] = engine::argmax(llama_get_logits_ith(ctx_, row[s]), n_vocab);
      generated += streams;
      batch_.n_tokens = 0;
      for (int s = 0; s < streams; ++s) row[s] = add(next[s], pos[s]++, s, true);
    }
    return generated / std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }

private:
  int32_t add(llama_token t, llama_pos p, llama_seq_id seq, bool logits) {
    return engine::batch_add(batch_, t, p, seq, logits);
  }
  const engine::Model &model_;
  llama_context *ctx_ = nullptr;
  ggml_threadpool *pool_ = nullptr;
  llama_batch batch_{};
};

// Speculation inside the batched step: `streams` requests of one strategy decoded together on `engine`.
struct SpecResult {
  double tps = 0, acceptance = 0;
  int64_t steps = 0;
};
SpecResult run_strategy_level(exec::BatchEngine &engine, const engine::Model &model, Strategy strategy,
                              int streams, int n_tokens, std::shared_ptr<const engine::Model> drafter = nullptr) {
  int generated = 0, drafted = 0, accepted = 0;
  for (int i = 0; i < streams; ++i) {
    exec::Job j;
    j.prompt = *model.tokenize("Stream " + std::to_string(i) + ": the the the the the the the the");
    j.params.max_tokens = n_tokens;
    j.params.ignore_eos = true;
    j.decoding.strategy = strategy;
    j.decoding.draft_model = drafter;
    j.on_done = [&](Expected<engine::GenerationRecord> r) {
      if (!r) return;
      generated += r->n_generated;
      drafted += r->n_drafted;
      accepted += r->n_accepted;
    };
    engine.submit(std::move(j));
  }
  const int64_t calls = engine.n_decode_calls();
  const auto t0 = std::chrono::steady_clock::now();
  while (engine.step()) {
  }
  SpecResult r;
  r.tps = generated / std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.acceptance = drafted > 0 ? static_cast<double>(accepted) / drafted : 0;
  r.steps = engine.n_decode_calls() - calls;
  return r;
}

int bench_speculation(const std::string &small_path, const std::string &large_path, int n_tokens, int threads,
                      int repeats) {
  auto small = engine::Model::load({.path = small_path});
  auto large = engine::Model::load({.path = large_path});
  if (!small || !large) return std::fprintf(stderr, "bench: the tiny pair is missing (make demo writes it)\n"), 1;
  exec::BatchEngineParams p;
  p.n_slots = 4;
  p.n_ctx_per_slot = 512;
  p.n_threads = threads;
  auto engine = exec::BatchEngine::create(*large, p);
  if (!engine) return std::fprintf(stderr, "bench: no engine\n"), 1;
  run_strategy_level(**engine, **large, Strategy::plain, 1, 4);
  std::printf("\nSpeculation inside the batched step: tiny-large, tiny-small drafting, %d threads, %d tokens per "
              "stream, median of %d\n", threads, n_tokens, repeats);
  std::printf("%8s %9s %14s %12s %12s %10s\n", "streams", "strategy", "aggregate t/s", "vs plain", "acceptance",
              "steps");
  for (int streams : {1, 4}) {
    std::map<Strategy, std::vector<SpecResult>> samples;
    for (int r = 0; r < repeats; ++r)
      for (Strategy s : {Strategy::plain, Strategy::pld, Strategy::draft})
        samples[s].push_back(run_strategy_level(**engine, **large, s, streams, n_tokens, *small));
    auto med = [&](Strategy s) {
      auto v = samples[s];
      std::sort(v.begin(), v.end(), [](const SpecResult &a, const SpecResult &b) { return a.tps < b.tps; });
      return v[v.size() / 2];
    };
    const double plain = med(Strategy::plain).tps;
    for (Strategy s : {Strategy::plain, Strategy::pld, Strategy::draft}) {
      const SpecResult m = med(s);
      std::printf("%8d %9s %14.1f %11.2fx %11.0f%% %10lld\n", streams, strategy_name(s), m.tps, m.tps / plain,
                  m.acceptance * 100, static_cast<long long>(m.steps));
    }
  }
  return 0;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// --depth: what one step costs deep in long contexts, on llama.cpp's own API (no A-IO code in the loop), for each KV
// layout and attention kernel. `streams` sequences sit at `depth` tokens and one more is part-way through a prompt at
// the same depth; timed: a decode-only step (one token each), the same step with k of the prompt's tokens beside
// it, and k prompt tokens alone. Every step is rolled back, so each is timed at the same depth (median of 3). It
// says how a token's cost grows with its context and with everyone else's: over one unified cache a token's
// attention visits every sequence's cells, over a split one only its own.
int bench_depth(const engine::Model &model, int threads, int depth, int streams) {
  std::printf("Step cost at depth %d: %d streams decoding, one prompt part-way, %d threads (median of 3, ms)\n", depth,
              streams, threads);
  std::printf("%-8s %-4s %8s %8s %8s %8s %8s %16s\n", "kv", "fa", "decode", "+1", "+4", "+16", "+64",
              "prompt alone/tok");
  const int seqs = streams + 1;
  for (bool unified : {true, false})
    for (bool fa : {true, false}) {
      llama_context_params cp = llama_context_default_params();
      cp.n_ctx = static_cast<uint32_t>(seqs * (depth + 128));
      cp.n_batch = cp.n_ubatch = 512;
      cp.n_seq_max = static_cast<uint32_t>(seqs);
      cp.kv_unified = unified;
      cp.n_threads = cp.n_threads_batch = threads;
      cp.flash_attn_type = fa ? LLAMA_FLASH_ATTN_TYPE_ENABLED : LLAMA_FLASH_ATTN_TYPE_DISABLED;
      cp.no_perf = true;
      llama_context *ctx = llama_init_from_model(model.raw(), cp);
      if (!ctx) return std::fprintf(stderr, "bench: no context for %d x %d cells\n", seqs, depth + 128), 1;
      llama_memory_t mem = llama_get_memory(ctx);
      llama_batch batch = llama_batch_init(512, 0, 1);
      const auto decode = [&] {
        const auto t0 = std::chrono::steady_clock::now();
        const int rc = llama_decode(ctx, batch);
        const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        return rc == 0 ? ms : -1.0;
      };
      const int32_t n_vocab = model.info().n_vocab;
      for (int s = 0; s < seqs; ++s) // fill each sequence to the depth (tokens spread over the vocabulary)
        for (int p = 0; p < depth;) {
          batch.n_tokens = 0;
          for (int n = std::min(512, depth - p); n > 0; --n, ++p)
            engine::batch_add(batch, (7 * p + 13 * s) % n_vocab, p, s, n == 1);
          if (decode() < 0) return std::fprintf(stderr, "bench: filling the cache failed\n"), 1;
        }
      const auto timed = [&](int decoding, int prompt_tokens) {
        std::vector<double> ms;
        for (int r = 0; r < 3; ++r) {
          batch.n_tokens = 0;
          for (int s = 0; s < decoding; ++s) engine::batch_add(batch, 11, depth, s, true);
          for (int k = 0; k < prompt_tokens; ++k)
            engine::batch_add(batch, 17, depth + k, streams, k + 1 == prompt_tokens);
          ms.push_back(decode());
          for (int s = 0; s < seqs; ++s) llama_memory_seq_rm(mem, s, depth, -1); // back to the depth
        }
        return median(ms);
      };
      std::printf("%-8s %-4s %8.1f", unified ? "unified" : "split", fa ? "on" : "off", timed(streams, 0));
      for (int k : {1, 4, 16, 64}) std::printf(" %8.1f", timed(streams, k));
      std::printf(" %16.1f\n", timed(0, 64) / 64);
      llama_batch_free(batch);
      llama_free(ctx);
    }
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  CLI::App app{"BatchEngine aggregate decode throughput at 1..8 streams"};
  std::string model_path = "models/llama3.2-1b-q8_0.gguf";
  int n_tokens = 48, threads = 2, repeats = 1;
  bool compare_kv = false, speculation = false;
  int depth = 0, depth_streams = 6;
  std::string small_path = "models/tiny-small-q8_0.gguf", large_path = "models/tiny-large-q8_0.gguf";
  app.add_option("-m,--model", model_path)->capture_default_str();
  app.add_option("-n,--tokens", n_tokens, "Tokens per stream")->capture_default_str();
  app.add_option("-t,--threads", threads)->capture_default_str();
  app.add_option("-r,--repeats", repeats, "Repeats per level (median reported)")->capture_default_str();
  app.add_flag("--compare-kv", compare_kv, "Also measure a KV cache split per slot, alternating with the unified one");
  app.add_flag("--speculation", speculation, "Measure PLD and draft verification in the batched step instead");
  app.add_option("--small", small_path, "Drafter for --speculation")->capture_default_str();
  app.add_option("--large", large_path, "Target for --speculation")->capture_default_str();
  app.add_option("--depth", depth, "Instead: what a step costs with every sequence this deep (KV layouts x kernels)")
      ->check(CLI::Range(1, 32768));
  app.add_option("--depth-streams", depth_streams, "Streams decoding for --depth")->check(CLI::Range(1, 64))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (speculation) return bench_speculation(small_path, large_path, n_tokens, threads, repeats);

  auto model = engine::Model::load({.path = model_path});
  if (!model) return std::fprintf(stderr, "bench: %s\n", model.status().message().c_str()), 1;
  if (depth > 0) return bench_depth(**model, threads, depth, depth_streams);
  std::map<std::string, std::unique_ptr<exec::BatchEngine>> engines;
  for (bool unified : compare_kv ? std::vector<bool>{true, false} : std::vector<bool>{true}) {
    exec::BatchEngineParams p;
    p.n_slots = 8;
    p.n_ctx_per_slot = 512;
    p.n_threads = threads;
    p.kv_unified = unified;
    auto engine = exec::BatchEngine::create(*model, p);
    if (!engine) return std::fprintf(stderr, "bench: %s\n", engine.status().message().c_str()), 1;
    run_level(**engine, **model, 1, 4); // warm-up: the first pass pages the mmap'd weights in
    engines[unified ? "unified" : "split"] = std::move(*engine);
  }
  RawLlamaLoop anchor(**model, 8, threads);
  anchor.run(1, 4); // warm-up
  std::printf("BatchEngine on %s, %d threads, %d tokens per stream (greedy), median of %d alternating repeats\n",
              model_path.c_str(), threads, n_tokens, repeats);
  std::printf("%8s %16s %14s %12s %14s\n", "streams", "engine", "aggregate t/s", "per stream", "vs llama.cpp");
  for (int streams : {1, 2, 4, 8}) {
    std::map<std::string, std::vector<double>> samples;
    for (int r = 0; r < repeats; ++r) {
      samples["llama.cpp loop"].push_back(anchor.run(streams, n_tokens));
      for (auto &[kv, engine] : engines)
        samples["aio " + kv].push_back(run_level(*engine, **model, streams, n_tokens));
    }
    const double base = median(samples["llama.cpp loop"]);
    for (auto &[name, v] : samples) {
      const double tps = median(v);
      std::printf("%8d %16s %14.2f %12.2f %13.3fx\n", streams, name.c_str(), tps, tps / streams, tps / base);
    }
  }
  return 0;
}
