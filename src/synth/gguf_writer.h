// Writes a synthetic GGUF: a real architecture's tensors filled with seeded random weights, plus a real tokenizer.
// llama.cpp (and so `aio`, llama-bench, llama-server) loads the result like any converted model.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "aio/status.h"
#include "synth/presets.h"
#include "synth/vocab.h"

namespace aio::synth {

enum class WeightType { f16, q8_0, q4_0 };
Expected<WeightType> parse_weight_type(const std::string &name);
const char *weight_type_name(WeightType t);

struct SynthParams {
  ArchPreset preset;
  VocabSpec vocab;
  WeightType type = WeightType::q8_0; // storage type of the 2-D weight matrices; norms stay F32
  uint64_t seed = 1;                  // same seed, preset, type and vocabulary -> byte-identical file
  std::string out_path;
  int n_threads = 0;                  // 0 = all hardware threads (the output does not depend on it)
  Status validate() const;
};

// Called as bytes of tensor data are written: (done, total).
using SynthProgress = std::function<void(uint64_t done, uint64_t total)>;

// Writes to out_path + ".partial" and renames on success, so a crash never leaves a file that looks complete.
Status write_synthetic_gguf(const SynthParams &params, const SynthProgress &progress = {});

} // namespace aio::synth
