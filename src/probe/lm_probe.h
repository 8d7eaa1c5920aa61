// The paper's probe (section 3.2): the request, then a classification suffix, through ONE forward pass of the small
// model; the distribution is the softmax over the logits of the category label tokens only.
//
// The forward pass is not run here: it is a stage of a job on the small model's engine (exec::ProbeStage), so its
// tokens ride in the same batched steps as everyone's decode tokens. The request comes first and the suffix after it,
// so the request's KV is still valid once the suffix is removed: when the small model answers, the request goes on in
// that slot without prefilling its prompt again. This class holds what the stage needs: the suffix's tokens and the
// reading of the logits that come out.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "aio/route.h"
#include "engine/session.h"
#include "probe/lm_probe_params.h"

namespace aio::probe {


class LmProbe {
public:
  // Resolves the label tokens in the model's vocabulary. Fails if a label is empty or two share a first token.
  static Expected<std::unique_ptr<LmProbe>> create(std::shared_ptr<const engine::Model> model, LmProbeParams params);

  // What the probe reads of a request's tokens: all of them, or - past params().read_tokens - the first three quarters
  // and the last quarter of that many. nullopt when it reads them all.
  std::optional<std::vector<llama_token>> read_window(const std::vector<llama_token> &prompt) const;
  // The tokens appended after the request (the classification question).
  const std::vector<llama_token> &suffix_tokens() const { return suffix_tokens_; }
  // The verdict from the model's logits after request + suffix: distribution over the categories, argmax, entropy.
  ProbeResult read(const float *logits) const;
  const engine::Model &model() const { return *model_; }

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
