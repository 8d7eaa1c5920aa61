#include "probe/lm_probe.h"

#include <algorithm>
#include <chrono>
#include <set>

#include "probe/entropy.h"

namespace aio::probe {
namespace {
using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }
} // namespace

Status LmProbeParams::validate() const {
  if (categories.size() < 2) return invalid_argument("the probe needs at least two categories");
  if (labels.size() != categories.size())
    return invalid_argument("the probe needs exactly one label per category (" + std::to_string(categories.size()) +
                            " categories, " + std::to_string(labels.size()) + " labels)");
  if (suffix.empty()) return invalid_argument("the probe's classification suffix is empty");
  return {};
}

Expected<std::unique_ptr<LmProbe>> LmProbe::create(std::shared_ptr<const engine::Model> model, LmProbeParams params) {
  AIO_RETURN_IF_ERROR(params.validate());
  std::unique_ptr<LmProbe> p(new LmProbe());
  auto suffix = model->tokenize(params.suffix, /*add_bos=*/false, /*parse_special=*/true);
  if (!suffix) return suffix.status();
  p->suffix_tokens_ = std::move(*suffix);
  std::set<llama_token> seen;
  for (size_t i = 0; i < params.labels.size(); ++i) {
    auto t = model->tokenize(params.labels[i], /*add_bos=*/false, /*parse_special=*/false);
    if (!t || t->empty()) return invalid_argument("probe label '" + params.labels[i] + "' tokenizes to nothing");
    if (!seen.insert(t->front()).second)
      return invalid_argument("probe labels must start with different tokens; '" + params.labels[i] +
                              "' starts like an earlier one in " + model->info().name + "'s vocabulary");
    p->label_tokens_.push_back(t->front());
  }
  p->model_ = std::move(model);
  p->params_ = std::move(params);
  return p;
}

Expected<ProbeResult> LmProbe::classify(engine::Session &session, const std::vector<llama_token> &request,
                                        llama_seq_id seq, bool keep_kv) {
  if (&session.model() != model_.get())
    return invalid_argument("the lm probe must run on the model it was built for (" + model_->info().name + ")");
  if (request.empty()) return invalid_argument("the request is empty");
  ProbeResult r;
  r.probe_kind = "lm";
  r.categories = params_.categories;
  r.n_context_tokens = static_cast<int32_t>(request.size());

  const auto t_template = Clock::now();
  std::vector<llama_token> input;
  input.reserve(request.size() + suffix_tokens_.size());
  input.insert(input.end(), request.begin(), request.end());
  input.insert(input.end(), suffix_tokens_.begin(), suffix_tokens_.end());
  r.template_ms = ms_since(t_template);

  if (input.size() > session.n_ctx())
    return context_overflow("the request (" + std::to_string(request.size()) + " tokens) plus the probe's suffix (" +
                            std::to_string(suffix_tokens_.size()) + ") do not fit the small model's context of " +
                            std::to_string(session.n_ctx()) + " tokens; raise its n_ctx in the config");
  const auto t_probe = Clock::now();
  session.truncate(seq);
  AIO_RETURN_IF_ERROR(session.prefill(seq, input, 0, /*want_last_logits=*/true));
  const float *logits = session.logits(-1);
  std::vector<double> label_logits;
  for (llama_token t : label_tokens_) label_logits.push_back(logits[t]);
  r.distribution = softmax(label_logits);
  r.probe_ms = ms_since(t_probe);
  r.argmax = static_cast<int32_t>(std::max_element(r.distribution.begin(), r.distribution.end()) - r.distribution.begin());
  r.entropy_bits = entropy_bits(r.distribution);

  // Drop the suffix, keep the request: its KV is exactly what generating from `request` would compute.
  session.truncate(seq, keep_kv ? static_cast<llama_pos>(request.size()) : 0);
  r.n_kv_prefix_tokens = keep_kv ? r.n_context_tokens : 0;
  return r;
}

} // namespace aio::probe
