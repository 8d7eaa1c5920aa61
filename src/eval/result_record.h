// One line of a results log: a request of an evaluation run, what came back and how it scored. The bench runner writes
// it, `aio report`, `aio profile` and the tests read it - all through this type, so a renamed field breaks the build
// instead of silently reading 0.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "aio/route.h"
#include "aio/status.h"
#include "eval/item_score.h"

namespace aio::eval {

// The run's settings, stored in every record (so a record explains itself, and a report knows what it reports on).
struct RunInfo {
  std::string config;                 // the config file
  std::string purpose;                // "" for `aio bench`, "aio profile" for a profile's runs
  nlohmann::json models = nlohmann::json::object(); // name -> {path, synthetic, n_params}
  bool synthetic_models = false;      // any model's weights are random: accuracy means nothing
  std::string probe;                  // the configured probe kind
  int32_t n = 0;                      // requests in the workload
  uint64_t seed = 0;
  int32_t concurrency = 1;            // requests in flight at once
  std::string scenario_description;
  std::vector<std::pair<std::string, int32_t>> long_context; // task, padded length in tokens
  std::string sandbox;                // how code was isolated
  int32_t threads = 0;                // CPU threads per model (the config's `threads`; 0 = all)
  std::string machine;                // CPU, hardware threads, RAM, kernel
  std::string aio_version;            // A-IO's version and the commit it was built from
  std::map<std::string, double> taus; // policy -> its entropy threshold tau, for the policies that have one
};

struct ResultRecord {
  std::string scenario, policy, id, task;
  std::string true_label;             // the task's category
  int32_t context_tokens = 0;         // > 0: padded to this length (long-context variant)
  int32_t padding_tokens = 0;
  uint64_t request_id = 0;            // seeds the request's random draws
  double wall_start_s = 0, wall_end_s = 0; // since the run began (concurrent requests overlap)
  RunInfo run;
  std::optional<RouteRecord> route;   // route and generation stats, when the request was generated
  std::string output;
  ItemScore score;
  std::string error;                  // the request's own failure (then route is unset)

  // The identity a resumed run skips: scenario, policy and workload item.
  std::string key() const { return scenario + "\x1f" + policy + "\x1f" + id; }
};

nlohmann::json result_record_json(const ResultRecord &r);
// Errors name the first missing or mistyped field.
Expected<ResultRecord> result_record_from_json(const nlohmann::json &j);

} // namespace aio::eval
