// BatchDrafter: the draft model's side of speculative decoding in the server. It keeps its own KV cache (one sequence
// per slot of the target's BatchEngine, same ids) and proposes tokens for every drafting slot at once: each draft
// step is ONE llama_decode of the draft model over all of them, so drafting is batched like verification is.
// Not thread-safe: the target engine's thread drives it.
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "decode/speculative.h"
#include "engine/session.h"

namespace aio::serve {

class BatchDrafter {
public:
  // Fails when `draft` cannot draft for `target` (their vocabularies differ) or its cache cannot be made.
  static Expected<std::unique_ptr<BatchDrafter>> create(std::shared_ptr<const engine::Model> draft,
                                                        const engine::Model &target, int32_t n_slots,
                                                        uint32_t n_ctx_per_slot, int32_t n_batch, int32_t n_threads);
  ~BatchDrafter();

  struct Want {
    llama_seq_id seq = 0;
    std::span<const llama_token> text; // the sequence's prompt + output so far (the drafter catches up on it)
    int32_t k = 0;                     // tokens to propose
    engine::ProbSampler *sampler = nullptr; // the drafter's sampler for this sequence
    bool keep_dists = false;           // record each draft's distribution (sampled requests)
    decode::Proposal *out = nullptr;
  };
  // Proposes wants[i].k tokens after each wants[i].text. Catch-up tokens are prefilled in chunks first; then draft
  // step j decodes the (j-1)-th draft of every sequence that still wants more, all in one batch.
  Status propose(std::span<Want> wants);
  // The target kept `n_kept` positions of `seq`: forget what the drafter has beyond them.
  void keep(llama_seq_id seq, llama_pos n_kept);
  // The slot got a new request.
  void reset(llama_seq_id seq);
  const engine::Model &model() const { return session_->model(); }
  // Positions of `seq` the drafter has seen.
  llama_pos n_past(llama_seq_id seq) const { return n_past_.at(static_cast<size_t>(seq)); }

private:
  BatchDrafter() = default;
  std::unique_ptr<engine::Session> session_;
  std::vector<llama_pos> n_past_; // per sequence
  llama_batch batch_{};
  int32_t n_batch_ = 0;
};

} // namespace aio::serve
