// Where a command's config comes from: a file (--config aio.yaml), or two GGUFs (--small A --large B), which stand
// for the config `aio config init --small A --large B` writes (config/pair_config.h).
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "config/config.h"

namespace aio::cli {

struct ConfigSource {
  std::string config;
  std::string small, large;
};

// Adds --config, --small and --large to the subcommand (--config excludes the pair; each of the pair needs the other).
void add_config_source(CLI::App *sub, ConfigSource &src, const std::string &config_help);

// The config: the file's, or the pair's after checking that both GGUFs share one tokenizer. Errors say which flags to
// give when neither was.
Expected<config::AioConfig> load_config_source(const ConfigSource &src);

// Both files load (tokenizer and metadata only, no weights) and have one vocabulary - the same tokens, ids and special
// tokens - as two models of one family do. The error names the first difference.
Status check_pair_tokenizers(const std::string &small, const std::string &large);

} // namespace aio::cli
