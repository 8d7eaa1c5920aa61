// A policy maps (probe result, context length, request) to a Route. Policies are data (YAML rule tables, see
// policy_config.h); this file is the pure function that applies one. It never touches a model.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "aio/route.h"

namespace aio::policy {

// A number in a rule, either literal or a named policy variable (so `aio calibrate` can move tau everywhere at once).
struct Threshold {
  double value = 0;
  std::string var; // "" for a literal
};

// A condition on a model's live load: every threshold given must be exceeded.
struct LoadCondition {
  std::string model;                     // a local model of the config
  std::optional<Threshold> queued_gt;    // requests waiting for its slots > x
  std::optional<Threshold> busy_gt;      // its busy slots > x
  std::optional<Threshold> wait_ms_gt;   // a new request's expected wait for a slot > x ms
};

// Every field that is set must hold for the rule to match.
struct Condition {
  std::vector<std::string> categories;   // the probe's argmax is one of these
  std::vector<std::string> true_labels;  // the request's true label is one of these (oracle; workloads supply labels)
  std::optional<Threshold> context_le;   // context tokens <= x
  std::optional<Threshold> context_gt;   // context tokens > x
  std::optional<Threshold> entropy_le;   // entropy (bits) <= x
  std::optional<Threshold> entropy_gt;   // entropy (bits) > x
  std::optional<Threshold> random_lt;    // a seeded uniform draw in [0, 1) for this request is < x
  std::optional<bool> tools;             // the request offers tools (true) / offers none (false)
  std::optional<LoadCondition> load;     // a model's load at the moment of the decision
  bool empty() const {
    return categories.empty() && true_labels.empty() && !context_le && !context_gt && !entropy_le && !entropy_gt &&
           !random_lt && !tools && !load;
  }
};

struct Rule {
  std::string name;               // shown in the route's reason; defaults to "rule N"
  Condition when;
  std::string model;              // model name in the config
  Strategy strategy = Strategy::plain;
  std::string draft_model;        // for strategy draft
  std::string reason;
  int32_t line = 0;               // where it was written (1-based), for messages
};

struct Policy {
  std::string name;
  std::string description;
  std::vector<std::pair<std::string, double>> vars; // named thresholds, e.g. tau
  std::vector<Rule> rules;        // first match wins
  uint64_t seed = 0;              // for random_lt draws
  std::string source;             // file it came from

  // Sets a variable and every threshold that refers to it. Fails if the policy has no such variable.
  Status set_var(const std::string &name, double value);
  std::optional<double> var(const std::string &name) const;
};

// What the policy sees of a request.
struct RouteInput {
  const ProbeResult *probe = nullptr;
  int32_t n_context_tokens = 0;
  std::optional<std::string> true_label;
  uint64_t request_id = 0;        // makes random_lt draws reproducible per request
  bool has_tools = false;         // the request offers tools the model may call
  // A model's load now (asked only when a rule has a load condition); nullopt when it cannot be known (then the
  // condition does not hold). Unset: no model is loaded (plans without load).
  std::function<std::optional<ModelLoad>(const std::string &model)> load;
};

// Applies the first matching rule. Errors: no rule matched; a rule needs a true label the request lacks.
Expected<Route> decide(const Policy &policy, const RouteInput &input, const StrategyParams &params);

// The route `input` gets whatever the probe would report - every category, at every entropy that crosses one of the
// policy's thresholds - when all of those lead to one model and strategy (e.g. a rule sending every long prompt to
// the large model before any category is read); nullopt when the probe's verdict could change it. input.probe is
// ignored. The route says that the probe was skipped.
std::optional<Route> decide_without_probe(const Policy &policy, const RouteInput &input,
                                          const std::vector<std::string> &categories, const StrategyParams &params);

// Whether any rule reads a model's load, and which models' loads are read.
bool uses_load(const Policy &policy);
std::vector<std::string> load_models(const Policy &policy);
// The distinct expected-wait thresholds (wait_ms_gt) its load conditions compare against, ascending: the loads at
// which its routes can change.
std::vector<double> wait_thresholds(const Policy &policy);

// The seeded draw random_lt compares against: uniform in [0, 1), a pure function of (seed, request_id).
double uniform_draw(uint64_t seed, uint64_t request_id);

} // namespace aio::policy
