#include "policy/calibrate.h"

#include <cmath>

namespace aio::policy {

Status TauSearchParams::validate() const {
  if (!(step > 0)) return invalid_argument("the grid step must be > 0");
  if (max_wrong_small < 0 || max_wrong_small > 1) return invalid_argument("max_wrong_small must be in [0, 1]");
  if (small_model.empty()) return invalid_argument("name the small model");
  return {};
}

Expected<TauSearch> search_tau(Policy policy, const Policy &oracle, const std::vector<LabeledProbe> &probed,
                               size_t n_categories, const StrategyParams &decoding, const TauSearchParams &params) {
  AIO_RETURN_IF_ERROR(params.validate());
  if (!policy.var(params.var))
    return invalid_argument("policy '" + policy.name + "' has no variable '" + params.var + "' to calibrate");
  TauSearch out;
  const double max_entropy = std::log2(static_cast<double>(std::max<size_t>(n_categories, 2)));
  for (double tau = 0; tau <= max_entropy + 1e-9; tau += params.step) {
    AIO_RETURN_IF_ERROR(policy.set_var(params.var, tau));
    long small = 0, should_total = 0, should_missed = 0, other_total = 0, other_small = 0, correct = 0;
    for (size_t i = 0; i < probed.size(); ++i) {
      const LabeledProbe &p = probed[i];
      RouteInput in;
      in.probe = &p.probe;
      in.n_context_tokens = p.probe.n_context_tokens;
      in.true_label = p.label;
      in.request_id = i;
      auto route = decide(policy, in, decoding);
      if (!route) return route.status();
      auto ideal = decide(oracle, in, decoding);
      if (!ideal) return ideal.status();
      const bool to_small = route->model == params.small_model, should_small = ideal->model == params.small_model;
      small += to_small;
      correct += to_small && should_small;
      if (should_small) {
        ++should_total;
        should_missed += !to_small;
      } else {
        ++other_total;
        other_small += to_small;
      }
    }
    TauRow row;
    row.tau = tau;
    row.small_share = probed.empty() ? 0 : static_cast<double>(small) / static_cast<double>(probed.size());
    row.missed_small = should_total ? static_cast<double>(should_missed) / static_cast<double>(should_total) : 0;
    row.wrong_small = other_total ? static_cast<double>(other_small) / static_cast<double>(other_total) : 0;
    row.correct_small = correct;
    row.feasible = row.wrong_small <= params.max_wrong_small;
    out.rows.push_back(row);
  }
  long best = -1;
  for (const TauRow &r : out.rows)
    if (r.feasible && r.correct_small > best) {
      best = r.correct_small;
      out.chosen = r.tau;
    }
  return out;
}

} // namespace aio::policy
