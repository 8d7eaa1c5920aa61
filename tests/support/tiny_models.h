// The tiny synthetic model pair, written once per test process by the same code as `aio synth`.
#pragma once

#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "exec/batch_engine.h"

namespace aio::test {

struct TinyPair {
  std::string small_path;   // tiny-small, q8_0
  std::string large_path;   // tiny-large, q8_0
  bool llama3_vocab = false; // true: the real Llama-3 tokenizer; false: the built-in byte vocabulary
};

// Synthesizes the pair on first use (the Llama-3 tokenizer when it was fetched, else the byte vocabulary).
const TinyPair &tiny_pair();

// The executor with one slot over `model` (the sequential form every CLI path runs), one thread.
std::unique_ptr<exec::BatchEngine> one_slot_engine(std::shared_ptr<const engine::Model> model, uint32_t n_ctx = 1024,
                                                   int32_t n_batch = 512);
// The batching executor as the model tests drive it: `n_slots` over `model`, `n_ctx_per_slot` each, 64-token steps,
// one thread (null, with a test failure, when it cannot be made).
std::unique_ptr<exec::BatchEngine> batch_engine(std::shared_ptr<const engine::Model> model, int32_t n_slots,
                                                uint32_t n_ctx_per_slot = 512, int32_t n_batch = 64);

// Base of the suites that run the tiny pair itself: both models loaded once per suite (read-only, shared by its
// tests), released after it.
class TinyPairTest : public ::testing::Test {
protected:
  static void SetUpTestSuite();
  static void TearDownTestSuite();
  static std::shared_ptr<engine::Model> small_, large_;
};

// Exactly n greedy tokens (EOS ignored): what the tests compare across strategies, batches and engines.
inline GenerateParams greedy(int n) {
  GenerateParams p;
  p.max_tokens = n;
  p.ignore_eos = true;
  return p;
}

// Writes one tiny model with the built-in byte vocabulary (no download needed) and returns its path.
std::string write_byte_vocab_model(const std::string &preset, const std::string &dir, unsigned seed = 1);

} // namespace aio::test
