#include "probe/lm_probe.h"

#include <algorithm>
#include <set>

#include "probe/entropy.h"

namespace aio::probe {
Expected<std::unique_ptr<LmProbe>> LmProbe::create(std::shared_ptr<const engine::Model> model, LmProbeParams params) {
  AIO_RETURN_IF_ERROR(params.validate());
  std::unique_ptr<LmProbe> p(new LmProbe());
  auto suffix = model->tokenize(params.suffix, /*add_bos=*/false, /*parse_special=*/true);
  if (!suffix) return suffix.status();
  p->suffix_tokens_ = std::move(*suffix);
  // The label's first token is what the probe reads. A SentencePiece vocabulary that adds its own word-start marker
  // can make a label's leading space a token of its own, the same for every label: then the labels are read
  // without it (" code" -> "code", which that tokenizer spells as the word-initial piece).
  const auto first_tokens = [&](bool strip_space) -> Expected<std::vector<llama_token>> {
    std::vector<llama_token> firsts;
    std::set<llama_token> seen;
    for (const std::string &label : params.labels) {
      const std::string text = strip_space && !label.empty() && label.front() == ' ' ? label.substr(1) : label;
      auto t = model->tokenize(text, /*add_bos=*/false, /*parse_special=*/false);
      if (!t || t->empty()) return invalid_argument("probe label '" + label + "' tokenizes to nothing");
      if (!seen.insert(t->front()).second)
        return invalid_argument("probe labels must start with different tokens; '" + label +
                                "' starts like an earlier one in " + model->info().name + "'s vocabulary");
      firsts.push_back(t->front());
    }
    return firsts;
  };
  auto labels = first_tokens(false);
  const bool spaced = std::all_of(params.labels.begin(), params.labels.end(),
                                  [](const std::string &l) { return !l.empty() && l.front() == ' '; });
  if (!labels && spaced) {
    if (auto unspaced = first_tokens(true)) labels = std::move(unspaced);
  }
  if (!labels) return labels.status();
  p->label_tokens_ = std::move(*labels);
  p->model_ = std::move(model);
  p->params_ = std::move(params);
  return p;
}

std::optional<std::vector<llama_token>> LmProbe::read_window(const std::vector<llama_token> &prompt) const {
  const auto budget = static_cast<size_t>(params_.read_tokens);
  if (budget == 0 || prompt.size() <= budget) return std::nullopt;
  const size_t tail = budget / 4, head = budget - tail;
  std::vector<llama_token> window(prompt.begin(), prompt.begin() + static_cast<std::ptrdiff_t>(head));
  window.insert(window.end(), prompt.end() - static_cast<std::ptrdiff_t>(tail), prompt.end());
  return window;
}

ProbeResult LmProbe::read(const float *logits) const {
  ProbeResult r;
  r.probe_kind = "lm";
  r.categories = params_.categories;
  std::vector<double> label_logits;
  for (llama_token t : label_tokens_) label_logits.push_back(logits[t]);
  r.distribution = softmax(label_logits);
  r.argmax = static_cast<int32_t>(std::max_element(r.distribution.begin(), r.distribution.end()) - r.distribution.begin());
  r.entropy_bits = entropy_bits(r.distribution);
  return r;
}

} // namespace aio::probe
