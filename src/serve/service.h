// AioService: A-IO as the server runs it. The HTTP layer hands it a parsed request and a StreamChannel; the Router
// routes it (probe, policy) and its model's backend answers it (a local engine or a pool of replicas); the route, the
// text and the outcome arrive through the channel. Metrics are kept here.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "core/router.h"
#include "observe/live_stats.h"
#include "observe/metrics.h"
#include "openai/openai_json.h"
#include "serve/stream_channel.h"

namespace aio::serve {

struct ServiceParams {
  int32_t n_slots = 4;          // sequences each model decodes together
  size_t queue_capacity = 64;   // waiting requests per model beyond its slots (more get 429)
  int32_t n_batch = 512;        // tokens per batched decode step
  bool shared_scheduler = true; // co-resident models step in turn on one thread (false: a thread per model)
  exec::Turns turns = exec::Turns::first; // with a shared scheduler: which model steps next
  size_t max_upstream_line = size_t{4} << 20; // longest line of an upstream's event stream (--max-upstream-line)
  // Hears every engine step (`aio serve --trace-steps`; core::RouterParams::on_step).
  std::function<void(const std::string &model, const exec::StepEvent &)> on_step;
};

class AioService {
public:
  static Expected<std::unique_ptr<AioService>> create(config::AioConfig cfg, const ServiceParams &params);
  ~AioService();

  // Routes and queues `req`. The channel receives the route (before any text), the text and the outcome; a refused
  // request (unknown model: 404; bad input or a prompt that does not fit: 400; a full queue: 429) ends the channel
  // with that error.
  void submit(const openai::ApiRequest &req, const std::shared_ptr<StreamChannel> &channel);

  std::vector<std::string> model_names() const { return router_->model_names(); }
  // Every remote model's replicas, as /health reports them.
  std::vector<std::pair<std::string, std::vector<backend::ReplicaState>>> replica_states() const;
  observe::Metrics &metrics() { return metrics_; }
  // The live stats document (GET /v1/aio/stats, the dashboard's feed): LiveStats' record plus the models as they are
  // now (where each runs, busy slots, queue, pool members) and the serving policy with its tau.
  nlohmann::json live_stats() const;
  // Sets the queue-depth and busy-slot gauges to what holds now (called when /metrics is scraped).
  void refresh_gauges();
  // Stops taking requests, lets running ones finish within `grace`, ends the rest with an error.
  void stop(std::chrono::milliseconds grace);

private:
  AioService() = default;
  void declare_metrics(size_t n_categories);
  void count_route(const RouteRecord &route);
  void count_done(const RouteRecord &route, const Expected<engine::GenerationRecord> &result);

  observe::Metrics metrics_; // before router_ (made first, destroyed last): its pools keep their replicas' series here
  std::unique_ptr<core::Router> router_;
  std::unique_ptr<observe::LiveStats> live_;
  std::atomic<uint64_t> next_id_{0};
};

} // namespace aio::serve
