#include "engine/decode_loop.h"

namespace aio::engine {

DecodeLoop::DecodeLoop(Session &session, const GenerateParams &params, const TokenCallback &on_token, llama_seq_id seq)
    : session_(session), params_(params), seq_(seq), out_(session.model(), params, on_token, session.n_ctx()) {}

DecodeLoop::~DecodeLoop() {
  if (batch_capacity_ > 0) llama_batch_free(batch_);
}

Status DecodeLoop::start(const std::vector<llama_token> &prompt, int32_t n_cached) {
  AIO_RETURN_IF_ERROR(params_.validate());
  if (prompt.empty()) return invalid_argument("the prompt is empty: give at least one token of text");
  const auto n_ctx = static_cast<size_t>(session_.n_ctx());
  if (prompt.size() >= n_ctx)
    return context_overflow("the prompt is " + std::to_string(prompt.size()) + " tokens but the context holds " +
                            std::to_string(n_ctx) + " (and one more is needed to generate); shorten the prompt or "
                            "raise the context size (the model was trained for " +
                            std::to_string(session_.model().info().n_ctx_train) + ")");
  prompt_ = prompt;
  // At least the last prompt token is decoded here: its logits give the first generated token.
  const auto keep = static_cast<llama_pos>(std::clamp<int32_t>(n_cached, 0, static_cast<int32_t>(prompt.size()) - 1));
  session_.truncate(seq_, keep);
  out_.start(static_cast<int32_t>(prompt.size()), keep);
  AIO_RETURN_IF_ERROR(session_.prefill(seq_, std::span(prompt).subspan(static_cast<size_t>(keep)), keep));
  n_past_ = static_cast<llama_pos>(prompt.size());
  return {};
}

Status DecodeLoop::decode(std::span<const llama_token> tokens, bool all_logits) {
  AIO_CHECK(!tokens.empty() && static_cast<int32_t>(tokens.size()) <= room());
  const auto n = static_cast<int32_t>(tokens.size());
  if (n > batch_capacity_) {
    if (batch_capacity_ > 0) llama_batch_free(batch_);
    batch_ = llama_batch_init(n, 0, 1);
    batch_capacity_ = n;
  }
  batch_.n_tokens = 0;
  for (int32_t i = 0; i < n; ++i)
    batch_add(batch_, tokens[static_cast<size_t>(i)], n_past_ + i, seq_, all_logits || i == n - 1);
  AIO_RETURN_IF_ERROR(session_.decode(batch_));
  n_past_ += n;
  ++out_.record().n_decode_steps;
  return {};
}

void DecodeLoop::rollback(llama_pos pos) {
  AIO_CHECK(pos <= n_past_);
  session_.truncate(seq_, pos);
  n_past_ = pos;
}

} // namespace aio::engine
