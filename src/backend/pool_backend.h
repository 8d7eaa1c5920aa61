// PoolBackend: a model served by remote replicas (config `endpoint:` or `endpoints:`) - OpenAI-compatible servers
// such as llama-server or vLLM - and, in a mixed pool (`- local` among them), by its GGUF loaded here as well.
// The pool (backend/replica_pool.h) places each request routed to the model: a remote replica gets it forwarded,
// streamed, by a few worker threads (backend/upstream_call.h); the local member runs it on its engine. A request that
// fails on a replica before any of its answer was relayed is retried once on another member (the local one included);
// one whose stream already went out ends with an error. No healthy replica: 503. An unreachable or failing upstream
// answers 502 and a silent one 504 for that request only: the Router and its other models keep serving.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "backend/backend.h"
#include "backend/local_backend.h"
#include "backend/replica_pool.h"
#include "backend/upstream_call.h"
#include "config/config.h"
#include "exec/admission_queue.h"
#include "observe/metrics.h"

namespace aio::backend {

struct PoolParams {
  int32_t n_workers = 4;       // requests forwarded at once
  size_t queue_capacity = 64;  // more may wait for a worker (beyond: 429)
  observe::Metrics *metrics = nullptr; // receives the pool's per-replica series (may be null)
  size_t max_line_bytes = size_t{4} << 20; // the longest line of a replica's event stream held (--max-upstream-line)
};

class PoolBackend : public Backend {
public:
  // `local`: a mixed pool's local member, or null. The pool's health checks start here.
  PoolBackend(config::ModelEntry entry, std::unique_ptr<LocalBackend> local, const PoolParams &params);
  ~PoolBackend() override; // stops with no grace

  void submit(Job job) override;
  bool takes_in_place(const Request &request, const LocalBackend &engine, Callbacks &cb) override;
  LocalBackend *local() override { return local_.get(); }
  bool remote() const override { return true; }
  size_t n_active() const override { return n_sending_.load() + (local_ ? local_->n_active() : 0); }
  size_t n_queued() const override { return queue_.size() + (local_ ? local_->n_queued() : 0); }
  size_t n_slots() const override { return workers_.size() + (local_ ? local_->n_slots() : 0); }
  std::vector<ReplicaState> replicas() const override { return pool_.states(); }
  // Stops accepting, lets forwarded requests finish within `grace`, then cuts them off.
  void stop(std::chrono::milliseconds grace) override;

  ReplicaPool &pool() { return pool_; }

private:
  // A request on its way to a remote replica.
  struct Outbound {
    Job job;
    uint64_t affinity = 0;   // the conversation's key (affinity_key): its turns go to one replica (0 = none)
    bool later_turn = false; // the conversation has earlier turns: keep it where they were
    std::optional<size_t> replica; // the replica it was placed on (counted as started there), or nullopt
  };
  void run();
  // Tries the request on its replica, and once more on another member when that one failed it before any of its
  // answer went out. Ends it (on_done), or hands it to the local member.
  void send_out(Outbound f);
  Attempt try_replica(size_t replica, const Outbound &f);
  // Runs `job` on the local member `member`, already counted as started there; its end is counted in the pool too.
  void run_here(Job job, size_t member);
  Callbacks counted_here(Callbacks cb, size_t member);
  // The conversation's affinity key (0 when the pool's affinity is off) and whether it has earlier turns.
  std::pair<uint64_t, bool> conversation_key(const Request &request) const;
  // The route as a remote replica runs it: it decodes its own way (plain).
  static void as_remote(RouteRecord &rec);

  config::ModelEntry entry_;
  std::unique_ptr<LocalBackend> local_;
  std::string api_key_; // before pool_: the pool's health checks use it
  size_t max_line_bytes_;
  ReplicaPool pool_;
  exec::AdmissionQueue<Outbound> queue_;
  std::atomic<bool> cut_off_{false}; // past the shutdown grace period: abandon running requests
  std::atomic<size_t> n_sending_{0};
  std::vector<std::thread> workers_;
};

} // namespace aio::backend
