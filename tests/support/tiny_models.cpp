#include "support/tiny_models.h"

#include <cstdlib>
#include <cstdio>
#include <mutex>

#include "support/paths.h"
#include "synth/gguf_writer.h"

namespace aio::test {
namespace {

std::string write_model(const std::string &preset, const synth::VocabSpec &vocab, const std::string &path,
                        unsigned seed) {
  synth::SynthParams p;
  p.preset = *synth::find_arch_preset(preset);
  p.vocab = vocab;
  p.type = synth::WeightType::q8_0;
  p.seed = seed;
  p.out_path = path;
  Status s = synth::write_synthetic_gguf(p);
  if (!s.ok()) {
    std::fprintf(stderr, "test set-up could not synthesize %s: %s\n", path.c_str(), s.to_string().c_str());
    std::abort();
  }
  return path;
}

} // namespace

const TinyPair &tiny_pair() {
  static TinyPair pair;
  static std::once_flag once;
  std::call_once(once, [] {
    const std::string dir = make_temp_dir("models");
    synth::VocabSpec vocab = synth::byte_level_vocab();
    if (const std::string tok = llama3_tokenizer_dir(); !tok.empty()) {
      if (auto v = synth::load_hf_tokenizer(tok); v) {
        vocab = std::move(*v);
        pair.llama3_vocab = true;
      }
    }
    pair.small_path = write_model("tiny-small", vocab, dir + "/tiny-small.gguf", 1);
    pair.large_path = write_model("tiny-large", vocab, dir + "/tiny-large.gguf", 2);
  });
  return pair;
}

std::shared_ptr<engine::Model> TinyPairTest::small_, TinyPairTest::large_;

void TinyPairTest::SetUpTestSuite() {
  small_ = *engine::Model::load({.path = tiny_pair().small_path});
  large_ = *engine::Model::load({.path = tiny_pair().large_path});
}

void TinyPairTest::TearDownTestSuite() {
  small_.reset();
  large_.reset();
}

std::string write_byte_vocab_model(const std::string &preset, const std::string &dir, unsigned seed) {
  return write_model(preset, synth::byte_level_vocab(), dir + "/" + preset + "-byte.gguf", seed);
}

std::unique_ptr<exec::BatchEngine> one_slot_engine(std::shared_ptr<const engine::Model> model, uint32_t n_ctx,
                                                   int32_t n_batch) {
  exec::BatchEngineParams p;
  p.n_slots = 1;
  p.n_ctx_per_slot = n_ctx;
  p.n_batch = n_batch;
  p.n_threads = 1;
  auto e = exec::BatchEngine::create(std::move(model), p);
  return e.ok() ? std::move(*e) : nullptr;
}

std::unique_ptr<exec::BatchEngine> batch_engine(std::shared_ptr<const engine::Model> model, int32_t n_slots,
                                                uint32_t n_ctx_per_slot, int32_t n_batch) {
  exec::BatchEngineParams p;
  p.n_slots = n_slots;
  p.n_ctx_per_slot = n_ctx_per_slot;
  p.n_batch = n_batch;
  p.n_threads = 1;
  auto e = exec::BatchEngine::create(std::move(model), p);
  EXPECT_TRUE(e.ok()) << e.status().to_string();
  return e.ok() ? std::move(*e) : nullptr;
}

} // namespace aio::test
