// The policy planner (the paper's section 5.2 as a tool): from a profile - accuracy and tokens/s of each
// (model, strategy) configuration on each task, measured on some hardware - and the probe's confusion matrix, the
// expected accuracy and tokens/s of any policy on any scenario, with misrouted requests taken as the expectation over
// the confusion matrix; and the per-category assignment that is fastest above an accuracy floor.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "eval/scenario.h"
#include "policy/policy.h"

namespace aio::plan {

struct Cell {
  double acc = 0; // %
  double tps = 0; // tokens per second
};

struct Profile {
  std::string source, hardware;
  std::vector<std::string> categories = {"code", "qa", "math"};      // the probe's categories, in the config's order
  std::map<std::string, std::string> task_category;                  // task -> one of the categories
  std::map<std::string, std::map<std::string, Cell>> configurations; // "model/strategy" -> task -> cell
  std::map<std::string, std::map<std::string, Cell>> long_context;   // the same for padded (long) requests
  std::map<std::string, std::map<std::string, double>> confusion;    // true -> predicted -> count
  std::map<std::string, std::map<std::string, Cell>> published;      // scenario -> policy -> cell (optional)
  // The probe's entropy (bits) on requests of each true category (aio profile records them). With them, entropy
  // thresholds (tau) take effect in plans; without, the probe is taken as confident.
  std::map<std::string, std::vector<double>> entropies;

  // Probability that a request of true category `truth` is predicted as `predicted` (identity when unknown).
  double p_predicted(const std::string &truth, const std::string &predicted) const;
};

Expected<Profile> load_profile(const std::string &path);
// YAML in load_profile's format (aio profile writes its measurements this way).
std::string profile_yaml(const Profile &p);

struct Expectation {
  double acc = 0;             // expected aggregate accuracy, %
  double tps_weighted = 0;    // the paper's aggregate: the mix-weighted mean of per-request tokens/s
  double tps_aggregate = 0;   // total tokens / total time, assuming requests of equal length
  std::map<std::string, double> routes; // "model/strategy" -> share of requests
  std::vector<std::string> missing;     // configurations the policy uses that the profile lacks (then incomplete)
  double covered = 1;                   // share of requests the profile covers; acc and tps are over those
  bool complete() const { return missing.empty(); }
};

// The load a plan assumes for a policy's load conditions: every model idle (none holds); every model it reads with a
// new request's expected wait of wait_ms and nothing queued or busy (a stage of a policy that sheds in steps, see
// policy::wait_thresholds); or saturated (every condition holds: the bound on what load-aware routing costs).
struct Load {
  bool saturated = false;
  double wait_ms = 0;
  static Load idle() { return {}; }
  static Load waiting(double ms) { return {false, ms}; }
  static Load full() { return {true, 0}; }
  bool is_idle() const { return !saturated && wait_ms == 0; }
};

// What `policy` is expected to give on `scenario`. use_probe = false routes on the true category (an oracle).
// Requests of standard length count standard_context tokens; padded ones their context_tokens.
Expectation plan_policy(const Profile &profile, const eval::Scenario &scenario, const policy::Policy &policy,
                        bool use_probe = true, int32_t standard_context = 512, Load load = Load::idle());

// The paper's own per-task A-IO row ("aio-per-task" in the profile's published cells, its Table 3 "Actual") mixed by
// the scenario, against its published aggregate for aio (Table 4). Padded requests take the route aio gives them
// from the long-context table. nullopt when the profile has no such rows or lacks a task of the mix.
struct Consistency {
  Cell implied;            // what the per-task row implies for this scenario
  Cell published;          // what the paper publishes
  bool agree = false;      // within 0.05 on both
  bool uses_long_context = false;
};
std::optional<Consistency> published_consistency(const Profile &profile, const eval::Scenario &scenario,
                                                 const policy::Policy &aio, bool standard_context);

// A fixed per-category choice of configuration (and one for long-context requests).
struct Assignment {
  std::vector<std::string> categories;            // the profile's categories, in order
  std::map<std::string, std::string> by_category; // predicted category -> "model/strategy"
  std::string long_context;                       // for requests beyond the small model's context limit
  std::string uncertain;                          // for requests whose probe entropy exceeds tau ("" = none)
  double tau = 0;                                 // bits (used when `uncertain` is set)
  Expectation expected;
};

// Every assignment over the profile's configurations (and, when the profile has entropy samples, every fallback
// configuration for uncertain requests with tau at each sample quantile), its expectation on `scenario`, sorted by
// tps_weighted. Uncertainty is taken as independent of misclassification.
std::vector<Assignment> enumerate_assignments(const Profile &profile, const eval::Scenario &scenario);
// The non-dominated ones (accuracy vs tps_weighted), by increasing tps.
std::vector<Assignment> pareto_front(const std::vector<Assignment> &all);
// The fastest with expected accuracy >= floor (%), if any.
std::optional<Assignment> best_above(const std::vector<Assignment> &all, double floor);
// A policy YAML (under `policies:`) implementing an assignment, to paste into aio.yaml.
std::string assignment_policy_yaml(const Assignment &a, const std::string &name, const std::string &description,
                                   int32_t max_small_context);

} // namespace aio::plan
