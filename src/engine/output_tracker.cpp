#include "engine/output_tracker.h"

#include <algorithm>

namespace aio::engine {
namespace {
double ms_between(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}
} // namespace

OutputTracker::OutputTracker(const Model &model, const GenerateParams &params, const TokenCallback &on_token,
                             uint32_t n_ctx)
    : model_(model), params_(params), on_token_(on_token), n_ctx_(n_ctx), stream_(params.stop) {}

void OutputTracker::start(int32_t n_prompt_tokens, int32_t n_prefill_tokens_saved, double queue_ms) {
  rec_.n_prompt_tokens = n_prompt_tokens;
  rec_.queue_ms = queue_ms;
  rec_.n_prefill_tokens_saved = n_prefill_tokens_saved;
  t_prefill_ = Clock::now();
}

size_t OutputTracker::release_logprobs() {
  size_t n = 0;
  const size_t emitted = stream_.emitted().size();
  while (!waiting_.empty() && covered_bytes_ + waiting_.front().piece.size() <= emitted) {
    covered_bytes_ += waiting_.front().piece.size();
    rec_.logprobs.push_back(std::move(waiting_.front()));
    waiting_.pop_front();
    ++n;
  }
  return n;
}

bool OutputTracker::emit(llama_token tok, std::optional<TokenLogprob> logprob) {
  if (rec_.n_generated == 0) {
    t_decode_ = Clock::now();
    rec_.prefill_ms = ms_between(t_prefill_, t_decode_);
  }
  if (!params_.ignore_eos && model_.is_end_of_generation(tok)) {
    rec_.finish_reason = FinishReason::end_of_generation;
    return false;
  }
  rec_.tokens.push_back(tok);
  ++rec_.n_generated;
  const bool shown = !params_.shown_special_tokens.empty() &&
                     std::find(params_.shown_special_tokens.begin(), params_.shown_special_tokens.end(), tok) !=
                         params_.shown_special_tokens.end();
  const std::string text = stream_.push(model_.token_to_piece(tok, /*special=*/shown));
  if (logprob) waiting_.push_back(std::move(*logprob));
  const size_t n_released = release_logprobs();
  const std::span<const TokenLogprob> released(rec_.logprobs.data() + rec_.logprobs.size() - n_released, n_released);
  if (on_token_ && !on_token_(text, tok, released)) {
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
  // produce another. (Counted from the output, not the KV cache: speculative steps decode ahead of what is emitted.)
  if (rec_.n_prompt_tokens + rec_.n_generated > static_cast<int32_t>(n_ctx_)) {
    rec_.finish_reason = FinishReason::context_full;
    return false;
  }
  return true;
}

GenerationRecord OutputTracker::finish() {
  if (rec_.n_generated > 0) rec_.decode_ms = ms_between(t_decode_, Clock::now());
  const std::string tail = stream_.finish();
  const size_t n_released = release_logprobs();
  const std::span<const TokenLogprob> released(rec_.logprobs.data() + rec_.logprobs.size() - n_released, n_released);
  if ((!tail.empty() || n_released > 0) && on_token_) on_token_(tail, -1, released);
  rec_.text = stream_.emitted();
  return std::move(rec_);
}

} // namespace aio::engine
