#include "engine/generator.h"

#include <algorithm>
#include <chrono>

#include "engine/text_stream.h"

namespace aio::engine {
namespace {
using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// Greedy decoding needs only the argmax; this skips building the sampler's candidate array over the whole vocabulary
// on every step.
llama_token argmax(const float *logits, int32_t n) {
  return static_cast<llama_token>(std::max_element(logits, logits + n) - logits);
}
} // namespace

Status GenerateParams::validate() const {
  if (max_tokens < 1) return invalid_argument("max_tokens must be at least 1");
  return sampling.validate();
}

const char *finish_reason_name(FinishReason r) {
  switch (r) {
  case FinishReason::stop_string: return "stop";
  case FinishReason::end_of_generation: return "eos";
  case FinishReason::max_tokens: return "length";
  case FinishReason::context_full: return "context_full";
  case FinishReason::cancelled: return "cancelled";
  }
  return "unknown";
}

Expected<GenerationRecord> generate(Session &session, const std::vector<llama_token> &prompt,
                                    const GenerateParams &params, const TokenCallback &on_token, llama_seq_id seq) {
  AIO_RETURN_IF_ERROR(params.validate());
  if (prompt.empty()) return invalid_argument("the prompt is empty: give at least one token of text");
  const auto n_ctx = static_cast<size_t>(session.n_ctx());
  if (prompt.size() >= n_ctx)
    return context_overflow("the prompt is " + std::to_string(prompt.size()) + " tokens but the context holds " +
                            std::to_string(n_ctx) + " (and one more is needed to generate); shorten the prompt or "
                            "raise the context size (the model was trained for " +
                            std::to_string(session.model().info().n_ctx_train) + ")");

  const Model &model = session.model();
  GenerationRecord rec;
  rec.n_prompt_tokens = static_cast<int32_t>(prompt.size());
  llama_sampler_ptr sampler = make_sampler(params.sampling);
  const int32_t n_vocab = model.info().n_vocab;
  TextStream stream(params.stop);

  session.truncate(seq);
  const auto t_prefill = Clock::now();
  AIO_RETURN_IF_ERROR(session.prefill(seq, prompt, 0));

  llama_pos pos = static_cast<llama_pos>(prompt.size());
  llama_batch one = llama_batch_init(1, 0, 1);
  Status status;
  Clock::time_point t_decode;
  for (;;) {
    const llama_token tok = params.sampling.greedy() ? argmax(session.logits(-1), n_vocab)
                                                     : llama_sampler_sample(sampler.get(), session.raw(), -1);
    if (rec.n_generated == 0) {
      rec.prefill_ms = ms_since(t_prefill);
      t_decode = Clock::now();
    }
    if (!params.ignore_eos && model.is_end_of_generation(tok)) {
      rec.finish_reason = FinishReason::end_of_generation;
      break;
    }
    rec.tokens.push_back(tok);
    ++rec.n_generated;
    const std::string piece = model.token_to_piece(tok);
    const std::string text = stream.push(piece);
    if (on_token && !on_token(text, tok)) {
      rec.finish_reason = FinishReason::cancelled;
      break;
    }
    if (stream.stopped()) {
      rec.finish_reason = FinishReason::stop_string;
      break;
    }
    if (rec.n_generated >= params.max_tokens) {
      rec.finish_reason = FinishReason::max_tokens;
      break;
    }
    if (static_cast<size_t>(pos) + 1 > n_ctx) {
      rec.finish_reason = FinishReason::context_full;
      break;
    }
    one.n_tokens = 1;
    one.token[0] = tok;
    one.pos[0] = pos++;
    one.n_seq_id[0] = 1;
    one.seq_id[0][0] = seq;
    one.logits[0] = true;
    status = session.decode(one);
    if (!status.ok()) break;
    ++rec.n_decode_steps;
  }
  if (rec.n_generated > 0) rec.decode_ms = ms_since(t_decode);
  llama_batch_free(one);
  AIO_RETURN_IF_ERROR(status);

  const std::string tail = stream.finish();
  if (!tail.empty() && on_token) on_token(tail, -1);
  rec.text = stream.emitted();
  return rec;
}

} // namespace aio::engine
