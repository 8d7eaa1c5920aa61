// AioService: A-IO as the server runs it. Each request is probed and routed (or pinned to a model), then queued on
// that model's continuously batched engine; its text and outcome arrive through a StreamChannel. The HTTP layer only
// translates JSON to this and back.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/router.h"
#include "serve/metrics.h"
#include "serve/model_worker.h"
#include "serve/openai_json.h"
#include "serve/remote_backend.h"
#include "serve/stream_channel.h"

namespace aio::serve {

struct ServiceParams {
  int32_t n_slots = 4;          // sequences each model decodes together
  size_t queue_capacity = 64;   // waiting requests per model beyond its slots (more get 429)
  int32_t n_batch = 512;        // tokens per batched decode step
};

// What the service decided for an accepted request.
struct Admission {
  RouteRecord route;
  std::string model;            // the model that answers
  int32_t n_prompt_tokens = 0;
};

class AioService {
public:
  static Expected<std::unique_ptr<AioService>> create(config::AioConfig cfg, const ServiceParams &params);
  ~AioService();

  // Routes and queues `req`; `channel` then receives the text and the outcome. On refusal returns the error to send:
  // 400 for an unknown model or a prompt that does not fit, 429 when the chosen model's queue is full.
  std::optional<ApiError> submit(const ApiRequest &req, const std::shared_ptr<StreamChannel> &channel,
                                 Admission &admission);

  std::vector<std::string> model_names() const { return router_->model_names(); }
  Metrics &metrics() { return metrics_; }
  // Stops taking requests, lets running ones finish within `grace`, ends the rest with an error.
  void stop(std::chrono::milliseconds grace);

private:
  AioService() = default;
  void declare_metrics();
  // Sends a request routed to a remote model to its backend.
  std::optional<ApiError> forward(const ApiRequest &req, const std::shared_ptr<StreamChannel> &channel,
                                  Admission &admission);
  // The 429 for a full queue (counted in the metrics).
  ApiError at_capacity(const Admission &admission, size_t n_queued);
  // What runs when a request ends, local or remote: metrics, then the outcome to the channel.
  std::function<void(Expected<engine::GenerationRecord>)> completion_handler(
      const std::shared_ptr<StreamChannel> &channel, const Admission &admission);
  std::unique_ptr<core::Router> router_;
  std::mutex route_mu_; // the lm probe runs on the small model's session: one routing decision at a time
  std::map<std::string, std::unique_ptr<ModelWorker>> workers_;     // local models
  std::map<std::string, std::unique_ptr<RemoteBackend>> remotes_;   // models behind an endpoint
  Metrics metrics_;
  uint64_t next_id_ = 0;
};

} // namespace aio::serve
