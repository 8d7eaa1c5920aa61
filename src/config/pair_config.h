// The commonest deployment, two GGUFs and the paper's policy, without writing YAML: `aio serve --small A --large B`
// serves exactly the config that `aio config init --small A --large B` writes for the user to grow - one text, made
// here, parsed by the same loader as any config file.
#pragma once

#include <string>

#include "config/config.h"

namespace aio::config {

struct PairSpec {
  std::string small;     // GGUF paths (made absolute by pair_config_yaml, so the file may be moved)
  std::string large;
  uint32_t n_ctx = 4096; // each model's context (KV cache) in tokens
};

// The commented aio.yaml for the pair: both models, the built-in fastText probe, the aio policy, the paper's
// decoding settings and the automatic step budget - every key with a line saying what it does.
std::string pair_config_yaml(const PairSpec &pair);

} // namespace aio::config
