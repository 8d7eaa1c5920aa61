#include "synth/presets.h"

namespace aio::synth {

const std::vector<ArchPreset> &arch_presets() {
  // Shapes from the models' published configs (Meta Llama 3.x). The tiny pair keeps test runs to seconds.
  static const std::vector<ArchPreset> presets = {
      {"tiny-small", "test pair, small side: 2 layers, hidden 64 (~8M params with the Llama-3 vocabulary)",
       64, 2, 4, 2, 192, 4096, 500000.0f, 1e-5f, true},
      {"tiny-large", "test pair, large side: 4 layers, hidden 256 (~36M params with the Llama-3 vocabulary)",
       256, 4, 8, 4, 768, 4096, 500000.0f, 1e-5f, true},
      // The paper's small:large cost ratio (1B:8B, about 1:6.5 in weights read per token) one size down, so a serving
      // benchmark sweeping many loads fits this machine's time: SmolLM2-135M's shape beside Llama 3.2 1B.
      {"smollm2-135m", "SmolLM2 135M shape: 30 layers, hidden 576, GQA 9/3, FFN 1536, tied embeddings",
       576, 30, 9, 3, 1536, 8192, 100000.0f, 1e-5f, true},
      {"llama3.2-1b", "Llama 3.2 1B shape: 16 layers, hidden 2048, GQA 32/8, FFN 8192, tied embeddings",
       2048, 16, 32, 8, 8192, 131072, 500000.0f, 1e-5f, true},
      {"llama3.2-3b", "Llama 3.2 3B shape: 28 layers, hidden 3072, GQA 24/8, FFN 8192, tied embeddings",
       3072, 28, 24, 8, 8192, 131072, 500000.0f, 1e-5f, true},
      {"llama3.1-8b", "Llama 3.1 8B shape: 32 layers, hidden 4096, GQA 32/8, FFN 14336",
       4096, 32, 32, 8, 14336, 131072, 500000.0f, 1e-5f, false},
  };
  return presets;
}

std::optional<ArchPreset> find_arch_preset(const std::string &name) {
  for (const auto &p : arch_presets())
    if (p.name == name) return p;
  return std::nullopt;
}

unsigned long long preset_n_params(const ArchPreset &p, int n_vocab) {
  const unsigned long long e = p.n_embd, ff = p.n_ff, v = n_vocab;
  const unsigned long long head_dim = e / p.n_head, kv = head_dim * p.n_head_kv;
  const unsigned long long per_layer = 2 * e * e + 2 * e * kv + 3 * e * ff + 2 * e;
  return v * e * (p.tied_embeddings ? 1 : 2) + p.n_layer * per_layer + e;
}

} // namespace aio::synth
