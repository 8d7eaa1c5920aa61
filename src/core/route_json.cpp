#include "core/route_json.h"

namespace aio::core {

nlohmann::json probe_json(const ProbeResult &p) {
  if (p.categories.empty()) return {{"kind", p.probe_kind}, {"context_tokens", p.n_context_tokens}};
  nlohmann::json dist = nlohmann::json::object();
  for (size_t i = 0; i < p.categories.size(); ++i) dist[p.categories[i]] = p.distribution[i];
  return {{"kind", p.probe_kind},          {"category", p.category()},
          {"distribution", dist},          {"entropy", p.entropy_bits},
          {"entropy_unit", "bits"},        {"context_tokens", p.n_context_tokens},
          {"kv_prefix_tokens", p.n_kv_prefix_tokens}};
}

nlohmann::json route_record_json(const RouteRecord &r) {
  nlohmann::json j = {
      {"probe", probe_json(r.probe)},
      {"route",
       {{"policy", r.route.policy},
        {"rule", r.route.rule},
        {"model", r.route.model},
        {"strategy", strategy_name(r.route.strategy)},
        {"reason", r.route.reason}}},
      {"timings_ms",
       {{"template", r.probe.template_ms},
        {"probe", r.probe.probe_ms},
        {"route", r.route_ms},
        {"switch", r.switch_ms},
        {"prefill", r.prefill_ms},
        {"decode", r.decode_ms}}},
      {"tokens",
       {{"prompt", r.n_prompt_tokens},
        {"prefill_saved", r.n_prefill_tokens_saved},
        {"generated", r.n_generated},
        {"drafted", r.n_drafted},
        {"accepted", r.n_accepted}}},
  };
  if (r.route.strategy == Strategy::draft) j["route"]["draft_model"] = r.route.draft_model;
  if (r.route.strategy == Strategy::pld) {
    j["route"]["pld_window"] = r.route.params.pld_window;
    j["route"]["pld_lookahead"] = r.route.params.pld_lookahead;
  }
  if (r.route.strategy == Strategy::draft) j["route"]["draft_tokens"] = r.route.params.draft_tokens;
  if (!r.finish_reason.empty()) j["finish_reason"] = r.finish_reason;
  return j;
}

} // namespace aio::core
