#include "engine/generator.h"

#include <algorithm>

#include "engine/decode_loop.h"

namespace aio::engine {

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

llama_token argmax(const float *logits, int32_t n) {
  return static_cast<llama_token>(std::max_element(logits, logits + n) - logits);
}

Expected<GenerationRecord> generate(Session &session, const std::vector<llama_token> &prompt,
                                    const GenerateParams &params, const TokenCallback &on_token, llama_seq_id seq,
                                    int32_t n_cached) {
  DecodeLoop loop(session, params, on_token, seq);
  AIO_RETURN_IF_ERROR(loop.start(prompt, n_cached));
  llama_sampler_ptr sampler = make_sampler(params.sampling);
  const int32_t n_vocab = session.model().info().n_vocab;
  for (;;) {
    // Greedy needs only the argmax: skip building the sampler's candidate array over the whole vocabulary.
    const llama_token tok = params.sampling.greedy() ? argmax(loop.logits(), n_vocab)
                                                     : llama_sampler_sample(sampler.get(), session.raw(), -1);
    if (!loop.emit(tok)) break;
    AIO_RETURN_IF_ERROR(loop.decode(std::span(&tok, 1), /*all_logits=*/false));
  }
  return loop.finish();
}

} // namespace aio::engine
