#include "aio/route_json.h"

#include <cmath>
#include <cstdio>

#include "util/json_value.h"

namespace aio {

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
                     {"route", r.route_ms},           {"switch", r.switch_ms},         {"queue", g.queue_ms},
                     {"prefill", g.prefill_ms},
                     {"decode", g.decode_ms}};
  j["tokens"] = {{"prompt", g.n_prompt_tokens}, {"prefill_saved", g.n_prefill_tokens_saved},
                 {"prompt_cached", g.n_prompt_tokens_cached}, {"generated", g.n_generated},
                 {"drafted", g.n_drafted}, {"accepted", g.n_accepted}};
  if (!r.true_label.empty()) j["true_label"] = r.true_label;
  if (r.grammar) j["route"]["grammar"] = true;
  if (!g.replica.empty()) j["route"]["replica"] = g.replica;
  if (r.route.load)
    j["route"]["load"] = {{"model", r.route.load_model},   {"slots", r.route.load->slots},
                          {"busy", r.route.load->busy},    {"queued", r.route.load->queued},
                          {"wait_ms", r.route.load->wait_ms}};
  if (r.route.strategy == Strategy::draft) j["route"]["draft_model"] = r.route.draft_model;
  if (r.route.strategy == Strategy::pld) {
    j["route"]["pld_window"] = r.route.params.pld_window;
    j["route"]["pld_lookahead"] = r.route.params.pld_lookahead;
  }
  if (r.route.strategy == Strategy::draft) j["route"]["draft_tokens"] = r.route.params.draft_tokens;
  if (r.generation) j["finish_reason"] = finish_reason_name(r.generation->finish_reason);
  return j;
}

namespace {
double round3(double x) { return std::round(x * 1000) / 1000; }
} // namespace

std::vector<std::pair<std::string, std::string>> route_record_headers(const RouteRecord &r) {
  std::vector<std::pair<std::string, std::string>> h = {{"x-aio-model", r.route.model},
                                                        {"x-aio-policy", r.route.policy},
                                                        {"x-aio-strategy", strategy_name(r.route.strategy)}};
  if (!r.probe.category().empty()) {
    char bits[32];
    std::snprintf(bits, sizeof(bits), "%.4f", r.probe.entropy_bits);
    h.emplace_back("x-aio-category", r.probe.category());
    h.emplace_back("x-aio-entropy-bits", bits);
  }
  return h;
}

nlohmann::json route_record_row(const RouteRecord &r, const GenerationStats *answered) {
  nlohmann::json row = {{"category", r.probe.category().empty() ? std::string("unprobed") : r.probe.category()},
                        {"entropy_bits", round3(r.probe.entropy_bits)},
                        {"probe", r.probe.probe_kind},
                        {"model", r.route.model.empty() ? std::string("none") : r.route.model},
                        {"strategy", strategy_name(r.route.strategy)},
                        {"reason", r.route.reason},
                        {"probe_ms", round3(r.probe.template_ms + r.probe.wait_ms + r.probe.probe_ms)}};
  if (r.route.load) {
    row["load_model"] = r.route.load_model;
    row["load_wait_ms"] = round3(r.route.load->wait_ms);
    row["load_queued"] = r.route.load->queued;
  }
  if (!answered && r.generation) answered = &*r.generation;
  if (const GenerationStats *g = answered) {
    row["replica"] = g->replica;
    row["prompt_tokens"] = g->n_prompt_tokens;
    row["generated"] = g->n_generated;
    row["ttft_ms"] = round3(g->prefill_ms);
    row["tokens_per_second"] = round3(g->decode_tokens_per_second());
    if (g->n_drafted > 0) row["acceptance"] = round3(g->acceptance_rate());
  }
  return row;
}

} // namespace aio

namespace aio {
namespace {
// A typed read of j[key] with an error naming `where.key` when it is missing or of another type.
template <typename T> Status read(const nlohmann::json &j, const char *key, const std::string &where, T &out) {
  if (!j.is_object() || !j.contains(key)) return invalid_argument(where + "." + key + " is missing");
  if (!json_value_to(j.at(key), out)) return invalid_argument(where + "." + key + " has the wrong type or is out of range");
  return {};
}
} // namespace

Expected<RouteRecord> route_record_from_json(const nlohmann::json &j) {
  RouteRecord r;
  if (!j.is_object()) return invalid_argument("the route record is not an object");
  const std::string w = "route";
  if (!j.contains("probe") || !j.contains("route")) return invalid_argument(w + ".probe and route.route are required");
  const nlohmann::json &p = j["probe"];
  AIO_RETURN_IF_ERROR(read(p, "kind", w + ".probe", r.probe.probe_kind));
  AIO_RETURN_IF_ERROR(read(p, "context_tokens", w + ".probe", r.probe.n_context_tokens));
  if (p.contains("distribution")) {
    if (!p["distribution"].is_object()) return invalid_argument(w + ".probe.distribution has the wrong type");
    std::string category;
    AIO_RETURN_IF_ERROR(read(p, "category", w + ".probe", category));
    AIO_RETURN_IF_ERROR(read(p, "entropy", w + ".probe", r.probe.entropy_bits));
    for (const auto &[name, value] : p["distribution"].items()) {
      if (!value.is_number()) return invalid_argument(w + ".probe.distribution." + name + " is not a number");
      if (name == category) r.probe.argmax = static_cast<int32_t>(r.probe.categories.size());
      r.probe.categories.push_back(name);
      r.probe.distribution.push_back(value.get<double>());
    }
  }
  const nlohmann::json &route = j["route"];
  std::string strategy;
  for (auto [key, field] : {std::pair{"policy", &r.route.policy}, {"rule", &r.route.rule}, {"model", &r.route.model},
                            {"reason", &r.route.reason}})
    AIO_RETURN_IF_ERROR(read(route, key, w + ".route", *field));
  AIO_RETURN_IF_ERROR(read(route, "strategy", w + ".route", strategy));
  auto s = parse_strategy(strategy);
  if (!s) return invalid_argument(w + ".route.strategy: " + s.status().message());
  r.route.strategy = *s;
  if (route.contains("draft_model")) AIO_RETURN_IF_ERROR(read(route, "draft_model", w + ".route", r.route.draft_model));
  if (j.contains("true_label")) AIO_RETURN_IF_ERROR(read(j, "true_label", w, r.true_label));
  if (route.contains("grammar")) AIO_RETURN_IF_ERROR(read(route, "grammar", w + ".route", r.grammar));
  if (route.contains("load")) {
    const nlohmann::json &l = route["load"];
    const std::string lw = w + ".route.load";
    ModelLoad load;
    AIO_RETURN_IF_ERROR(read(l, "model", lw, r.route.load_model));
    for (auto [key, field] : {std::pair{"slots", &load.slots}, {"busy", &load.busy}, {"queued", &load.queued}})
      AIO_RETURN_IF_ERROR(read(l, key, lw, *field));
    AIO_RETURN_IF_ERROR(read(l, "wait_ms", lw, load.wait_ms));
    r.route.load = load;
  }
  const nlohmann::json &t = j.contains("timings_ms") ? j["timings_ms"] : nlohmann::json::object();
  for (auto [key, field] : {std::pair{"template", &r.probe.template_ms}, {"probe_wait", &r.probe.wait_ms},
                            {"probe", &r.probe.probe_ms}, {"route", &r.route_ms}, {"switch", &r.switch_ms}})
    if (t.contains(key)) AIO_RETURN_IF_ERROR(read(t, key, w + ".timings_ms", *field));
  if (j.contains("finish_reason")) {
    // Generated: the stats are all there.
    GenerationStats g;
    const std::string tw = w + ".tokens";
    if (!j.contains("tokens")) return invalid_argument(tw + " is missing");
    const nlohmann::json &k = j["tokens"];
    for (auto [key, field] : {std::pair{"prompt", &g.n_prompt_tokens}, {"prefill_saved", &g.n_prefill_tokens_saved},
                              {"generated", &g.n_generated}, {"drafted", &g.n_drafted}, {"accepted", &g.n_accepted}})
      AIO_RETURN_IF_ERROR(read(k, key, tw, *field));
    if (k.contains("prompt_cached")) AIO_RETURN_IF_ERROR(read(k, "prompt_cached", tw, g.n_prompt_tokens_cached)); // newer
    if (t.contains("queue")) AIO_RETURN_IF_ERROR(read(t, "queue", w + ".timings_ms", g.queue_ms)); // older logs lack it
    AIO_RETURN_IF_ERROR(read(t, "prefill", w + ".timings_ms", g.prefill_ms));
    AIO_RETURN_IF_ERROR(read(t, "decode", w + ".timings_ms", g.decode_ms));
    std::string finish;
    AIO_RETURN_IF_ERROR(read(j, "finish_reason", w, finish));
    bool known = false;
    for (FinishReason f : {FinishReason::stop_string, FinishReason::end_of_generation, FinishReason::max_tokens,
                           FinishReason::context_full, FinishReason::cancelled})
      if (finish == finish_reason_name(f)) g.finish_reason = f, known = true;
    if (!known) return invalid_argument(w + ".finish_reason '" + finish + "' is not one A-IO writes");
    if (route.contains("replica")) AIO_RETURN_IF_ERROR(read(route, "replica", w + ".route", g.replica));
    r.generation = g;
  }
  return r;
}

} // namespace aio
