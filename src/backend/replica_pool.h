// ReplicaPool: the servers of one remote model (config `endpoints:`), and which of them takes the next request.
//
// Choosing: a request with an affinity key (a conversation's opening turns) goes to the healthy replica that weighted
// rendezvous hashing gives that key - the same one for every turn while it stays healthy, so its prompt cache stays
// warm - unless that replica is loaded well beyond its share (bounded-load hashing: 25% over its share, plus one, or two
// for a later turn), then to the next in the key's
// order. Without a key: the less loaded of two replicas drawn by weight (power of two choices).
//
// Health: a thread GETs each replica's health path every interval (an ejected one's every second, when that is
// sooner); a failed check ejects the replica, a passing one re-admits it. A request that fails on a replica (connection refused or reset, 5xx, timeout) ejects it at once
// (passive), for a backoff that doubles with each consecutive failure; when the backoff ends it takes requests again
// on probation. A failed request never ejects the last replica still taking requests; a failed check does. Every
// change of state is logged and counted.
//
// A mixed pool has one local member (config `- local`): the model's GGUF run by this process. It is chosen like any
// other member (its in-flight requests count as its load), is never health-checked or ejected, and the caller runs
// what is placed on it (pick's `include_local`).
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "backend/backend.h"
#include "config/config.h"
#include "observe/metrics.h"

namespace aio::backend {

class ReplicaPool {
public:
  // `metrics` may be null (tests); else the pool declares and keeps its per-replica series there.
  ReplicaPool(std::string model, std::vector<config::Replica> replicas, config::HealthCheck health, observe::Metrics *metrics,
              std::string api_key = "");
  ~ReplicaPool();

  // Starts the health checks (a thread). Separate from the constructor so tests can drive the pool by hand.
  void start_health_checks();
  void stop();

  // The replica for one request, or nullopt when none is healthy. `affinity`: 0 = none. `exclude`: a replica this
  // request already failed on (its retry goes to another when one is healthy). `later_turn`: the conversation has
  // earlier turns (its replica has their prompt cached): it stays there under more load than a first turn would.
  // `include_local`: the local member may be chosen (the caller can run the request here).
  std::optional<size_t> pick(uint64_t affinity, std::optional<size_t> exclude = std::nullopt, bool later_turn = false,
                             bool include_local = false);
  // Whether replica i takes requests now (healthy, or its backoff is over).
  bool takes_requests(size_t i) const;
  const config::Replica &replica(size_t i) const { return replicas_[i].config; }
  // Replica i's URL split for an HTTP client: scheme://host:port, and the base path (e.g. /v1).
  const std::string &origin(size_t i) const { return replicas_[i].scheme_host_port; }
  const std::string &base_path(size_t i) const { return replicas_[i].base_path; }
  size_t size() const { return replicas_.size(); }

  // Brackets one request on replica i. `replica_failed`: it failed in a way that says the replica is unwell
  // (unreachable, reset, 5xx, timed out) - not the client's error, not a cancel.
  void started(size_t i);
  void finished(size_t i, bool replica_failed, const std::string &why, double seconds);
  // Undoes started(i) for a request that never went to replica i (placed there, then moved before it was sent).
  void unstarted(size_t i);

  // Seconds until an ejected replica may take requests again (the soonest), for Retry-After when all are down.
  int retry_after_seconds() const;
  std::vector<ReplicaState> states() const;
  const std::string &model() const { return model_; }

private:
  using Clock = std::chrono::steady_clock;
  struct Entry {
    config::Replica config;
    std::string scheme_host_port, base_path; // the URL split for the HTTP client
    bool ejected = false;
    bool ejected_by_check = false; // only a passing health check re-admits it
    Clock::time_point ejected_until;
    int32_t consecutive_failures = 0;
    ReplicaState state;
  };
  bool usable(const Entry &e, Clock::time_point now) const; // caller holds mu_
  void eject(size_t i, const std::string &why, bool by_check); // caller holds mu_
  void admit(size_t i, const char *how);                        // caller holds mu_
  void publish(size_t i);                                       // caller holds mu_: the gauges of replica i
  void health_loop();
  std::string check(const Entry &e) const; // one GET of the health path: "" on 2xx, else what went wrong

  std::string model_;
  config::HealthCheck health_;
  observe::Metrics *metrics_;
  std::string api_key_;
  mutable std::mutex mu_;
  std::vector<Entry> replicas_;
  uint64_t draws_ = 0; // state of the power-of-two-choices draws
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread checker_;
};

// The affinity key of a conversation: a hash of its opening (the system prompt and first user turn, or a prompt's
// first 512 bytes), which every later turn repeats. 0 when there is nothing to key on.
uint64_t affinity_key(const std::vector<std::pair<std::string, std::string>> &opening);

} // namespace aio::backend
