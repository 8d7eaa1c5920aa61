// RemoteBackend: a model served elsewhere (config `endpoint:` or `endpoints:`), or the remote members of a mixed pool. Requests routed to it are forwarded,
// streamed, to one replica of its pool (serve/replica_pool.h) - OpenAI-compatible servers such as llama-server or
// vLLM - by a few worker threads; the probe and policy stayed local. A request that fails on a replica before any of
// its answer was relayed is retried once on another; one whose stream already went out ends with an error. No healthy
// replica: 503. An unreachable or failing upstream answers 502 and a silent one 504 for that request only: the router
// and its other models keep serving. In a mixed pool the local member is a retry's other place too: the request is
// handed back to run here (RemoteJob::run_locally).
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
#include "serve/replica_pool.h"

namespace aio::serve {

struct RemoteJob {
  ApiRequest request;
  std::function<bool(std::string_view text, std::span<const engine::TokenLogprob> logprobs)> on_text;             // false cancels (the client went away)
  std::function<bool(const chat::OutputDelta &delta)> on_tool_call; // a tool call's start or more of its arguments
  std::function<void(Expected<engine::GenerationRecord>)> on_done; // exactly once
  uint64_t affinity = 0; // the conversation's key (affinity_key): its turns go to one replica (0 = none)
  bool later_turn = false; // the conversation has earlier turns (an assistant message): keep it where they were
  // The replica it was placed on when it was routed (counted as started there), or nullopt: chosen when it is sent.
  std::optional<size_t> replica;
  // A mixed pool's way to run the request on its local member `member` (already counted as started there); it then
  // owns on_done. Unset: the pool has no local member.
  std::function<void(size_t member)> run_locally;
};

class RemoteBackend {
public:
  // `n_workers` requests are forwarded at once; `queue_capacity` more may wait. `metrics` (may be null) receives the
  // pool's per-replica series. The pool's health checks start here.
  // max_line_bytes: the longest line of a replica's event stream held before the answer is refused (502).
  RemoteBackend(config::ModelEntry entry, int32_t n_workers, size_t queue_capacity, Metrics *metrics = nullptr,
                size_t max_line_bytes = size_t{4} << 20);
  ~RemoteBackend(); // stops with no grace

  bool submit(RemoteJob job) { return queue_.try_push(std::move(job)); }
  // Stops accepting, lets forwarded requests finish within `grace`, then cuts them off.
  void stop(std::chrono::milliseconds grace);

  size_t n_active() const { return n_active_.load(); }
  size_t n_queued() const { return queue_.size(); }
  const config::ModelEntry &entry() const { return entry_; }
  ReplicaPool &pool() { return pool_; }
  const ReplicaPool &pool() const { return pool_; }

private:
  // One try on one replica: the outcome, whether it says the replica is unwell, and whether any of the answer was
  // already relayed to the client (then it cannot be retried elsewhere).
  struct Attempt {
    Expected<engine::GenerationRecord> result;
    bool replica_failed = false;
    bool relayed = false;
  };
  void run();
  // The outcome, or nullopt when the request was handed to the local member (which then answers it).
  std::optional<Expected<engine::GenerationRecord>> forward(const RemoteJob &job);
  Attempt forward_to(size_t replica, const RemoteJob &job);

  config::ModelEntry entry_;
  std::string api_key_; // before pool_: the pool's health checks use it
  size_t max_line_bytes_; // an upstream stream line held at most (--max-upstream-line)
  ReplicaPool pool_;
  exec::AdmissionQueue<RemoteJob> queue_;
  std::atomic<bool> cut_off_{false}; // past the shutdown grace period: abandon running requests
  std::atomic<size_t> n_active_{0};
  std::vector<std::thread> workers_;
};

} // namespace aio::serve
