// `aio generate`: load one or more models into this process and generate from a prompt with each.
// With several --model flags all of them are loaded first and stay resident together, as A-IO serves them.
#include <cstdio>
#include <fstream>
#include <sstream>

#include "commands.h"
#include "aio/route_json.h"
#include "core/router.h"
#include "engine/generation.h"
#include "util/files.h"

namespace aio::cli {
namespace {

struct GenerateOptions {
  std::vector<std::string> models;
  ConfigSource source; // --config, or --small and --large
  std::string policy;
  std::string label;
  std::string prompt;
  std::string prompt_file;
  bool chat = false;
  int max_tokens = 128;
  float temperature = 0.0f;
  int top_k = 40;
  float top_p = 0.95f;
  uint32_t seed = 0;
  std::vector<std::string> stop;
  uint32_t ctx_size = 0;
  int threads = 0;
  int n_gpu_layers = -1;
  bool ignore_eos = false;
  bool json = false;
};

struct Loaded {
  std::shared_ptr<engine::Model> model;
  std::unique_ptr<exec::BatchEngine> engine; // one slot: the executor `aio serve` runs, one request at a time
};

Expected<std::string> read_prompt(const GenerateOptions &o) {
  if (!o.prompt_file.empty()) {
    return read_file(o.prompt_file, "--prompt-file", kMaxConfigFileBytes);
  }
  return o.prompt;
}

nlohmann::json record_json(const engine::Model &m, const engine::GenerationRecord &r) {
  return {
      {"model", m.info().path},
      {"synthetic", m.info().synthetic},
      {"text", r.text},
      {"tokens", r.tokens},
      {"finish_reason", finish_reason_name(r.finish_reason)},
      {"n_prompt_tokens", r.n_prompt_tokens},
      {"prefill_ms", r.prefill_ms},
      {"n_generated", r.n_generated},
      {"n_decode_steps", r.n_decode_steps},
      {"decode_ms", r.decode_ms},
      {"prefill_tokens_per_second", r.prefill_tokens_per_second()},
      {"decode_tokens_per_second", r.decode_tokens_per_second()},
      {"peak_rss_bytes", peak_rss_bytes()},
  };
}

// Text shown on one line: control characters escaped, cut to `width` bytes at a UTF-8 boundary.
std::string one_line_preview(const std::string &text, size_t width) {
  std::string out;
  for (unsigned char c : text) {
    if (out.size() >= width && (c & 0xC0) != 0x80) return out + "...";
    if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c < 0x20) out += '?';
    else out += static_cast<char>(c);
  }
  return out;
}

void print_summary_row(const engine::ModelInfo &info, const engine::GenerationRecord &r) {
  std::printf("%-28s %7.1fM %5s %10d %13.1f %13.1f  %s\n", info.name.substr(0, 28).c_str(), info.n_params / 1e6,
              info.file_type.c_str(), r.n_prompt_tokens, r.prefill_tokens_per_second(), r.decode_tokens_per_second(),
              one_line_preview(r.text, 40).c_str());
}

// With --config: the request goes through A-IO (probe, policy, strategy) and the route record is printed.
int run_routed(const GenerateOptions &o, const std::string &prompt, const GenerateParams &gp) {
  auto router = load_router(o.source);
  if (!router) return report_error(router.status());
  Request req = make_request(prompt, o.chat);
  req.policy = o.policy;
  if (!o.label.empty()) req.true_label = o.label;
  engine::TokenCallback on_token;
  if (!o.json)
    on_token = [](std::string_view piece, llama_token, auto) {
      std::fwrite(piece.data(), 1, piece.size(), stdout);
      std::fflush(stdout);
      return true;
    };
  auto out = (*router)->generate(req, gp, on_token);
  if (!out) return report_error(out.status());
  const RouteRecord &r = out->record;
  // A model served by remote replicas: its weights are not known here.
  const bool synthetic = (*router)->is_local(r.route.model) && (*router)->model(r.route.model).info().synthetic;
  if (o.json) {
    nlohmann::json j = {{"text", out->generation.text}, {"tokens", out->generation.tokens}, {"synthetic", synthetic},
                        {"aio", route_record_json(r)}};
    std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return 0;
  }
  std::printf("\n");
  std::fflush(stdout);
  std::fprintf(stderr, "[route] %s (entropy %.3f bits, %d context tokens) -> %s / %s: %s\n", r.probe.category().c_str(),
               r.probe.entropy_bits, r.probe.n_context_tokens, r.route.model.c_str(), strategy_name(r.route.strategy),
               r.route.reason.c_str());
  if (!out->generation.replica.empty())
    std::fprintf(stderr, "[pool] answered by replica %s of model %s\n", out->generation.replica.c_str(),
                 r.route.model.c_str());
  const GenerationStats &g = out->generation;
  std::fprintf(stderr, "[time] template %.3f ms, probe %.3f ms, route %.4f ms, switch %.4f ms, prefill %.2f ms",
               r.probe.template_ms, r.probe.probe_ms, r.route_ms, r.switch_ms, g.prefill_ms);
  if (g.n_prefill_tokens_saved > 0)
    std::fprintf(stderr, " (%d of %d prompt tokens already in the KV cache)", g.n_prefill_tokens_saved,
                 g.n_prompt_tokens);
  std::fprintf(stderr, ", decode %.1f ms for %d tokens (%.1f tok/s)", g.decode_ms, g.n_generated,
               g.decode_tokens_per_second());
  if (g.n_drafted > 0) std::fprintf(stderr, ", drafted %d, accepted %d", g.n_drafted, g.n_accepted);
  std::fprintf(stderr, "\n");
  if (synthetic) std::fprintf(stderr, "%s\n", kSyntheticNotice);
  return 0;
}

int run_generate(const GenerateOptions &o) {
  const bool routed = !o.source.config.empty() || !o.source.small.empty();
  if (o.models.empty() == !routed)
    return report_error(invalid_argument("give --model FILE (one or more), or --config aio.yaml, or --small SMALL.gguf "
                                         "--large LARGE.gguf to route through A-IO - one of the three"));
  if (o.prompt.empty() == o.prompt_file.empty())
    return report_error(invalid_argument("give exactly one of --prompt TEXT or --prompt-file FILE"));
  auto prompt_text = read_prompt(o);
  if (!prompt_text) return report_error(prompt_text.status());

  GenerateParams gp;
  gp.max_tokens = o.max_tokens;
  gp.stop = o.stop;
  gp.sampling = {o.temperature, o.top_k, o.top_p, o.seed};
  gp.ignore_eos = o.ignore_eos;
  if (Status s = gp.validate(); !s.ok()) return report_error(s);
  if (routed) return run_routed(o, *prompt_text, gp);
  if (!o.policy.empty() || !o.label.empty())
    return report_error(invalid_argument("--policy and --label need --config (they choose how A-IO routes)"));

  // Load everything first: every model is resident before the first token is generated.
  std::vector<Loaded> loaded;
  for (const auto &path : o.models) {
    auto model = engine::Model::load({.path = path, .n_gpu_layers = o.n_gpu_layers});
    if (!model) return report_error(model.status());
    const auto &info = (*model)->info();
    exec::BatchEngineParams bp;
    bp.n_slots = 1;
    bp.n_ctx_per_slot =
        o.ctx_size > 0 ? o.ctx_size : static_cast<uint32_t>(std::min(4096, std::max(info.n_ctx_train, 256)));
    bp.n_threads = o.threads;
    auto engine = exec::BatchEngine::create(*model, bp);
    if (!engine) return report_error(engine.status());
    loaded.push_back({std::move(*model), std::move(*engine)});
  }

  const bool stream_text = !o.json && loaded.size() == 1;
  if (!o.json && !stream_text)
    std::printf("%-28s %8s %5s %10s %13s %13s  %s\n", "model", "params", "type", "prompt tok", "prefill tok/s",
                "decode tok/s", "output (start, escaped)");
  bool any_synthetic = false;
  for (auto &[model, engine] : loaded) {
    std::string text = *prompt_text;
    if (o.chat) {
      auto formatted = model->apply_chat_template({Message::user(text)});
      if (!formatted) return report_error(formatted.status());
      text = std::move(*formatted);
    }
    // A chat is tokenized as the Router (and llama-server) tokenize one; a plain prompt gets the model's BOS.
    auto tokens = o.chat ? model->tokenize_chat(text) : model->tokenize(text, /*add_bos=*/true, /*parse_special=*/false);
    if (!tokens) return report_error(tokens.status());
    engine::TokenCallback on_token;
    if (stream_text)
      on_token = [](std::string_view piece, llama_token, auto) {
        std::fwrite(piece.data(), 1, piece.size(), stdout);
        std::fflush(stdout);
        return true;
      };
    auto rec = exec::generate(*engine, *tokens, gp, {}, on_token);
    if (!rec) return report_error(rec.status());
    any_synthetic |= model->info().synthetic;
    if (o.json) {
      std::printf("%s\n", record_json(*model, *rec).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
      continue;
    }
    if (!stream_text) {
      print_summary_row(model->info(), *rec);
      continue;
    }
    std::printf("\n");
    std::fprintf(stderr,
                 "[%s] prompt %d tokens in %.1f ms (%.1f tok/s) | generated %d tokens, decode %.1f tok/s | finish: %s\n",
                 model->info().name.c_str(), rec->n_prompt_tokens, rec->prefill_ms, rec->prefill_tokens_per_second(),
                 rec->n_generated, rec->decode_tokens_per_second(), finish_reason_name(rec->finish_reason));
  }
  std::fflush(stdout);
  if (!o.json) {
    std::fprintf(stderr, "%zu model(s) resident, peak RSS %.1f MiB\n", loaded.size(), peak_rss_bytes() / 1048576.0);
    if (any_synthetic) std::fprintf(stderr, "%s\n", kSyntheticNotice);
  }
  return 0;
}

} // namespace

void add_generate_command(CLI::App &app, Runner &runner) {
  auto opts = std::make_shared<GenerateOptions>();
  CLI::App *sub = app.add_subcommand("generate", "Generate text with one or more co-resident models");
  sub->add_option("-m,--model", opts->models, "GGUF model file; repeat to load several models into one process");
  add_config_source(sub, opts->source, "Route through A-IO with this config (probe, policy, strategy); or --small and --large");
  sub->add_option("--policy", opts->policy, "With --config: the policy to use instead of the config's default");
  sub->add_option("--label", opts->label, "With --config: the request's true category (for the oracle policy)");
  sub->add_option("-p,--prompt", opts->prompt, "Prompt text");
  sub->add_option("--prompt-file", opts->prompt_file, "Read the prompt from this file");
  sub->add_flag("--chat", opts->chat, "Wrap the prompt as a user message in the model's chat template");
  sub->add_option("-n,--max-tokens", opts->max_tokens, "Most tokens to generate")->capture_default_str();
  sub->add_option("--temp", opts->temperature, "Sampling temperature; 0 = greedy")->capture_default_str();
  sub->add_option("--top-k", opts->top_k, "Top-k cut before sampling (0 = off)")->capture_default_str();
  sub->add_option("--top-p", opts->top_p, "Nucleus (top-p) cut before sampling")->capture_default_str();
  sub->add_option("--seed", opts->seed, "Sampling seed")->capture_default_str();
  sub->add_option("--stop", opts->stop, "Stop string (repeatable); the output ends before it");
  sub->add_option("-c,--ctx-size", opts->ctx_size, "Context size in tokens (default: min(4096, training length))");
  sub->add_option("-t,--threads", opts->threads, "CPU threads (0 = all)");
  sub->add_option("--n-gpu-layers", opts->n_gpu_layers, "Layers to offload to an accelerator (-1 = all)");
  sub->add_flag("--ignore-eos", opts->ignore_eos, "Do not stop at end-of-generation tokens (benchmarking)");
  sub->add_flag("--json", opts->json, "Print one JSON record per model instead of text");
  sub->callback([opts, &runner] { runner = [opts] { return run_generate(*opts); }; });
}

} // namespace aio::cli
