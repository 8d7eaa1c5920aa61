// One fuzz target = one function over bytes. Built with clang and -DAIO_LIBFUZZER it becomes libFuzzer's entry point
// (`make fuzz`); built into the unit tests it is run over the seed corpus and every input a fuzzer ever found
// (fuzz/corpus, fuzz/regressions), so a crash once found stays fixed under `make test` too.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#ifdef AIO_LIBFUZZER
#define AIO_FUZZ_TARGET(name)                                                                                         \
  int name(const uint8_t *data, size_t size);                                                                          \
  extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return name(data, size); }                 \
  int name(const uint8_t *data, size_t size)
#else
#define AIO_FUZZ_TARGET(name) int name(const uint8_t *data, size_t size)
#endif

namespace aio::fuzz {

// A property the code under test must keep: when it does not, stop loudly (libFuzzer records the input).
inline void require(bool holds) {
  if (!holds) std::abort();
}

// The input as a file the loaders can open: a per-process scratch directory, the name ending in `suffix` (loaders
// pick the format by extension).
std::string write_input(const uint8_t *data, size_t size, const std::string &suffix);

} // namespace aio::fuzz
