// RemoteBackend: a model served elsewhere (config `endpoint:`). Requests routed to it are forwarded, streamed, to that
// OpenAI-compatible server (llama-server, vLLM, ...) by a few worker threads; the probe and policy stayed local. An
// unreachable or failing upstream answers 502 and a silent one 504 for that request only: the router and its other
// models keep serving.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <span>
#include <thread>
#include <vector>

#include "config/config.h"
#include "exec/admission_queue.h"
#include "serve/openai_json.h"

namespace aio::serve {

struct RemoteJob {
  ApiRequest request;
  std::function<bool(std::string_view text, std::span<const engine::TokenLogprob> logprobs)> on_text;             // false cancels (the client went away)
  std::function<bool(const chat::OutputDelta &delta)> on_tool_call; // a tool call's start or more of its arguments
  std::function<void(Expected<engine::GenerationRecord>)> on_done; // exactly once
};

class RemoteBackend {
public:
  // `n_workers` requests are forwarded at once; `queue_capacity` more may wait.
  RemoteBackend(config::ModelEntry entry, int32_t n_workers, size_t queue_capacity);
  ~RemoteBackend(); // stops with no grace

  bool submit(RemoteJob job) { return queue_.try_push(std::move(job)); }
  // Stops accepting, lets forwarded requests finish within `grace`, then cuts them off.
  void stop(std::chrono::milliseconds grace);

  size_t n_active() const { return n_active_.load(); }
  size_t n_queued() const { return queue_.size(); }
  const config::ModelEntry &entry() const { return entry_; }

private:
  void run();
  Expected<engine::GenerationRecord> forward(const RemoteJob &job);

  config::ModelEntry entry_;
  std::string scheme_host_port_; // e.g. http://127.0.0.1:8080
  std::string base_path_;        // e.g. /v1
  std::string api_key_;
  exec::AdmissionQueue<RemoteJob> queue_;
  std::atomic<bool> cut_off_{false}; // past the shutdown grace period: abandon running requests
  std::atomic<size_t> n_active_{0};
  std::vector<std::thread> workers_;
};

} // namespace aio::serve
