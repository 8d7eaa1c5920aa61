// How a continuation is generated: length, stop strings and sampling. Plain structs shared by every layer (the
// workload a benchmark builds, the request the server parses, the job the engine runs).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "aio/status.h"

namespace aio {

struct SamplingParams {
  float temperature = 0.0f; // 0 = greedy (argmax); > 0 samples from the softened distribution
  int32_t top_k = 40;       // keep the k most likely tokens before sampling (0 = all)
  float top_p = 0.95f;      // then keep the smallest set whose probability reaches p (1 = all)
  uint32_t seed = 0;        // random seed for sampling; the same seed gives the same output
  bool greedy() const { return temperature <= 0.0f; }
  Status validate() const;
};

struct GenerateParams {
  int32_t max_tokens = 128;              // stop after this many generated tokens
  std::vector<std::string> stop;         // stop strings: output ends before the first one (it is not included)
  SamplingParams sampling;               // greedy by default
  bool ignore_eos = false;               // keep going past end-of-generation tokens (benchmarks only)
  Status validate() const;
};

} // namespace aio
