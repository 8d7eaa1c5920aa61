#include "engine/decode_loop.h"

namespace aio::engine {
namespace {
double ms_between(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}
} // namespace

DecodeLoop::DecodeLoop(Session &session, const GenerateParams &params, const TokenCallback &on_token, llama_seq_id seq)
    : session_(session), params_(params), on_token_(on_token), seq_(seq), stream_(params.stop) {}

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
  rec_.n_prompt_tokens = static_cast<int32_t>(prompt.size());
  // At least the last prompt token is decoded here: its logits give the first generated token.
  const auto keep = static_cast<llama_pos>(std::clamp<int32_t>(n_cached, 0, static_cast<int32_t>(prompt.size()) - 1));
  session_.truncate(seq_, keep);
  t_prefill_ = Clock::now();
  AIO_RETURN_IF_ERROR(session_.prefill(seq_, std::span(prompt).subspan(static_cast<size_t>(keep)), keep));
  n_past_ = static_cast<llama_pos>(prompt.size());
  rec_.n_prefill_tokens_saved = keep;
  return {};
}

bool DecodeLoop::emit(llama_token tok) {
  if (rec_.n_generated == 0) {
    t_decode_ = Clock::now();
    rec_.prefill_ms = ms_between(t_prefill_, t_decode_);
  }
  if (!params_.ignore_eos && session_.model().is_end_of_generation(tok)) {
    rec_.finish_reason = FinishReason::end_of_generation;
    return false;
  }
  rec_.tokens.push_back(tok);
  ++rec_.n_generated;
  const std::string text = stream_.push(session_.model().token_to_piece(tok));
  if (on_token_ && !on_token_(text, tok)) {
    rec_.finish_reason = FinishReason::cancelled;
    return false;
  }
  if (stream_.stopped()) {
    rec_.finish_reason = FinishReason::stop_string;
    return false;
  }
  if (rec_.n_generated >= params_.max_tokens) {
    rec_.finish_reason = FinishReason::max_tokens;
    return false;
  }
  // The context holds the prompt and every generated token but the last; a token beyond that could not be decoded to
  // produce another. (Counted from the output, not n_past: speculative steps decode ahead of what is emitted.)
  if (rec_.n_prompt_tokens + rec_.n_generated > static_cast<int32_t>(session_.n_ctx())) {
    rec_.finish_reason = FinishReason::context_full;
    return false;
  }
  return true;
}

Status DecodeLoop::decode(std::span<const llama_token> tokens, bool all_logits) {
  AIO_CHECK(!tokens.empty() && static_cast<int32_t>(tokens.size()) <= room());
  const auto n = static_cast<int32_t>(tokens.size());
  if (n > batch_capacity_) {
    if (batch_capacity_ > 0) llama_batch_free(batch_);
    batch_ = llama_batch_init(n, 0, 1);
    batch_capacity_ = n;
  }
  batch_.n_tokens = n;
  for (int32_t i = 0; i < n; ++i) {
    batch_.token[i] = tokens[static_cast<size_t>(i)];
    batch_.pos[i] = n_past_ + i;
    batch_.n_seq_id[i] = 1;
    batch_.seq_id[i][0] = seq_;
    batch_.logits[i] = all_logits || i == n - 1;
  }
  AIO_RETURN_IF_ERROR(session_.decode(batch_));
  n_past_ += n;
  ++rec_.n_decode_steps;
  return {};
}

void DecodeLoop::rollback(llama_pos pos) {
  AIO_CHECK(pos <= n_past_);
  session_.truncate(seq_, pos);
  n_past_ = pos;
}

GenerationRecord DecodeLoop::finish() {
  if (rec_.n_generated > 0) rec_.decode_ms = ms_between(t_decode_, Clock::now());
  const std::string tail = stream_.finish();
  if (!tail.empty() && on_token_) on_token_(tail, -1);
  rec_.text = stream_.emitted();
  return std::move(rec_);
}

} // namespace aio::engine
