#include "eval/result_record.h"

#include "util/json_value.h"
#include "aio/route_json.h"

namespace aio::eval {
namespace {
using json = nlohmann::json;

template <typename T> Status read(const json &j, const char *key, const std::string &where, T &out, bool required) {
  if (!j.contains(key)) return required ? invalid_argument(where + key + " is missing") : Status{};
  if (!json_value_to(j.at(key), out)) return invalid_argument(where + key + " has the wrong type or is out of range");
  return {};
}

json run_json(const RunInfo &r) {
  json lc = json::array();
  for (const auto &[task, tokens] : r.long_context) lc.push_back({{"task", task}, {"tokens", tokens}});
  json j = {{"config", r.config},   {"models", r.models}, {"synthetic_models", r.synthetic_models},
            {"probe", r.probe},     {"n", r.n},           {"seed", r.seed},
            {"concurrency", r.concurrency}, {"scenario_description", r.scenario_description},
            {"long_context", lc},   {"sandbox", r.sandbox}};
  if (!r.purpose.empty()) j["purpose"] = r.purpose;
  j["threads"] = r.threads;
  if (!r.machine.empty()) j["machine"] = r.machine;
  if (!r.aio_version.empty()) j["aio_version"] = r.aio_version;
  if (!r.taus.empty()) j["taus"] = r.taus;
  return j;
}

Expected<RunInfo> run_from_json(const json &j) {
  RunInfo r;
  if (!j.is_object()) return invalid_argument("run is not an object");
  for (auto [key, field] : {std::pair{"config", &r.config}, {"purpose", &r.purpose}, {"probe", &r.probe},
                            {"scenario_description", &r.scenario_description}, {"sandbox", &r.sandbox},
                            {"machine", &r.machine}, {"aio_version", &r.aio_version}})
    AIO_RETURN_IF_ERROR(read(j, key, "run.", *field, false));
  AIO_RETURN_IF_ERROR(read(j, "synthetic_models", "run.", r.synthetic_models, false));
  AIO_RETURN_IF_ERROR(read(j, "n", "run.", r.n, false));
  AIO_RETURN_IF_ERROR(read(j, "seed", "run.", r.seed, false));
  AIO_RETURN_IF_ERROR(read(j, "concurrency", "run.", r.concurrency, false));
  AIO_RETURN_IF_ERROR(read(j, "threads", "run.", r.threads, false));
  if (j.contains("taus")) {
    if (!j["taus"].is_object()) return invalid_argument("run.taus has the wrong type");
    for (const auto &[policy, tau] : j["taus"].items()) {
      if (!tau.is_number()) return invalid_argument("run.taus." + policy + " is not a number");
      r.taus[policy] = tau.get<double>();
    }
  }
  if (j.contains("models")) r.models = j["models"];
  if (j.contains("long_context")) {
    if (!j["long_context"].is_array()) return invalid_argument("run.long_context has the wrong type");
    for (const auto &l : j["long_context"]) {
      std::pair<std::string, int32_t> entry;
      AIO_RETURN_IF_ERROR(read(l, "task", "run.long_context[].", entry.first, true));
      AIO_RETURN_IF_ERROR(read(l, "tokens", "run.long_context[].", entry.second, true));
      r.long_context.push_back(entry);
    }
  }
  return r;
}
} // namespace

json result_record_json(const ResultRecord &r) {
  json j = {{"scenario", r.scenario},           {"policy", r.policy},
            {"id", r.id},                       {"task", r.task},
            {"true_label", r.true_label},       {"context_tokens", r.context_tokens},
            {"padding_tokens", r.padding_tokens}, {"request_id", r.request_id},
            {"wall_s", {{"start", r.wall_start_s}, {"end", r.wall_end_s}}},
            {"run", run_json(r.run)},
            {"score", {{"correct", r.score.correct}, {"extracted", r.score.extracted}, {"detail", r.score.detail}}}};
  if (r.route) {
    j["route"] = route_record_json(*r.route);
    j["output"] = r.output;
  }
  if (!r.error.empty()) j["error"] = r.error;
  return j;
}

Expected<ResultRecord> result_record_from_json(const json &j) {
  if (!j.is_object()) return invalid_argument("the record is not a JSON object");
  ResultRecord r;
  for (auto [key, field] : {std::pair{"scenario", &r.scenario}, {"policy", &r.policy}, {"id", &r.id},
                            {"task", &r.task}})
    AIO_RETURN_IF_ERROR(read(j, key, "", *field, true));
  AIO_RETURN_IF_ERROR(read(j, "true_label", "", r.true_label, false));
  AIO_RETURN_IF_ERROR(read(j, "context_tokens", "", r.context_tokens, false));
  AIO_RETURN_IF_ERROR(read(j, "padding_tokens", "", r.padding_tokens, false));
  AIO_RETURN_IF_ERROR(read(j, "request_id", "", r.request_id, false));
  AIO_RETURN_IF_ERROR(read(j, "output", "", r.output, false));
  AIO_RETURN_IF_ERROR(read(j, "error", "", r.error, false));
  if (j.contains("wall_s")) {
    AIO_RETURN_IF_ERROR(read(j["wall_s"], "start", "wall_s.", r.wall_start_s, true));
    AIO_RETURN_IF_ERROR(read(j["wall_s"], "end", "wall_s.", r.wall_end_s, true));
  }
  if (j.contains("run")) {
    auto run = run_from_json(j["run"]);
    if (!run) return run.status();
    r.run = std::move(*run);
  }
  if (!j.contains("score")) return invalid_argument("score is missing");
  AIO_RETURN_IF_ERROR(read(j["score"], "correct", "score.", r.score.correct, true));
  AIO_RETURN_IF_ERROR(read(j["score"], "extracted", "score.", r.score.extracted, false));
  AIO_RETURN_IF_ERROR(read(j["score"], "detail", "score.", r.score.detail, false));
  if (j.contains("route")) {
    auto route = route_record_from_json(j["route"]);
    if (!route) return route.status();
    if (!route->generation) return invalid_argument("route has no generation stats (finish_reason, tokens)");
    r.route = std::move(*route);
  } else if (r.error.empty()) {
    return invalid_argument("the record has neither a route nor an error");
  }
  return r;
}

} // namespace aio::eval
