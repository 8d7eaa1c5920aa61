#include "decode/draft_proposer.h"

namespace aio::decode {

Expected<std::unique_ptr<DraftModelProposer>> DraftModelProposer::create(std::shared_ptr<const engine::Model> draft,
                                                                         const engine::Model &target, int32_t n_slots,
                                                                         uint32_t n_ctx_per_slot, int32_t n_batch,
                                                                         int32_t n_threads) {
  std::string why;
  if (!target.shares_vocab_with(*draft, &why))
    return invalid_argument("model " + draft->info().name + " cannot draft for " + target.info().name +
                            ": their vocabularies differ (" + why +
                            "); speculative decoding needs two models with the same tokenizer");
  std::unique_ptr<DraftModelProposer> d(new DraftModelProposer());
  engine::SessionParams sp;
  sp.n_ctx = n_ctx_per_slot * static_cast<uint32_t>(n_slots);
  sp.n_batch = static_cast<uint32_t>(n_batch);
  sp.n_seq_max = static_cast<uint32_t>(n_slots);
  sp.n_threads = n_threads;
  sp.kv_unified = true;
  auto session = engine::Session::create(std::move(draft), sp);
  if (!session) return session.status();
  d->session_ = std::move(*session);
  d->seqs_.resize(static_cast<size_t>(n_slots));
  d->n_batch_ = n_batch;
  d->batch_ = llama_batch_init(n_batch, 0, 1);
  return d;
}

DraftModelProposer::~DraftModelProposer() {
  if (batch_.token != nullptr) llama_batch_free(batch_);
}

void DraftModelProposer::keep(llama_seq_id seq, llama_pos n_kept) {
  llama_pos &n = seqs_.at(static_cast<size_t>(seq)).n_past;
  if (n_kept < n) {
    session_->truncate(seq, n_kept);
    n = n_kept;
  }
}

void DraftModelProposer::begin(llama_seq_id seq, const StrategyParams &strategy,
                               const SamplingParams &sampling) {
  keep(seq, 0);
  Seq &s = seqs_.at(static_cast<size_t>(seq));
  s.sampler.emplace(drafter_sampling(sampling), model().info().n_vocab);
  s.length.emplace(strategy.draft_tokens);
  s.sampled = !sampling.greedy();
}

void DraftModelProposer::verified(llama_seq_id seq, int32_t n_drafted, int32_t n_accepted, llama_pos n_kept) {
  seqs_.at(static_cast<size_t>(seq)).length->observe(n_drafted, n_accepted);
  keep(seq, n_kept);
}

Status DraftModelProposer::propose(std::span<ProposalRequest> requests) {
  // Who drafts this step, and how many tokens: the adaptive length within the engine's budget (0 while paused).
  std::vector<ProposalRequest *> wants;
  std::vector<int32_t> k;
  for (ProposalRequest &r : requests) {
    AIO_CHECK(!r.history.empty() && r.out != nullptr);
    const int32_t n = std::min(r.max_tokens, seqs_.at(static_cast<size_t>(r.seq)).length->next());
    if (n <= 0) continue;
    wants.push_back(&r);
    k.push_back(n);
  }
  if (wants.empty()) return {};
  auto add = [&](llama_token t, llama_seq_id seq, bool logits) {
    return engine::batch_add(batch_, t, seqs_[static_cast<size_t>(seq)].n_past++, seq, logits);
  };
  // Catch-up: everything each sequence has not seen except its last token, in as few chunks as fit.
  batch_.n_tokens = 0;
  for (ProposalRequest *w : wants) {
    llama_pos &n_past = seqs_[static_cast<size_t>(w->seq)].n_past;
    while (n_past + 1 < static_cast<llama_pos>(w->history.size())) {
      if (batch_.n_tokens == n_batch_) {
        AIO_RETURN_IF_ERROR(session_->decode(batch_));
        batch_.n_tokens = 0;
      }
      add(w->history[static_cast<size_t>(n_past)], w->seq, false);
    }
  }
  if (batch_.n_tokens > 0) AIO_RETURN_IF_ERROR(session_->decode(batch_));

  // Draft steps: the first feeds each sequence's last token, later ones the draft just made.
  std::vector<llama_token> input(wants.size());
  std::vector<int32_t> row(wants.size(), -1);
  for (size_t i = 0; i < wants.size(); ++i) input[i] = wants[i]->history.back();
  for (bool more = true; more;) {
    batch_.n_tokens = 0;
    for (size_t i = 0; i < wants.size(); ++i)
      row[i] = static_cast<int32_t>(wants[i]->out->tokens.size()) < k[i] ? add(input[i], wants[i]->seq, true) : -1;
    if (batch_.n_tokens == 0) break;
    AIO_RETURN_IF_ERROR(session_->decode(batch_));
    more = false;
    for (size_t i = 0; i < wants.size(); ++i) {
      if (row[i] < 0) continue;
      Seq &s = seqs_[static_cast<size_t>(wants[i]->seq)];
      Proposal &out = *wants[i]->out;
      engine::TokenDistribution q = s.sampler->distribution(session_->logits(row[i]));
      input[i] = s.sampler->draw(q);
      out.tokens.push_back(input[i]);
      if (s.sampled) out.draft_dists.push_back(std::move(q));
      more = more || static_cast<int32_t>(out.tokens.size()) < k[i];
    }
  }
  return {};
}

} // namespace aio::decode
