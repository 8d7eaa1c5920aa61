// `aio config init --small A --large B`: writes the commented aio.yaml that `aio serve --small A --large B` serves, for
// the user to grow (more models, another probe, their own policies).
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "commands.h"
#include "config/pair_config.h"

namespace aio::cli {
namespace {
namespace fs = std::filesystem;

struct ConfigInitOptions {
  std::string small, large;
  std::string output = "aio.yaml";
  uint32_t n_ctx = 4096;
  bool force = false;
};

int run_config_init(const ConfigInitOptions &o) {
  if (Status s = check_pair_tokenizers(o.small, o.large); !s.ok()) return report_error(s);
  const std::string text = config::pair_config_yaml({.small = o.small, .large = o.large, .n_ctx = o.n_ctx});
  // What is written must load: the same check `aio serve --config` makes (models named, policy, probe).
  if (auto cfg = config::load_config_text(text, "the config aio config init writes"); !cfg)
    return report_error(cfg.status());
  if (o.output == "-") {
    std::fwrite(text.data(), 1, text.size(), stdout);
    return 0;
  }
  std::error_code ec;
  if (fs::exists(o.output, ec) && !o.force)
    return report_error(invalid_argument(o.output + " exists; pass --force to replace it, or -o another path"));
  const fs::path tmp = o.output + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out.flush())
      return report_error(invalid_argument("cannot write " + tmp.string() + ": check the directory exists and is writable"));
  }
  fs::rename(tmp, o.output, ec); // whole or not at all: a reader never sees half a config
  if (ec) return report_error(invalid_argument("cannot write " + o.output + ": " + ec.message()));
  std::printf("wrote %s; serve it with: aio serve --config %s\n", o.output.c_str(), o.output.c_str());
  return 0;
}

} // namespace

void add_config_command(CLI::App &app, Runner &runner) {
  CLI::App *cmd = app.add_subcommand("config", "Write A-IO configs");
  cmd->require_subcommand(1);
  auto o = std::make_shared<ConfigInitOptions>();
  CLI::App *init = cmd->add_subcommand(
      "init", "Write the commented aio.yaml for two GGUFs (what `aio serve --small A --large B` serves)");
  init->add_option("--small", o->small, "The small model's GGUF")->required();
  init->add_option("--large", o->large, "The large model's GGUF (same tokenizer as the small one)")->required();
  init->add_option("-o,--output", o->output, "Where to write it ('-' = standard output)")->capture_default_str();
  init->add_option("--n-ctx", o->n_ctx, "Each model's context (KV cache) in tokens per slot")
      ->check(CLI::Range(64u, 1u << 24))
      ->capture_default_str();
  init->add_flag("--force", o->force, "Replace the file if it exists");
  init->callback([o, &runner] { runner = [o] { return run_config_init(*o); }; });
}

} // namespace aio::cli
