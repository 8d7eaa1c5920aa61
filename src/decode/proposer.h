// Proposer: where speculative tokens come from. The executor (exec::BatchEngine) asks the proposers of its speculative
// sequences for drafts before each batched step and verifies them inside that step; a proposer never decodes the
// target model and never decides a route. Plain decoding has no proposer.
#pragma once

#include <map>
#include <span>
#include <vector>

#include "aio/route.h"
#include "decode/speculative.h"
#include "engine/sampling.h"

namespace aio::decode {

// One sequence's request for drafts in this step.
struct ProposalRequest {
  llama_seq_id seq = 0;
  std::span<const llama_token> history; // prompt + output so far; its last token is the one the target decodes next
  int32_t max_tokens = 0;               // the most drafts that fit the token budget, the context and the batch
  Proposal *out = nullptr;              // filled with 0..max_tokens drafts
};

class Proposer {
public:
  virtual ~Proposer() = default;
  // A new request starts in sequence `seq`, decoding with `strategy` and `sampling`.
  virtual void begin(llama_seq_id seq, const StrategyParams &strategy, const SamplingParams &sampling) = 0;
  // Fills every request's proposal (all sequences at once, so a model-based proposer batches its own steps).
  virtual Status propose(std::span<ProposalRequest> requests) = 0;
  // The target verified `n_drafted` proposed tokens of `seq`, accepted `n_accepted` and keeps `n_kept` positions.
  virtual void verified(llama_seq_id seq, int32_t n_drafted, int32_t n_accepted, llama_pos n_kept) = 0;
};

// Prompt Lookup Decoding's proposer: drafts copied from the sequence's own earlier text (no second model).
class PromptLookupProposer final : public Proposer {
public:
  void begin(llama_seq_id seq, const StrategyParams &strategy, const SamplingParams &) override {
    params_[seq] = strategy;
  }
  Status propose(std::span<ProposalRequest> requests) override;
  void verified(llama_seq_id, int32_t, int32_t, llama_pos) override {}

private:
  std::map<llama_seq_id, StrategyParams> params_; // window N and lookahead L of each sequence's request
};

} // namespace aio::decode
