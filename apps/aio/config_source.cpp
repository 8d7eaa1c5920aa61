#include "config_source.h"

#include "config/pair_config.h"
#include "engine/model.h"

namespace aio::cli {

void add_config_source(CLI::App *sub, ConfigSource &src, const std::string &config_help) {
  auto *config = sub->add_option("--config", src.config, config_help);
  auto *small = sub->add_option("--small", src.small,
                                "Instead of --config: the small model's GGUF (with --large; the paper's policy and the "
                                "built-in probe, as `aio config init` writes them)");
  auto *large = sub->add_option("--large", src.large, "Instead of --config: the large model's GGUF (with --small)");
  small->needs(large);
  large->needs(small);
  config->excludes(small)->excludes(large);
}

Status check_pair_tokenizers(const std::string &small, const std::string &large) {
  auto load = [](const std::string &path) {
    return engine::Model::load({.path = path, .vocab_only = true});
  };
  auto s = load(small);
  if (!s) return Status(s.status().code(), "--small: " + s.status().message());
  auto l = load(large);
  if (!l) return Status(l.status().code(), "--large: " + l.status().message());
  std::string why;
  if (!(*s)->shares_vocab_with(**l, &why))
    return invalid_argument("--small " + small + " and --large " + large + " do not share a tokenizer (" + why +
                            "). A-IO pairs two models of one family (e.g. Llama 3.2 1B and Llama 3.1 8B): the probe "
                            "counts the context in the small model's tokens and draft-model speculation hands tokens "
                            "between them. Pick two GGUFs of one family, or write a config with `aio config init` and "
                            "edit it if you know the pair is what you want");
  return {};
}

Expected<config::AioConfig> load_config_source(const ConfigSource &src) {
  if (!src.config.empty()) return config::load_config(src.config);
  if (src.small.empty() || src.large.empty())
    return invalid_argument("give --config aio.yaml, or two GGUFs with --small SMALL.gguf --large LARGE.gguf");
  AIO_RETURN_IF_ERROR(check_pair_tokenizers(src.small, src.large));
  return config::load_config_text(config::pair_config_yaml({.small = src.small, .large = src.large}),
                                  "--small " + src.small + " --large " + src.large);
}

} // namespace aio::cli
