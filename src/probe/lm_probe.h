// The paper's probe (section 3.2): the request, then a classification suffix, through ONE forward pass of the small
// model; the distribution is the softmax over the logits of the category label tokens only.
//
// The request comes first and the suffix after it, so the request's KV cache is still valid once the suffix is
// removed: when the request is then routed to the small model, its prompt is not prefilled again.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "aio/route.h"
#include "engine/session.h"

namespace aio::probe {

struct LmProbeParams {
  std::vector<std::string> categories = {"code", "qa", "math"};
  // One label per category; the logit of each label's FIRST token is read, so first tokens must differ.
  std::vector<std::string> labels = {" code", " qa", " math"};
  // Appended to the request to ask for its category; the next token is the label.
  std::string suffix = "\n\n### Which kind of request is this: code, qa or math?\n### Answer:";
  Status validate() const;
};

class LmProbe {
public:
  // Resolves the label tokens in the model's vocabulary. Fails if a label is empty or two share a first token.
  static Expected<std::unique_ptr<LmProbe>> create(std::shared_ptr<const engine::Model> model, LmProbeParams params);

  // Classifies `request` (the exact prompt tokens the small model would generate from) in sequence `seq` of
  // `session`. With keep_kv, the request's KV stays in the sequence afterwards (result.n_kv_prefix_tokens), ready for
  // generation; otherwise the sequence is cleared.
  Expected<ProbeResult> classify(engine::Session &session, const std::vector<llama_token> &request, llama_seq_id seq,
                                 bool keep_kv);

  const LmProbeParams &params() const { return params_; }
  const std::vector<llama_token> &label_tokens() const { return label_tokens_; }

private:
  LmProbe() = default;
  std::shared_ptr<const engine::Model> model_;
  LmProbeParams params_;
  std::vector<llama_token> suffix_tokens_;
  std::vector<llama_token> label_tokens_;
};

} // namespace aio::probe
