#include "backend/replica_pool.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>

#include <httplib.h>

namespace aio::backend {
namespace {

// A passive ejection lasts 1 s, doubling with each consecutive failure up to 30 s (Envoy's outlier detection grows
// its ejection time the same way): a replica that keeps failing is tried ever more rarely.
constexpr double kBackoffBaseSeconds = 1, kBackoffMaxSeconds = 30;
// Bounded-load hashing: a replica takes its key's requests until it holds 25% more than its share of those in flight,
// plus one - plus two for a conversation's later turns, whose prompt the replica has cached (moving them costs a
// prefill; moving a first turn costs nothing, and balances the load).
constexpr double kLoadBound = 1.25, kFirstTurnSlack = 1, kLaterTurnSlack = 2;

uint64_t mix(uint64_t z) { // splitmix64's finalizer
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

uint64_t hash_text(const std::string &s, uint64_t seed) {
  uint64_t h = seed ^ 0xCBF29CE484222325ULL; // FNV-1a, then mixed
  for (unsigned char c : s) h = (h ^ c) * 0x100000001B3ULL;
  return mix(h);
}

// Uniform in (0, 1) from 64 bits.
double unit(uint64_t bits) { return (static_cast<double>(bits >> 11) + 0.5) / 9007199254740992.0; }

// On stderr, as every log line of A-IO's (stdout carries answers: `aio generate --json`), flushed: an operator tails
// them as they happen.
void log_line(const std::string &line) {
  std::fprintf(stderr, "aio: %s\n", line.c_str());
  std::fflush(stderr);
}

} // namespace

uint64_t affinity_key(const std::vector<std::pair<std::string, std::string>> &opening) {
  if (opening.empty()) return 0;
  uint64_t h = 0x9E3779B97F4A7C15ULL;
  for (const auto &[role, text] : opening) h = hash_text(text, hash_text(role, h));
  return h == 0 ? 1 : h;
}

ReplicaPool::ReplicaPool(std::string model, std::vector<config::Replica> replicas, config::HealthCheck health,
                         observe::Metrics *metrics, std::string api_key)
    : model_(std::move(model)), health_(std::move(health)), metrics_(metrics), api_key_(std::move(api_key)) {
  for (auto &r : replicas) {
    Entry e;
    if (!r.local) {
      // url = scheme://host[:port][/base]; the config loader checked its shape.
      const size_t host_start = r.url.find("://") + 3;
      const size_t path_start = r.url.find('/', host_start);
      e.scheme_host_port = r.url.substr(0, path_start);
      e.base_path = path_start == std::string::npos ? "" : r.url.substr(path_start);
    }
    e.state.name = r.name;
    e.state.url = r.local ? "local" : r.url;
    e.config = std::move(r);
    replicas_.push_back(std::move(e));
  }
  std::lock_guard lock(mu_);
  for (size_t i = 0; i < replicas_.size(); ++i) publish(i);
}

ReplicaPool::~ReplicaPool() { stop(); }

void ReplicaPool::start_health_checks() {
  if (checker_.joinable()) return;
  checker_ = std::thread([this] { health_loop(); });
}

void ReplicaPool::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (checker_.joinable()) checker_.join();
}

bool ReplicaPool::usable(const Entry &e, Clock::time_point now) const {
  return !e.ejected || (!e.ejected_by_check && now >= e.ejected_until);
}

bool ReplicaPool::takes_requests(size_t i) const {
  std::lock_guard lock(mu_);
  return usable(replicas_[i], Clock::now());
}

std::optional<size_t> ReplicaPool::pick(uint64_t affinity, std::optional<size_t> exclude, bool later_turn,
                                        bool include_local) {
  std::lock_guard lock(mu_);
  const auto now = Clock::now();
  std::vector<size_t> candidates;
  for (size_t i = 0; i < replicas_.size(); ++i)
    if (usable(replicas_[i], now) && exclude != i && (include_local || !replicas_[i].config.local))
      candidates.push_back(i);
  if (candidates.empty()) return std::nullopt;
  if (candidates.size() == 1) return candidates.front();

  if (affinity != 0) {
    // Weighted rendezvous hashing: each replica scores the key; the highest score wins. Removing a replica moves only
    // the keys it held, and its keys come back to it when it returns.
    std::vector<std::pair<double, size_t>> ranked;
    double total_weight = 0, total_in_flight = 0;
    for (size_t i : candidates) {
      const Entry &e = replicas_[i];
      const double u = unit(hash_text(e.config.name, affinity));
      ranked.emplace_back(e.config.weight / -std::log(u), i);
      total_weight += e.config.weight;
      total_in_flight += static_cast<double>(e.state.in_flight);
    }
    std::sort(ranked.begin(), ranked.end(), std::greater<>());
    for (const auto &[score, i] : ranked) {
      const Entry &e = replicas_[i];
      const double bound = kLoadBound * (total_in_flight + 1) * e.config.weight / total_weight +
                           (later_turn ? kLaterTurnSlack : kFirstTurnSlack);
      if (static_cast<double>(e.state.in_flight) + 1 <= bound) return i;
    }
    return ranked.front().second;
  }

  // Power of two choices: two draws by weight, the one with fewer requests in flight per unit of weight.
  double total_weight = 0;
  for (size_t i : candidates) total_weight += replicas_[i].config.weight;
  auto draw = [&] {
    double x = unit(mix(++draws_ + 0x632BE59BD9B4E019ULL)) * total_weight;
    for (size_t i : candidates) {
      x -= replicas_[i].config.weight;
      if (x <= 0) return i;
    }
    return candidates.back();
  };
  const size_t a = draw();
  size_t b = draw();
  for (int tries = 0; b == a && tries < 4; ++tries) b = draw();
  const auto load = [&](size_t i) { return static_cast<double>(replicas_[i].state.in_flight) / replicas_[i].config.weight; };
  return load(b) < load(a) ? b : a;
}

void ReplicaPool::started(size_t i) {
  std::lock_guard lock(mu_);
  ++replicas_[i].state.in_flight;
  ++replicas_[i].state.n_requests;
  publish(i);
}

void ReplicaPool::unstarted(size_t i) {
  std::lock_guard lock(mu_);
  --replicas_[i].state.in_flight;
  --replicas_[i].state.n_requests;
  publish(i);
}

void ReplicaPool::finished(size_t i, bool replica_failed, const std::string &why, double seconds) {
  std::lock_guard lock(mu_);
  Entry &e = replicas_[i];
  --e.state.in_flight;
  replica_failed = replica_failed && !e.config.local; // this process's own engine is not ejected from its pool
  const observe::Labels labels = {{"model", model_}, {"replica", e.config.name}};
  if (metrics_) {
    metrics_->inc("aio_replica_requests_total",
                  {{"model", model_}, {"replica", e.config.name}, {"outcome", replica_failed ? "failed" : "ok"}});
    metrics_->observe("aio_replica_request_seconds", labels, seconds);
  }
  if (replica_failed) {
    ++e.state.n_failures;
    ++e.consecutive_failures;
    // A failed request never ejects the last replica still taking requests (Envoy's max-ejection rule, in effect):
    // with nowhere else to go, each request tries it and gets its own real error. Only a failed health check takes
    // the last one out (then requests get 503 at once).
    const auto now = Clock::now();
    bool another = false;
    for (size_t k = 0; k < replicas_.size(); ++k) another = another || (k != i && usable(replicas_[k], now));
    if (another && (!e.ejected || now >= e.ejected_until)) eject(i, why, /*by_check=*/false);
  } else {
    e.consecutive_failures = 0;
    if (e.ejected && !e.ejected_by_check) admit(i, "a request succeeded on probation");
  }
  publish(i);
}

void ReplicaPool::eject(size_t i, const std::string &why, bool by_check) {
  Entry &e = replicas_[i];
  const bool was_ejected = e.ejected;
  e.ejected = true;
  e.ejected_by_check = e.ejected_by_check || by_check;
  const double backoff =
      std::min(kBackoffMaxSeconds, kBackoffBaseSeconds * std::pow(2.0, std::max(0, e.consecutive_failures - 1)));
  e.ejected_until = Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(backoff * 1000));
  e.state.healthy = false;
  e.state.last_error = why;
  if (was_ejected) return;
  ++e.state.n_ejections;
  if (metrics_) metrics_->inc("aio_replica_ejections_total", {{"model", model_}, {"replica", e.config.name}});
  char secs[32];
  std::snprintf(secs, sizeof(secs), "%.0f", backoff);
  log_line("replica " + e.config.name + " of model " + model_ + " ejected (" + why + ")" +
           (by_check ? "; back when a health check passes" : "; on probation again in " + std::string(secs) + " s"));
}

void ReplicaPool::admit(size_t i, const char *how) {
  Entry &e = replicas_[i];
  if (!e.ejected) return;
  e.ejected = false;
  e.ejected_by_check = false;
  e.state.healthy = true;
  log_line("replica " + e.config.name + " of model " + model_ + " re-admitted (" + how + ")");
}

void ReplicaPool::publish(size_t i) {
  if (!metrics_) return;
  const Entry &e = replicas_[i];
  const observe::Labels labels = {{"model", model_}, {"replica", e.config.name}};
  metrics_->set("aio_replica_in_flight", labels, static_cast<double>(e.state.in_flight));
  metrics_->set("aio_replica_healthy", labels, e.ejected ? 0 : 1);
}

int ReplicaPool::retry_after_seconds() const {
  std::lock_guard lock(mu_);
  const auto now = Clock::now();
  // An ejected replica is checked again within a second (or the interval, when shorter): back then, at the latest.
  double soonest = std::min(health_.interval_seconds, 1.0);
  for (const Entry &e : replicas_)
    if (e.ejected && !e.ejected_by_check)
      soonest = std::min(soonest, std::chrono::duration<double>(e.ejected_until - now).count());
  return std::max(1, static_cast<int>(std::ceil(soonest)));
}

std::vector<ReplicaState> ReplicaPool::states() const {
  std::lock_guard lock(mu_);
  std::vector<ReplicaState> out;
  const auto now = Clock::now();
  for (const Entry &e : replicas_) {
    out.push_back(e.state);
    out.back().healthy = usable(e, now);
  }
  return out;
}

std::string ReplicaPool::check(const Entry &e) const {
  httplib::Client client(e.scheme_host_port);
  const auto timeout = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::duration<double>(health_.timeout_seconds));
  client.set_connection_timeout(timeout);
  client.set_read_timeout(timeout);
  const std::string path = health_.path.empty() ? e.base_path + "/models" : health_.path;
  httplib::Headers headers;
  if (!api_key_.empty()) headers.emplace("Authorization", "Bearer " + api_key_);
  auto res = client.Get(path, headers);
  if (!res) return "GET " + path + ": " + httplib::to_string(res.error());
  if (res->status < 200 || res->status >= 300) return "GET " + path + " answered HTTP " + std::to_string(res->status);
  return "";
}

void ReplicaPool::health_loop() {
  // A healthy replica is checked every interval; an ejected one every second at most (Envoy's unhealthy_interval, in
  // spirit): a replica that was still loading when the pool started, or that restarts, is back within a second of
  // answering, not a whole interval later.
  const auto interval = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(health_.interval_seconds));
  const auto ejected_interval = std::min<Clock::duration>(interval, std::chrono::seconds(1));
  std::vector<Clock::time_point> next_check(replicas_.size(), Clock::now());
  for (size_t i = 0; i < replicas_.size(); ++i)
    if (replicas_[i].config.local) next_check[i] = Clock::time_point::max();
  for (;;) {
    for (size_t i = 0; i < replicas_.size(); ++i) {
      {
        std::lock_guard lock(mu_);
        if (stopping_) return;
      }
      if (Clock::now() < next_check[i]) continue; // the local member's never comes: this process answers for it
      const std::string problem = check(replicas_[i]); // the entry's URL parts never change: read without the lock
      std::lock_guard lock(mu_);
      Entry &e = replicas_[i];
      if (problem.empty()) {
        if (e.ejected) admit(i, "its health check passed");
      } else if (!e.ejected || !e.ejected_by_check) {
        eject(i, "health check failed: " + problem, /*by_check=*/true);
      }
      next_check[i] = Clock::now() + (e.ejected ? ejected_interval : interval);
      publish(i);
    }
    const auto wake = *std::min_element(next_check.begin(), next_check.end());
    std::unique_lock lock(mu_);
    if (stop_cv_.wait_until(lock, wake, [&] { return stopping_; })) return;
  }
}

} // namespace aio::backend
