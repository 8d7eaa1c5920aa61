// Architecture presets for synthetic models: real shapes (hidden size, layers, heads, FFN) of known models, or tiny
// ones for tests. Weights are random; only the shapes, and so the speed and memory, are real.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace aio::synth {

struct ArchPreset {
  std::string name;         // what `aio synth --preset` takes
  std::string description;  // one line for `aio synth --list`
  int n_embd = 0;           // hidden size
  int n_layer = 0;
  int n_head = 0;
  int n_head_kv = 0;        // grouped-query attention: fewer KV heads than query heads
  int n_ff = 0;             // feed-forward (SwiGLU) width
  int n_ctx_train = 0;      // context length written to the metadata
  float rope_freq_base = 500000.0f;
  float rms_norm_eps = 1e-5f;
  bool tied_embeddings = false; // output projection shares the token embedding (no output.weight tensor)
};

const std::vector<ArchPreset> &arch_presets();
std::optional<ArchPreset> find_arch_preset(const std::string &name);

// Parameter count for a given vocabulary size.
unsigned long long preset_n_params(const ArchPreset &p, int n_vocab);

} // namespace aio::synth
