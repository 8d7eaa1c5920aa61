#include "serve/service.h"

namespace aio::serve {

Expected<std::unique_ptr<AioService>> AioService::create(config::AioConfig cfg, const ServiceParams &params) {
  std::unique_ptr<AioService> s(new AioService());
  std::vector<config::ModelEntry> entries = cfg.models;
  auto router = core::Router::create(std::move(cfg));
  if (!router) return router.status();
  s->router_ = std::move(*router);
  std::map<std::string, std::unique_ptr<BatchEngine>> engines;
  for (const auto &entry : entries) {
    if (entry.remote()) {
      s->remotes_[entry.name] = std::make_unique<RemoteBackend>(entry, params.n_slots, params.queue_capacity);
      continue;
    }
    BatchEngineParams bp;
    bp.n_slots = params.n_slots;
    bp.n_ctx_per_slot = entry.n_ctx;
    bp.n_batch = std::max(params.n_batch, params.n_slots);
    bp.n_threads = s->router_->config().threads;
    bp.queue_capacity = params.queue_capacity;
    auto engine = BatchEngine::create(s->router_->shared_model(entry.name), bp);
    if (!engine) return engine.status();
    engines[entry.name] = std::move(*engine);
  }
  // Draft-model speculation runs inside the target's batched step with a drafter of its own; set up the pairs the
  // serving policy can route to now, so a pair that cannot work (different vocabularies) fails at start, not later.
  auto serving = s->router_->config().find_policy(s->router_->config().policy);
  if (!serving) return serving.status();
  for (const policy::Rule &rule : (*serving)->rules) {
    if (rule.strategy != Strategy::draft) continue;
    if (s->remotes_.count(rule.model) || s->remotes_.count(rule.draft_model))
      return invalid_argument("policy " + (*serving)->name + " (line " + std::to_string(rule.line) +
                              "): draft-model speculation needs both models local, but " +
                              (s->remotes_.count(rule.model) ? rule.model : rule.draft_model) +
                              " is a remote endpoint; use strategy plain or pld for it");
    Status st = engines.at(rule.model)->add_drafter(rule.draft_model, s->router_->shared_model(rule.draft_model));
    if (!st.ok())
      return invalid_argument("policy " + (*serving)->name + " (line " + std::to_string(rule.line) + "): " +
                              st.message());
  }
  for (auto &[name, engine] : engines) s->workers_[name] = std::make_unique<ModelWorker>(std::move(engine));
  s->declare_metrics();
  return s;
}

AioService::~AioService() { stop(std::chrono::milliseconds(0)); }

void AioService::declare_metrics() {
  metrics_.counter("aio_requests_total", "Requests by model, category, strategy and HTTP status.");
  metrics_.counter("aio_prompt_tokens_total", "Prompt tokens by model.");
  metrics_.counter("aio_generated_tokens_total", "Generated tokens by model.");
  metrics_.counter("aio_drafted_tokens_total", "Tokens proposed by PLD or a draft model, by category and strategy.");
  metrics_.counter("aio_accepted_tokens_total", "Proposed tokens the model accepted, by category and strategy.");
  metrics_.histogram("aio_probe_seconds", "Probe latency by probe kind.", latency_buckets_seconds());
  metrics_.histogram("aio_probe_entropy_bits", "Probe entropy (bits).", entropy_buckets_bits());
  metrics_.histogram("aio_time_to_first_token_seconds", "Time from admission to the first token.",
                     latency_buckets_seconds());
  metrics_.histogram("aio_time_per_output_token_seconds", "Decode time per generated token.",
                     latency_buckets_seconds());
  metrics_.gauge("aio_queue_depth", "Requests waiting for a slot, by model.");
  metrics_.gauge("aio_busy_slots", "Slots decoding, by model.");
}

std::optional<ApiError> AioService::submit(const ApiRequest &req, const std::shared_ptr<StreamChannel> &channel,
                                           Admission &admission) {
  core::Request r;
  r.chat = req.endpoint == Endpoint::chat_completions;
  if (r.chat) {
    // The chat template is applied per model; keep the last user turn as the text the probe classifies.
    for (const auto &m : req.messages) r.prompt += (r.prompt.empty() ? "" : "\n") + m.content;
  } else {
    r.prompt = req.prompt;
  }
  if (req.model != "aio") r.pinned_model = req.model;
  Expected<RouteRecord> routed = internal_error("unrouted");
  core::ProbePrefix prefix; // the lm probe's KV of this request, when it routes to the probe's model
  {
    std::lock_guard lock(route_mu_);
    r.id = next_id_++;
    routed = router_->route(r, &prefix);
  }
  if (!routed) {
    const bool not_found = routed.status().message().find("no model named") != std::string::npos;
    return ApiError{not_found ? 404 : 400, routed.status().message(), "invalid_request_error", not_found ? "model" : ""};
  }
  admission.route = *routed;
  admission.model = routed->route.model;
  if (routed->probe.probe_kind != "none") {
    metrics_.observe("aio_probe_seconds", {{"kind", routed->probe.probe_kind}},
                     (routed->probe.template_ms + routed->probe.probe_ms) / 1000.0);
    metrics_.observe("aio_probe_entropy_bits", {{"kind", routed->probe.probe_kind}}, routed->probe.entropy_bits);
  }

  if (remotes_.count(admission.model)) return forward(req, channel, admission);

  // Chat requests go through the chosen model's own template with the full conversation.
  Expected<std::vector<llama_token>> tokens = internal_error("untokenized");
  if (r.chat) {
    auto text = router_->model(admission.model).apply_chat_template(req.messages);
    if (!text) return ApiError{400, text.status().message(), "invalid_request_error", "messages"};
    tokens = router_->model(admission.model).tokenize(*text, false, true);
  } else {
    tokens = router_->tokenize_for(admission.model, r);
  }
  if (!tokens) return ApiError{400, tokens.status().message(), "invalid_request_error", ""};
  admission.n_prompt_tokens = static_cast<int32_t>(tokens->size());

  Job job;
  job.prompt = std::move(*tokens);
  job.params = req.params;
  job.strategy = admission.route.route.strategy;
  job.strategy_params = admission.route.route.params;
  job.draft_model = admission.route.route.draft_model;
  if (prefix.model == admission.model) {
    job.cached_tokens = std::move(prefix.tokens);
    job.cached_state = std::move(prefix.state);
  }
  job.on_token = [channel](std::string_view piece, llama_token) { return channel->push(std::string(piece)); };
  job.on_done = completion_handler(channel, admission);
  ModelWorker &worker = *workers_.at(admission.model);
  if (!worker.submit(std::move(job))) return at_capacity(admission, worker.n_queued());
  metrics_.set("aio_queue_depth", {{"model", admission.model}}, static_cast<double>(worker.n_queued()));
  metrics_.set("aio_busy_slots", {{"model", admission.model}}, static_cast<double>(worker.n_active()));
  return std::nullopt;
}

std::optional<ApiError> AioService::forward(const ApiRequest &req, const std::shared_ptr<StreamChannel> &channel,
                                            Admission &admission) {
  Route &route = admission.route.route;
  if (route.strategy != Strategy::plain) {
    route.reason += " (" + std::string(strategy_name(route.strategy)) +
                    " asked for, but the remote server decodes its own way)";
    route.strategy = Strategy::plain;
  }
  RemoteBackend &backend = *remotes_.at(admission.model);
  RemoteJob job;
  job.request = req;
  job.on_text = [channel](std::string_view piece) { return channel->push(std::string(piece)); };
  job.on_done = completion_handler(channel, admission);
  if (!backend.submit(std::move(job))) return at_capacity(admission, backend.n_queued());
  metrics_.set("aio_queue_depth", {{"model", admission.model}}, static_cast<double>(backend.n_queued()));
  return std::nullopt;
}

ApiError AioService::at_capacity(const Admission &admission, size_t n_queued) {
  metrics_.inc("aio_requests_total", {{"model", admission.model},
                                      {"category", admission.route.probe.category()},
                                      {"strategy", strategy_name(admission.route.route.strategy)},
                                      {"status", "429"}});
  return ApiError{429, "model " + admission.model + " is at capacity (" + std::to_string(n_queued) +
                           " requests waiting); retry shortly", "rate_limit_error", ""};
}

std::function<void(Expected<engine::GenerationRecord>)>
AioService::completion_handler(const std::shared_ptr<StreamChannel> &channel, const Admission &admission) {
  const std::string model = admission.model;
  const std::string category = admission.route.probe.category();
  const std::string strategy = strategy_name(admission.route.route.strategy);
  return [this, channel, model, category, strategy](Expected<engine::GenerationRecord> result) {
    if (result) {
      if (result->n_drafted > 0) {
        metrics_.inc("aio_drafted_tokens_total", {{"category", category}, {"strategy", strategy}}, result->n_drafted);
        metrics_.inc("aio_accepted_tokens_total", {{"category", category}, {"strategy", strategy}},
                     result->n_accepted);
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
    channel->finish(std::move(result));
  };
}

void AioService::stop(std::chrono::milliseconds grace) {
  for (auto &[_, w] : workers_) w->stop(grace);
  for (auto &[_, r] : remotes_) r->stop(grace);
}

} // namespace aio::serve
