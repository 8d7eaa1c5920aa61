// Calibrating a policy's entropy threshold (tau): a grid search over labelled requests whose probe results are known,
// judged against the oracle (the same rules reading each request's TRUE label). Pure data in, data out.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "policy/policy.h"

namespace aio::policy {

// A request the probe has seen, with its true category.
struct LabeledProbe {
  ProbeResult probe;
  std::string label;
};

struct TauSearchParams {
  std::string var = "tau";       // the policy variable searched
  double step = 0.05;            // grid step in bits, from 0 to log2(categories)
  double max_wrong_small = 0.01; // largest share of the oracle's large-model requests that may go to the small model
  std::string small_model;       // the cheap model (the config's probe model)
  Status validate() const;
};

// One tau of the grid.
struct TauRow {
  double tau = 0;
  double small_share = 0;       // of all requests, routed to the small model
  double missed_small = 0;      // of the requests the oracle sends small, the share routed to a larger model
  double wrong_small = 0;       // of the requests the oracle sends elsewhere, the share routed to the small model
  long correct_small = 0;       // requests routed small that the oracle routes small too (the objective)
  bool feasible = false;        // wrong_small within the bound
};

struct TauSearch {
  std::vector<TauRow> rows;
  std::optional<double> chosen; // the feasible tau with the most correct_small (none: no tau meets the bound)
};

// Errors: the policy has no such variable, or the oracle cannot route a request (a label outside its rules).
Expected<TauSearch> search_tau(Policy policy, const Policy &oracle, const std::vector<LabeledProbe> &probed,
                               size_t n_categories, const StrategyParams &decoding, const TauSearchParams &params);

} // namespace aio::policy
