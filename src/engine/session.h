// Session: a llama.cpp context (KV cache + compute buffers) over one Model, holding one or more sequences.
// Not thread-safe: one thread drives a Session at a time. Many Sessions may share one Model.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "aio/status.h"
#include "engine/model.h"

namespace aio::engine {

struct SessionParams {
  uint32_t n_ctx = 4096;    // KV cache size in tokens (0 = the model's training context length)
  uint32_t n_batch = 512;   // most tokens one llama_decode call takes; longer prompts are fed in chunks
  uint32_t n_seq_max = 1;   // sequences that can live in the cache at the same time
  int32_t n_threads = 0;    // CPU threads; 0 = all hardware threads
  // One KV cache shared by all sequences (a sequence may use whatever is free) rather than n_ctx / n_seq_max each.
  bool kv_unified = true;
  llama_flash_attn_type flash_attn = LLAMA_FLASH_ATTN_TYPE_AUTO; // auto: llama.cpp decides per backend
  // Count the forward passes llama.cpp runs (one per ubatch it splits a batch into; Session::n_passes) - for tests,
  // through llama.cpp's evaluation callback.
  bool count_passes = false;
  Status validate() const;
};

// Appends one token of one sequence to `batch` (at batch.n_tokens) and returns its row: the index its logits have
// after the decode when `logits` is set.
int32_t batch_add(llama_batch &batch, llama_token token, llama_pos pos, llama_seq_id seq, bool logits);

class Session {
public:
  static Expected<std::unique_ptr<Session>> create(std::shared_ptr<const Model> model, const SessionParams &params);

  const Model &model() const { return *model_; }
  llama_context *raw() const { return ctx_.get(); }
  uint32_t n_ctx() const;
  uint32_t n_batch() const;

  // Runs one batch. Each llama_decode return code becomes a Status: 1 (no KV slot) -> resource_exhausted
  // (retryable with a smaller batch or a freed sequence), 2 -> aborted, -1 -> invalid_argument, others -> internal.
  Status decode(const llama_batch &batch);


  // Logits of output i of the last decode (-1 = the last output). Valid until the next decode.
  const float *logits(int32_t i = -1) const;

  // Forget sequence `seq` from position `from` on (from = 0 forgets it all).
  void truncate(llama_seq_id seq, llama_pos from = 0);
  // Forget every sequence.
  void clear();
  // Highest position stored for `seq`, or -1 when it is empty.
  llama_pos last_pos(llama_seq_id seq) const;
  // Forward passes run so far (SessionParams::count_passes; else 0).
  int64_t n_passes() const { return passes_; }

private:
  Session() = default;
  std::shared_ptr<const Model> model_;
  llama_context_ptr ctx_;
  int64_t passes_ = 0;
};

} // namespace aio::engine
