#include "core/route_json.h"

namespace aio::core {

nlohmann::json probe_json(const ProbeResult &p) {
  if (p.categories.empty()) return {{"kind", p.probe_kind}, {"context_tokens", p.n_context_tokens}};
  nlohmann::json dist = nlohmann::json::object();
  for (size_t i = 0; i < p.categories.size(); ++i) dist[p.categories[i]] = p.distribution[i];
  return {{"kind", p.probe_kind},          {"category", p.category()},
          {"distribution", dist},          {"entropy", p.entropy_bits},
          {"entropy_unit", "bits"},        {"context_tokens", p.n_context_tokens}};
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
  };
  const GenerationStats g = r.generation.value_or(GenerationStats{});
  j["timings_ms"] = {{"template", r.probe.template_ms}, {"probe_wait", r.probe.wait_ms}, {"probe", r.probe.probe_ms},
                     {"route", r.route_ms},           {"switch", r.switch_ms},         {"prefill", g.prefill_ms},
                     {"decode", g.decode_ms}};
  j["tokens"] = {{"prompt", g.n_prompt_tokens}, {"prefill_saved", g.n_prefill_tokens_saved},
                 {"generated", g.n_generated},  {"drafted", g.n_drafted},
                 {"accepted", g.n_accepted}};
  if (!r.true_label.empty()) j["true_label"] = r.true_label;
  if (r.route.strategy == Strategy::draft) j["route"]["draft_model"] = r.route.draft_model;
  if (r.route.strategy == Strategy::pld) {
    j["route"]["pld_window"] = r.route.params.pld_window;
    j["route"]["pld_lookahead"] = r.route.params.pld_lookahead;
  }
  if (r.route.strategy == Strategy::draft) j["route"]["draft_tokens"] = r.route.params.draft_tokens;
  if (r.generation) j["finish_reason"] = finish_reason_name(r.generation->finish_reason);
  return j;
}

} // namespace aio::core
