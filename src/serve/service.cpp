#include "serve/service.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <tuple>
#include <utility>

#include "serve/structured_output.h"

namespace aio::serve {

Expected<std::unique_ptr<AioService>> AioService::create(config::AioConfig cfg, const ServiceParams &params) {
  std::unique_ptr<AioService> s(new AioService());
  std::vector<config::ModelEntry> entries = cfg.models;
  core::RouterParams rp;
  rp.n_slots = params.n_slots;
  rp.queue_capacity = params.queue_capacity;
  rp.n_batch = std::max(params.n_batch, params.n_slots);
  rp.shared_scheduler = params.shared_scheduler;
  rp.turns = params.turns;
  auto router = core::Router::create(std::move(cfg), rp);
  if (!router) return router.status();
  s->router_ = std::move(*router);
  s->live_ = std::make_unique<LiveStats>(s->router_->config().categories);
  s->declare_metrics();
  // A pool forwards up to --slots requests per remote replica at once (a mixed pool's local member has its engine).
  for (const auto &entry : entries) {
    if (entry.replicas.empty()) continue;
    const auto n_remote = std::count_if(entry.replicas.begin(), entry.replicas.end(),
                                        [](const config::Replica &r) { return !r.local; });
    s->remotes_[entry.name] = std::make_unique<RemoteBackend>(entry, params.n_slots * static_cast<int32_t>(n_remote),
                                                              params.queue_capacity, &s->metrics_, params.max_upstream_line);
  }
  return s;
}

AioService::~AioService() { stop(std::chrono::milliseconds(0)); }

void AioService::declare_metrics() {
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
                     latency_buckets_seconds());
  metrics_.histogram("aio_probe_entropy",
                     "Shannon entropy of the probe's distribution over categories, in bits (log base 2; at most log2 "
                     "of the category count).",
                     entropy_buckets_bits(router_->config().categories.size()));
  metrics_.histogram("aio_time_to_first_token_seconds", "Time from admission to the first token.",
                     latency_buckets_seconds());
  metrics_.histogram("aio_time_per_output_token_seconds", "Decode time per generated token.",
                     latency_buckets_seconds());
  metrics_.gauge("aio_queue_depth", "Requests waiting for a slot, by model.");
  metrics_.gauge("aio_busy_slots", "Slots decoding, by model.");
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
                     latency_buckets_seconds());
}

std::vector<std::pair<std::string, std::vector<ReplicaState>>> AioService::replica_states() const {
  std::vector<std::pair<std::string, std::vector<ReplicaState>>> out;
  for (const auto &[name, backend] : remotes_) out.emplace_back(name, backend->pool().states());
  return out;
}

void AioService::refresh_gauges() {
  for (const auto &name : router_->model_names()) {
    if (router_->is_local(name)) {
      metrics_.set("aio_queue_depth", {{"model", name}}, static_cast<double>(router_->n_queued(name)));
      metrics_.set("aio_busy_slots", {{"model", name}}, static_cast<double>(router_->n_active(name)));
      metrics_.set("aio_expected_wait_seconds", {{"model", name}}, router_->load(name).wait_ms / 1000.0);
    } else if (auto it = remotes_.find(name); it != remotes_.end()) {
      metrics_.set("aio_queue_depth", {{"model", name}}, static_cast<double>(it->second->n_queued()));
      metrics_.set("aio_busy_slots", {{"model", name}}, static_cast<double>(it->second->n_active()));
    }
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
                                      {"status", std::to_string(http_status_of(result.status()))}});
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
    const auto it = remotes_.find(entry.name);
    if (router_->is_local(entry.name)) {
      m["busy"] = router_->n_active(entry.name);
      m["queued"] = router_->n_queued(entry.name);
      m["wait_ms"] = std::round(router_->load(entry.name).wait_ms);
    } else if (it != remotes_.end()) {
      m["busy"] = it->second->n_active();
      m["queued"] = it->second->n_queued();
    }
    if (it != remotes_.end()) {
      nlohmann::json members = nlohmann::json::array();
      for (const ReplicaState &r : it->second->pool().states())
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
// A conversation's opening - its system prompts and first user turn, or a prompt's first 512 bytes - which every later
// turn repeats: the key that keeps its turns on one replica.
uint64_t conversation_affinity(const ApiRequest &api) {
  std::vector<std::pair<std::string, std::string>> opening;
  if (api.endpoint == Endpoint::completions) {
    opening.emplace_back("prompt", api.prompt.substr(0, 512));
  } else {
    for (const auto &m : api.messages) {
      opening.emplace_back(m.role, m.content);
      if (m.role == "user") break;
    }
  }
  return affinity_key(opening);
}

Request request_of(const ApiRequest &api, uint64_t id) {
  Request req;
  if (api.endpoint == Endpoint::chat_completions) {
    req.messages = api.messages;
    req.tools = api.tools;
    req.tool_choice = api.tool_choice;
    req.parallel_tool_calls = api.parallel_tool_calls;
  } else {
    req.prompt = api.prompt;
  }
  if (api.model != "aio") req.pinned_model = api.model;
  req.policy = api.policy;
  if (api.label) {
    req.true_label = api.label; // a shadow label: the oracle policy routes on it; the probe runs and is counted
    req.shadow_probe = true;
  }
  req.id = id;
  return req;
}

// A request's place in a pool: where it went, and its conversation's key - worked out only for a request that is
// routed to a pool (a local model never needs it).
struct PoolPlacement {
  std::optional<size_t> member; // the local member of a mixed pool it runs on (counted as started there)
  std::chrono::steady_clock::time_point since;
  std::optional<size_t> remote; // the remote replica it was placed on, until the forwarder takes it
  std::optional<std::pair<uint64_t, bool>> key; // affinity key, later turn (see conversation_key)

  // The conversation's affinity key (0 when the pool's affinity is off) and whether it has earlier turns.
  std::pair<uint64_t, bool> conversation_key(const ApiRequest &api, bool affinity_on) {
    if (!key)
      key.emplace(conversation_affinity(api), std::any_of(api.messages.begin(), api.messages.end(),
                                                          [](const engine::ChatMessage &m) { return m.role == "assistant"; }));
    return {affinity_on ? key->first : 0, key->second};
  }
};
} // namespace

void AioService::submit(const ApiRequest &api_in, const std::shared_ptr<StreamChannel> &channel) {
  ApiRequest api = api_in;
  // Structured outputs become a grammar the executor enforces (remote endpoints get response_format as sent).
  for (const std::string &pattern : api.schema_patterns)
    if (Status st = check_schema_pattern(pattern); !st.ok()) return channel->finish(st);
  if (api.response_format != "text") {
    // json_object: any JSON object, as the API defines it (the schema of all objects).
    const nlohmann::json schema =
        api.response_format == "json_object" ? nlohmann::json{{"type", "object"}} : api.response_schema;
    auto grammar = json_schema_grammar(schema.dump());
    if (!grammar) return channel->finish(grammar.status());
    api.params.constraints.grammar = std::move(*grammar);
  }
  Request req = request_of(api, next_id_++);
  // Shared by the callbacks that forward or place the request (copied once, not per callback).
  auto shared_api = std::make_shared<const ApiRequest>(std::move(api));

  // The route as decided (set before any text), read again when the request ends.
  auto route = std::make_shared<RouteRecord>();
  auto local = std::make_shared<PoolPlacement>();
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
  cb.on_done = [this, channel, route, local](Expected<engine::GenerationRecord> result) {
    if (local->member) { // run here as a member of its model's pool: counted there too
      ReplicaPool &pool = remotes_.at(route->route.model)->pool();
      pool.finished(*local->member, false, "",
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - local->since).count());
      if (result) result->replica = pool.replica(*local->member).name;
    }
    count_done(*route, result);
    channel->finish(std::move(result));
  };
  // A mixed pool chooses among its members, the local one included, when the request is routed to it.
  cb.place_elsewhere = [this, shared_api, local](const RouteRecord &r) {
    RemoteBackend &backend = *remotes_.at(r.route.model);
    ReplicaPool &pool = backend.pool();
    const auto [affinity, later_turn] = local->conversation_key(*shared_api, backend.entry().affinity);
    const auto i = pool.pick(affinity, std::nullopt, later_turn, /*include_local=*/true);
    if (!i) return false;
    pool.started(*i);
    if (pool.replica(*i).local) {
      local->member = *i;
      local->since = std::chrono::steady_clock::now();
      return false;
    }
    local->member.reset();
    local->remote = *i;
    return true;
  };
  cb.forward = [this, shared_api, channel, route, local, id = req.id, on_done = cb.on_done,
                on_token = cb.on_token, on_output_format = cb.on_output_format](const RouteRecord &r) {
    RemoteBackend &backend = *remotes_.at(r.route.model);
    RemoteJob job;
    job.request = *shared_api;
    job.on_text = [channel](std::string_view piece, std::span<const engine::TokenLogprob> logprobs) {
      return channel->push(std::string(piece), logprobs);
    };
    job.on_tool_call = [channel](const chat::OutputDelta &delta) { return channel->push_tool_call(delta); };
    job.on_done = on_done;
    std::tie(job.affinity, job.later_turn) = local->conversation_key(*shared_api, backend.entry().affinity);
    job.replica = std::exchange(local->remote, std::nullopt);
    if (backend.entry().mixed()) {
      // Remote replicas that fail it (or are all down) hand it back to the local member, with the route as decided.
      job.run_locally = [this, shared_api, route, local, on_done, on_token, on_output_format, id](size_t member) {
        local->member = member;
        local->since = std::chrono::steady_clock::now();
        core::Callbacks here; // as the first try's, but the route is not counted or announced again
        here.on_route = [route](const RouteRecord &r) { *route = r; };
        here.on_output_format = on_output_format;
        here.on_token = on_token;
        here.on_done = on_done;
        router_->submit_routed(request_of(*shared_api, id), shared_api->params, *route, std::move(here));
      };
    }
    const std::optional<size_t> placed = job.replica;
    if (!backend.submit(std::move(job))) {
      if (placed) backend.pool().unstarted(*placed);
      on_done(resource_exhausted("model " + r.route.model + " is at capacity (" +
                                 std::to_string(backend.n_queued()) + " requests waiting); retry shortly"));
    }
  };
  router_->submit(std::move(req), shared_api->params, std::move(cb));
}

void AioService::stop(std::chrono::milliseconds grace) {
  if (router_) router_->stop(grace);
  for (auto &[_, r] : remotes_) r->stop(grace);
}

} // namespace aio::serve
