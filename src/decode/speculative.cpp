#include "decode/speculative.h"

#include <algorithm>

namespace aio::decode {
namespace {

// Draws from norm(max(0, p - q)) where q is `draft` (or a point mass on `proposed` when draft is null).
llama_token draw_residual(engine::ProbSampler &sampler, const engine::TokenDistribution &p,
                          const engine::TokenDistribution *draft, llama_token proposed) {
  std::vector<double> q(static_cast<size_t>(sampler.n_vocab()), 0.0);
  if (draft) {
    for (const auto &c : *draft) q[static_cast<size_t>(c.id)] = c.p;
  } else {
    q[static_cast<size_t>(proposed)] = 1.0;
  }
  engine::TokenDistribution residual;
  double sum = 0;
  for (const auto &c : p) {
    const double r = c.p - q[static_cast<size_t>(c.id)];
    if (r > 0) {
      residual.push_back({c.id, c.logit, static_cast<float>(r)});
      sum += r;
    }
  }
  if (residual.empty()) return sampler.draw(p); // p <= q everywhere means p == q: rejection was impossible
  for (auto &c : residual) c.p = static_cast<float>(c.p / sum);
  return sampler.draw(residual);
}

} // namespace

std::vector<llama_token> accept_drafts(const std::function<const float *(int32_t)> &logits_at,
                                       const Proposal &proposal, engine::ProbSampler &sampler, int32_t &n_accepted) {
  const auto &drafts = proposal.tokens;
  AIO_CHECK(!drafts.empty());
  std::vector<llama_token> out;
  n_accepted = 0;
  for (size_t i = 0; i < drafts.size(); ++i) {
    const engine::TokenDistribution p = sampler.distribution(logits_at(static_cast<int32_t>(i)));
    const llama_token d = drafts[i];
    const double pd = engine::probability_of(p, d);
    const engine::TokenDistribution *q = proposal.draft_dists.empty() ? nullptr : &proposal.draft_dists[i];
    const double qd = q ? engine::probability_of(*q, d) : 1.0;
    const bool keep = p.size() == 1 ? p[0].id == d                      // greedy: exact agreement, no randomness
                                    : qd > 0 && sampler.uniform() < std::min(1.0, pd / qd);
    if (keep) {
      out.push_back(d);
      sampler.accept(d); // the next position's distribution follows from it (penalties, grammar)
      ++n_accepted;
      continue;
    }
    out.push_back(p.size() == 1 ? p[0].id : draw_residual(sampler, p, q, d));
    sampler.accept(out.back());
    return out;
  }
  // Every draft was kept: the target's prediction after the last one comes free.
  out.push_back(sampler.draw(sampler.distribution(logits_at(static_cast<int32_t>(drafts.size())))));
  sampler.accept(out.back());
  return out;
}

} // namespace aio::decode
