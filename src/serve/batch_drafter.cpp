#include "serve/batch_drafter.h"

namespace aio::serve {

Expected<std::unique_ptr<BatchDrafter>> BatchDrafter::create(std::shared_ptr<const engine::Model> draft,
                                                             const engine::Model &target, int32_t n_slots,
                                                             uint32_t n_ctx_per_slot, int32_t n_batch,
                                                             int32_t n_threads) {
  std::string why;
  if (!target.shares_vocab_with(*draft, &why))
    return invalid_argument("model " + draft->info().name + " cannot draft for " + target.info().name +
                            ": their vocabularies differ (" + why +
                            "); speculative decoding needs two models with the same tokenizer");
  std::unique_ptr<BatchDrafter> d(new BatchDrafter());
  engine::SessionParams sp;
  sp.n_ctx = n_ctx_per_slot * static_cast<uint32_t>(n_slots);
  sp.n_batch = static_cast<uint32_t>(n_batch);
  sp.n_seq_max = static_cast<uint32_t>(n_slots);
  sp.n_threads = n_threads;
  sp.kv_unified = true;
  auto session = engine::Session::create(std::move(draft), sp);
  if (!session) return session.status();
  d->session_ = std::move(*session);
  d->n_past_.assign(static_cast<size_t>(n_slots), 0);
  d->n_batch_ = n_batch;
  d->batch_ = llama_batch_init(n_batch, 0, 1);
  return d;
}

BatchDrafter::~BatchDrafter() {
  if (batch_.token != nullptr) llama_batch_free(batch_);
}

void BatchDrafter::keep(llama_seq_id seq, llama_pos n_kept) {
  llama_pos &n = n_past_.at(static_cast<size_t>(seq));
  if (n_kept < n) {
    session_->truncate(seq, n_kept);
    n = n_kept;
  }
}

void BatchDrafter::reset(llama_seq_id seq) { keep(seq, 0); }

Status BatchDrafter::propose(std::span<Want> wants) {
  auto add = [&](llama_token t, llama_seq_id seq, bool logits) {
    return engine::batch_add(batch_, t, n_past_[static_cast<size_t>(seq)]++, seq, logits);
  };
  // Catch-up: everything each sequence has not seen except its last token, in as few chunks as fit.
  batch_.n_tokens = 0;
  for (Want &w : wants) {
    AIO_CHECK(w.k > 0 && !w.text.empty() && w.out != nullptr && w.sampler != nullptr);
    while (n_past_[static_cast<size_t>(w.seq)] + 1 < static_cast<llama_pos>(w.text.size())) {
      if (batch_.n_tokens == n_batch_) {
        AIO_RETURN_IF_ERROR(session_->decode(batch_));
        batch_.n_tokens = 0;
      }
      add(w.text[static_cast<size_t>(n_past_[static_cast<size_t>(w.seq)])], w.seq, false);
    }
  }
  if (batch_.n_tokens > 0) AIO_RETURN_IF_ERROR(session_->decode(batch_));

  // Draft steps: the first feeds each sequence's last token, later ones the draft just made.
  std::vector<llama_token> input(wants.size());
  std::vector<int32_t> row(wants.size(), -1);
  for (size_t i = 0; i < wants.size(); ++i) input[i] = wants[i].text.back();
  for (bool more = true; more;) {
    batch_.n_tokens = 0;
    for (size_t i = 0; i < wants.size(); ++i) {
      Want &w = wants[i];
      row[i] = static_cast<int32_t>(w.out->tokens.size()) < w.k ? add(input[i], w.seq, true) : -1;
    }
    if (batch_.n_tokens == 0) break;
    AIO_RETURN_IF_ERROR(session_->decode(batch_));
    more = false;
    for (size_t i = 0; i < wants.size(); ++i) {
      if (row[i] < 0) continue;
      Want &w = wants[i];
      engine::TokenDistribution q = w.sampler->distribution(session_->logits(row[i]));
      input[i] = w.sampler->draw(q);
      w.out->tokens.push_back(input[i]);
      if (w.keep_dists) w.out->draft_dists.push_back(std::move(q));
      more = more || static_cast<int32_t>(w.out->tokens.size()) < w.k;
    }
  }
  return {};
}

} // namespace aio::serve
