// `aio synth`: write a GGUF with seeded random weights at a real architecture's shape.
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "commands.h"
#include "progress.h"
#include "synth/gguf_writer.h"
#include "util/data_dir.h"

namespace aio::cli {
namespace {

struct SynthOptions {
  std::string preset;
  std::string type = "q8_0";
  uint64_t seed = 1;
  std::string out;
  std::string tokenizer = "llama3";
  int threads = 0;
  bool force = false;
  bool list = false;
};

// "llama3" -> $AIO_TOKENIZER, else the pinned Llama-3 tokenizer shipped in aio's data directory (fetched at build
// time); "byte" -> built in; else a path.
Expected<synth::VocabSpec> resolve_tokenizer(const std::string &spec) {
  if (spec == "byte") return synth::byte_level_vocab();
  std::string path = spec;
  if (spec == "llama3") {
    if (const char *env = std::getenv("AIO_TOKENIZER"); env && *env) {
      path = env;
    } else {
      auto shipped = find_data_file("tokenizer/tokenizer.json", "the Llama-3 tokenizer (fetched when aio was built)");
      if (!shipped) return Status(shipped.status().code(), shipped.status().message() + "; or pass --tokenizer FILE, or --tokenizer byte");
      path = std::move(*shipped);
    }
  }
  return synth::load_hf_tokenizer(path);
}

int list_presets() {
  for (const auto &p : synth::arch_presets())
    std::printf("%-12s %6.2fB params  %s\n", p.name.c_str(), synth::preset_n_params(p, 128256) / 1e9,
                p.description.c_str());
  std::printf("(parameter counts with the 128,256-token Llama-3 vocabulary)\n");
  return 0;
}

int run_synth(const SynthOptions &o) {
  if (o.list) return list_presets();
  if (o.preset.empty()) return report_error(invalid_argument("--preset is required (see `aio synth --list`)"));
  if (o.out.empty()) return report_error(invalid_argument("-o FILE.gguf is required"));
  auto preset = synth::find_arch_preset(o.preset);
  if (!preset) return report_error(invalid_argument("unknown preset '" + o.preset + "'; `aio synth --list` shows them"));
  auto type = synth::parse_weight_type(o.type);
  if (!type) return report_error(type.status());
  if (std::filesystem::exists(o.out) && !o.force)
    return report_error(invalid_argument(o.out + " already exists; pass --force to overwrite it"));
  auto vocab = resolve_tokenizer(o.tokenizer);
  if (!vocab) return report_error(vocab.status());

  synth::SynthParams p;
  p.preset = *preset;
  p.vocab = std::move(*vocab);
  p.type = *type;
  p.seed = o.seed;
  p.out_path = o.out;
  p.n_threads = o.threads;

  Status s;
  {
    Progress bar("writing " + o.out, "MiB", 1048576.0);
    s = synth::write_synthetic_gguf(p, [&](uint64_t done, uint64_t total) { bar.update(done, total); });
  }
  if (!s.ok()) return report_error(s);
  std::printf("wrote %s: preset %s, %s, %.1fM params, %zu-token vocabulary (%s), seed %llu\n", o.out.c_str(),
              p.preset.name.c_str(), synth::weight_type_name(p.type),
              synth::preset_n_params(p.preset, static_cast<int>(p.vocab.tokens.size())) / 1e6, p.vocab.tokens.size(),
              p.vocab.source.c_str(), static_cast<unsigned long long>(p.seed));
  std::printf("%s\n", kSyntheticNotice);
  return 0;
}

} // namespace

void add_synth_command(CLI::App &app, Runner &runner) {
  auto opts = std::make_shared<SynthOptions>();
  CLI::App *sub = app.add_subcommand("synth", "Write a GGUF with seeded random weights at a real model's shape");
  sub->add_option("--preset", opts->preset, "Architecture preset (see --list)");
  sub->add_option("--type", opts->type, "Weight type: f16, q8_0 or q4_0")->capture_default_str();
  sub->add_option("--seed", opts->seed, "Random seed; same seed -> identical file")->capture_default_str();
  sub->add_option("-o,--output", opts->out, "Output .gguf path");
  sub->add_option("--tokenizer", opts->tokenizer,
                  "llama3 (the pinned Llama-3 tokenizer), byte (built-in byte vocabulary), or a tokenizer.json path")
      ->capture_default_str();
  sub->add_option("--threads", opts->threads, "Threads (0 = all); does not change the output");
  sub->add_flag("--force", opts->force, "Overwrite the output file if it exists");
  sub->add_flag("--list", opts->list, "List the presets and exit");
  sub->callback([opts, &runner] { runner = [opts] { return run_synth(*opts); }; });
}

} // namespace aio::cli
