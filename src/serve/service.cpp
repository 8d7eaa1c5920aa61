#include "serve/service.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <tuple>
#include <utility>

#include "openai/structured_output.h"

namespace aio::serve {

Expected<std::unique_ptr<AioService>> AioService::create(config::AioConfig cfg, const ServiceParams &params) {
  std::unique_ptr<AioService> s(new AioService());
  s->declare_metrics(cfg.categories.size()); // before the router: its pools publish their replicas' series at once
  core::RouterParams rp;
  rp.n_slots = params.n_slots;
  rp.queue_capacity = params.queue_capacity;
  rp.n_batch = params.n_batch; // the router raises it per engine to that model's slots and probe lanes
  rp.shared_scheduler = params.shared_scheduler;
  rp.turns = params.turns;
  rp.on_step = params.on_step;
  rp.max_upstream_line = params.max_upstream_line;
  rp.metrics = &s->metrics_;
  auto router = core::Router::create(std::move(cfg), rp);
  if (!router) return router.status();
  s->router_ = std::move(*router);
  // A model's slot count is fixed once its engine or pool exists: set here, not at every scrape.
  for (const auto &name : s->router_->model_names())
    s->metrics_.set("aio_slots", {{"model", name}}, static_cast<double>(s->router_->n_slots(name)));
  s->live_ = std::make_unique<observe::LiveStats>(s->router_->config().categories);
  return s;
}

AioService::~AioService() { stop(std::chrono::milliseconds(0)); }

void AioService::declare_metrics(size_t n_categories) {
  metrics_.counter("aio_requests_total", "Requests by model, category, strategy and HTTP status.");
  metrics_.counter("aio_prompt_tokens_total", "Prompt tokens by model.");
  metrics_.counter("aio_generated_tokens_total", "Generated tokens by model.");
  metrics_.counter("aio_drafted_tokens_total", "Tokens proposed by PLD or a draft model, by category and strategy.");
  metrics_.counter("aio_accepted_tokens_total", "Proposed tokens the model accepted, by category and strategy.");
  metrics_.counter("aio_probe_shadow_total",
                   "Requests that carried a true label (aio.label), by label and the probe's verdict: the probe's "
                   "accuracy on live labelled traffic.");
  metrics_.histogram("aio_probe_seconds",
                     "Latency the probe adds to a request by probe kind: tokenizing, waiting for a slot and the "
                     "forward pass (lm) or the classification (fasttext).",
                     observe::latency_buckets_seconds());
  metrics_.histogram("aio_probe_entropy",
                     "Shannon entropy of the probe's distribution over categories, in bits (log base 2; at most log2 "
                     "of the category count).",
                     observe::entropy_buckets_bits(n_categories));
  metrics_.histogram("aio_time_to_first_token_seconds", "Time from admission to the first token.",
                     observe::latency_buckets_seconds());
  metrics_.histogram("aio_time_per_output_token_seconds", "Decode time per generated token.",
                     observe::latency_buckets_seconds());
  metrics_.gauge("aio_queue_depth", "Requests waiting for a slot, by model.");
  metrics_.gauge("aio_busy_slots", "Slots decoding, by model.");
  metrics_.gauge("aio_slots", "Requests a model runs at once (its slots; a pool's forwarding workers), by model.");
  metrics_.gauge("aio_expected_wait_seconds",
                 "How long a request arriving now would wait for a slot, by local model (what load-aware policies read).");
  metrics_.counter("aio_routes_by_load_total",
                   "Requests a load condition routed (a policy rule that read a model's load matched), by the model "
                   "whose load it read and the model that answered.");
  metrics_.gauge("aio_http_open_connections", "Client connections open (idle keep-alive ones included).");
  metrics_.gauge("aio_http_active_requests", "Requests being handled (read whole, not yet answered).");
  metrics_.counter("aio_http_refused_connections_total", "Connections refused over --max-connections[-per-client].");
  metrics_.counter("aio_http_timeouts_total", "Connections closed by the idle, header or body deadline.");
  metrics_.counter("aio_replica_requests_total",
                   "Requests forwarded to a replica of a remote model's pool, by outcome (ok, or failed: unreachable, "
                   "5xx, timed out or cut off).");
  metrics_.counter("aio_replica_ejections_total", "Times a replica was taken out of its pool (failed check or request).");
  metrics_.gauge("aio_replica_in_flight", "Requests a replica is answering now.");
  metrics_.gauge("aio_replica_healthy", "1 while a replica takes requests, 0 while it is ejected.");
  metrics_.histogram("aio_replica_request_seconds", "Time a replica took per request (to its last byte).",
                     observe::latency_buckets_seconds());
}

std::vector<std::pair<std::string, std::vector<backend::ReplicaState>>> AioService::replica_states() const {
  std::vector<std::pair<std::string, std::vector<backend::ReplicaState>>> out;
  for (const auto &name : router_->model_names())
    if (auto replicas = router_->backend(name).replicas(); !replicas.empty()) out.emplace_back(name, std::move(replicas));
  return out;
}

void AioService::refresh_gauges() {
  for (const auto &name : router_->model_names()) {
    metrics_.set("aio_queue_depth", {{"model", name}}, static_cast<double>(router_->n_queued(name)));
    metrics_.set("aio_busy_slots", {{"model", name}}, static_cast<double>(router_->n_active(name)));
    if (router_->is_local(name))
      metrics_.set("aio_expected_wait_seconds", {{"model", name}}, router_->load(name).wait_ms / 1000.0);
  }
}

void AioService::count_route(const RouteRecord &r) {
  if (r.route.load)
    metrics_.inc("aio_routes_by_load_total", {{"load_of", r.route.load_model}, {"model", r.route.model}});
  if (r.probe.probe_kind == "none") return;
  metrics_.observe("aio_probe_seconds", {{"kind", r.probe.probe_kind}},
                   (r.probe.template_ms + r.probe.wait_ms + r.probe.probe_ms) / 1000.0);
  metrics_.observe("aio_probe_entropy", {{"kind", r.probe.probe_kind}}, r.probe.entropy_bits);
  if (!r.true_label.empty())
    metrics_.inc("aio_probe_shadow_total", {{"kind", r.probe.probe_kind},
                                            {"label", r.true_label},
                                            {"verdict", r.probe.category()}});
}

void AioService::count_done(const RouteRecord &r, const Expected<engine::GenerationRecord> &result) {
  const std::string model = r.route.model.empty() ? "none" : r.route.model;
  const std::string category = r.probe.category();
  const std::string strategy = strategy_name(r.route.strategy);
  if (result) {
    if (result->n_drafted > 0) {
      metrics_.inc("aio_drafted_tokens_total", {{"category", category}, {"strategy", strategy}}, result->n_drafted);
      metrics_.inc("aio_accepted_tokens_total", {{"category", category}, {"strategy", strategy}}, result->n_accepted);
    }
    metrics_.inc("aio_prompt_tokens_total", {{"model", model}}, result->n_prompt_tokens);
    metrics_.inc("aio_generated_tokens_total", {{"model", model}}, result->n_generated);
    metrics_.observe("aio_time_to_first_token_seconds", {{"model", model}}, result->prefill_ms / 1000.0);
    if (result->n_generated > 1)
      metrics_.observe("aio_time_per_output_token_seconds", {{"model", model}},
                       result->decode_ms / 1000.0 / (result->n_generated - 1));
  }
  metrics_.inc("aio_requests_total", {{"model", model}, {"category", category}, {"strategy", strategy},
                                      {"status", std::to_string(openai::http_status_of(result.status()))}});
  live_->record(r, result);
}

nlohmann::json AioService::live_stats() const {
  nlohmann::json doc = live_->to_json();
  const config::AioConfig &cfg = router_->config();
  doc["policy"] = cfg.policy;
  doc["probe_kind"] = cfg.probe.kind;
  auto policy = cfg.find_policy(cfg.policy);
  const auto tau = policy.ok() ? (*policy)->var("tau") : std::nullopt;
  doc["tau"] = tau ? nlohmann::json(*tau) : nlohmann::json(nullptr);
  nlohmann::json models = nlohmann::json::array();
  for (const config::ModelEntry &entry : cfg.models) {
    nlohmann::json m = {{"name", entry.name},
                        {"where", entry.remote() ? "remote" : entry.mixed() ? "local+remote" : "local"}};
    if (!entry.path.empty()) m["file"] = std::filesystem::path(entry.path).filename().string();
    m["busy"] = router_->n_active(entry.name);
    m["slots"] = router_->n_slots(entry.name);
    m["queued"] = router_->n_queued(entry.name);
    if (router_->is_local(entry.name)) m["wait_ms"] = std::round(router_->load(entry.name).wait_ms);
    if (const auto replicas = router_->backend(entry.name).replicas(); !replicas.empty()) {
      nlohmann::json members = nlohmann::json::array();
      for (const backend::ReplicaState &r : replicas)
        members.push_back({{"name", r.name}, {"healthy", r.healthy}, {"in_flight", r.in_flight},
                           {"requests", r.n_requests}});
      m["replicas"] = std::move(members);
    }
    models.push_back(std::move(m));
  }
  doc["models"] = std::move(models);
  return doc;
}

namespace {
// The grammar a response_format asks for (a local model enforces it; a remote one is sent the format itself).
Status apply_response_format(const openai::ApiRequest &api, GenerateParams &params) {
  for (const std::string &pattern : api.schema_patterns) AIO_RETURN_IF_ERROR(openai::check_schema_pattern(pattern));
  if (api.response_format.text()) return {};
  // json_object: any JSON object, as the API defines it (the schema of all objects).
  const std::string schema = api.response_format.type == ResponseFormat::Type::json_object
                                 ? std::string(R"({"type": "object"})")
                                 : api.response_format.schema;
  auto grammar = openai::json_schema_grammar(schema);
  if (!grammar) return grammar.status();
  params.constraints.grammar = std::move(*grammar);
  return {};
}
} // namespace

void AioService::submit(const openai::ApiRequest &api, const std::shared_ptr<StreamChannel> &channel) {
  GenerateParams params = api.params;
  if (Status st = apply_response_format(api, params); !st.ok()) return channel->finish(st);
  // The route as decided (set before any text), read again when the request ends.
  auto route = std::make_shared<RouteRecord>();
  core::Callbacks cb;
  cb.on_route = [this, channel, route](const RouteRecord &r) {
    *route = r;
    count_route(r);
    channel->set_route(r);
  };
  cb.on_output_format = [channel](const chat::OutputFormat &format) { channel->set_output_format(format); };
  cb.on_token = [channel](std::string_view piece, llama_token, std::span<const engine::TokenLogprob> logprobs) {
    return channel->push(std::string(piece), logprobs);
  };
  cb.on_tool_call = [channel](const chat::OutputDelta &delta) { return channel->push_tool_call(delta); };
  cb.on_done = [this, channel, route](Expected<engine::GenerationRecord> result) {
    count_done(*route, result);
    channel->finish(std::move(result));
  };
  cb.streamed = api.stream;
  router_->submit(openai::request_of(api, next_id_++), std::move(params), std::move(cb));
}

void AioService::stop(std::chrono::milliseconds grace) {
  if (router_) router_->stop(grace);
}

} // namespace aio::serve
