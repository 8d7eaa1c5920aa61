// DraftModelProposer: draft-model speculative decoding's proposer. It keeps the draft model's own KV cache (one
// sequence per slot of the target's engine, same ids) and proposes tokens for every drafting sequence at once: each
// draft step is ONE llama_decode of the draft model over all of them, so drafting is batched like verification is.
// How many tokens it drafts follows how its recent proposals fared (AdaptiveDraftLength).
// Not thread-safe: the target engine's thread drives it.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "decode/adaptive_draft.h"
#include "decode/proposer.h"
#include "engine/prob_sampler.h"
#include "engine/session.h"

namespace aio::decode {

class DraftModelProposer final : public Proposer {
public:
  // Fails when `draft` cannot draft for `target` (their vocabularies differ) or its cache cannot be made.
  static Expected<std::unique_ptr<DraftModelProposer>> create(std::shared_ptr<const engine::Model> draft,
                                                              const engine::Model &target, int32_t n_slots,
                                                              uint32_t n_ctx_per_slot, int32_t n_batch,
                                                              int32_t n_threads);
  ~DraftModelProposer() override;

  void begin(llama_seq_id seq, const StrategyParams &strategy, const SamplingParams &sampling) override;
  // Catch-up tokens (what a sequence's history holds beyond the drafter's cache) are prefilled in chunks first; then
  // draft step j decodes the (j-1)-th draft of every sequence that still wants more, all in one batch.
  Status propose(std::span<ProposalRequest> requests) override;
  void verified(llama_seq_id seq, int32_t n_drafted, int32_t n_accepted, llama_pos n_kept) override;

  const engine::Model &model() const { return session_->model(); }
  // Positions of `seq` the drafter has seen.
  llama_pos n_past(llama_seq_id seq) const { return seqs_.at(static_cast<size_t>(seq)).n_past; }

private:
  struct Seq {
    llama_pos n_past = 0;                     // positions in the drafter's cache
    std::optional<engine::ProbSampler> sampler; // the drafter's draws (an independent random stream)
    std::optional<AdaptiveDraftLength> length;
    bool sampled = false;                     // record each draft's distribution (sampled requests)
  };
  DraftModelProposer() = default;
  void keep(llama_seq_id seq, llama_pos n_kept);
  std::unique_ptr<engine::Session> session_;
  std::vector<Seq> seqs_;
  llama_batch batch_{};
  int32_t n_batch_ = 0;
};

} // namespace aio::decode
