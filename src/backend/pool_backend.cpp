#include "backend/pool_backend.h"

#include <algorithm>
#include <cstdlib>

namespace aio::backend {
namespace {
using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string api_key_of(const config::ModelEntry &e) {
  const char *key = e.api_key_env.empty() ? nullptr : std::getenv(e.api_key_env.c_str());
  return key ? key : "";
}

Status no_room(const std::string &model, size_t n_queued) {
  return resource_exhausted("model " + model + " is at capacity (" + std::to_string(n_queued) +
                            " requests waiting); retry shortly");
}
} // namespace

PoolBackend::PoolBackend(config::ModelEntry entry, std::unique_ptr<LocalBackend> local, const PoolParams &params)
    : entry_(std::move(entry)), local_(std::move(local)), api_key_(api_key_of(entry_)),
      max_line_bytes_(params.max_line_bytes),
      pool_(entry_.name, entry_.replicas, entry_.health, params.metrics, api_key_), queue_(params.queue_capacity) {
  pool_.start_health_checks();
  for (int32_t i = 0; i < std::max(1, params.n_workers); ++i) workers_.emplace_back([this] { run(); });
}

PoolBackend::~PoolBackend() { stop(std::chrono::milliseconds(0)); }

void PoolBackend::stop(std::chrono::milliseconds grace) {
  pool_.stop();
  if (workers_.empty()) return;
  queue_.close();
  // Queued requests are still forwarded within the grace period; after it, running ones are cut off.
  std::thread timer([this, grace] {
    const auto deadline = Clock::now() + grace;
    while (Clock::now() < deadline && (n_sending_ > 0 || queue_.size() > 0))
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    cut_off_ = true;
  });
  for (auto &w : workers_) w.join();
  timer.join();
  workers_.clear();
}

std::pair<uint64_t, bool> PoolBackend::conversation_key(const Request &request) const {
  // A conversation's opening - its system prompts and first user turn, or a prompt's first 512 bytes - which every
  // later turn repeats: the key that keeps its turns on one replica.
  std::vector<std::pair<std::string, std::string>> opening;
  if (!request.chat()) {
    opening.emplace_back("prompt", request.prompt.substr(0, 512));
  } else {
    for (const auto &m : request.messages) {
      opening.emplace_back(m.role, m.content);
      if (m.role == "user") break;
    }
  }
  const bool later_turn = std::any_of(request.messages.begin(), request.messages.end(),
                                      [](const Message &m) { return m.role == "assistant"; });
  return {entry_.affinity ? affinity_key(opening) : 0, later_turn};
}

void PoolBackend::as_remote(RouteRecord &rec) {
  if (rec.route.strategy == Strategy::plain) return;
  rec.route.reason += " (" + std::string(strategy_name(rec.route.strategy)) +
                      " asked for, but the remote server decodes its own way)";
  rec.route.strategy = Strategy::plain;
}

Callbacks PoolBackend::counted_here(Callbacks cb, size_t member) {
  const auto since = Clock::now();
  cb.on_done = [this, member, since, done = std::move(cb.on_done)](Expected<engine::GenerationRecord> result) {
    pool_.finished(member, false, "", seconds_since(since));
    if (result) result->replica = pool_.replica(member).name;
    if (done) done(std::move(result));
  };
  return cb;
}

void PoolBackend::run_here(Job job, size_t member) {
  job.cb = counted_here(std::move(job.cb), member);
  local_->submit(std::move(job));
}

bool PoolBackend::takes_in_place(const Request &request, const LocalBackend &engine, Callbacks &cb) {
  if (!local_ || &engine != local_.get()) return false;
  const auto [affinity, later_turn] = conversation_key(request);
  const auto i = pool_.pick(affinity, std::nullopt, later_turn, /*include_local=*/true);
  if (!i || !pool_.replica(*i).local) return false; // submit() places it again (a remote replica, most likely)
  pool_.started(*i);
  cb = counted_here(std::move(cb), *i);
  return true;
}

void PoolBackend::submit(Job job) {
  Outbound f;
  std::tie(f.affinity, f.later_turn) = conversation_key(job.request);
  const auto t_switch = Clock::now();
  const auto i = pool_.pick(f.affinity, std::nullopt, f.later_turn, /*include_local=*/local_ != nullptr);
  if (i) {
    pool_.started(*i);
    if (pool_.replica(*i).local) return run_here(std::move(job), *i);
    f.replica = *i;
  } // none healthy: the worker says why (503 with Retry-After), or finds the local member
  as_remote(job.record);
  job.record.switch_ms = std::chrono::duration<double, std::milli>(Clock::now() - t_switch).count();
  if (job.cb.on_route) job.cb.on_route(job.record);
  f.job = std::move(job);
  const std::optional<size_t> placed = f.replica;
  auto on_done = f.job.cb.on_done;
  if (!queue_.try_push(std::move(f))) {
    if (placed) pool_.unstarted(*placed);
    if (on_done) on_done(no_room(entry_.name, queue_.size()));
  }
}

void PoolBackend::run() {
  for (;;) {
    std::optional<Outbound> f = queue_.pop_for(std::chrono::seconds(1)); // submit and close wake it
    if (!f) {
      if (queue_.closed() && queue_.size() == 0) return;
      continue;
    }
    if (cut_off_) {
      if (f->replica) pool_.unstarted(*f->replica);
      if (f->job.cb.on_done) f->job.cb.on_done(aborted("the server is shutting down; the request was not forwarded"));
      continue;
    }
    ++n_sending_;
    send_out(std::move(*f));
    --n_sending_;
  }
}

void PoolBackend::send_out(Outbound f) {
  auto done = [&f](Expected<engine::GenerationRecord> result) {
    if (f.job.cb.on_done) f.job.cb.on_done(std::move(result));
  };
  std::optional<size_t> failed_on;
  std::optional<Expected<engine::GenerationRecord>> first_failure;
  std::optional<size_t> placed = f.replica;
  if (placed && !pool_.takes_requests(*placed)) { // ejected while the request waited for a worker: choose again
    pool_.unstarted(*placed);
    placed.reset();
  }
  for (;;) {
    std::optional<size_t> i = std::exchange(placed, std::nullopt);
    if (!i) {
      i = pool_.pick(f.affinity, failed_on, f.later_turn, /*include_local=*/local_ != nullptr);
      if (i) pool_.started(*i);
    }
    if (i && pool_.replica(*i).local) {
      Job job = std::move(f.job);
      job.cb.on_route = nullptr; // announced already (as remote): the local run does not announce it again
      return run_here(std::move(job), *i);
    }
    if (!i) {
      if (first_failure) return done(std::move(*first_failure)); // the only other replica is down too: say what failed
      std::string down;
      for (const ReplicaState &r : pool_.states())
        down += (down.empty() ? "" : "; ") + r.name + ": " + (r.last_error.empty() ? "ejected" : r.last_error);
      const int retry_after = pool_.retry_after_seconds();
      return done(aborted("no healthy replica of model " + entry_.name + " (" + down + "); retry in " +
                          std::to_string(retry_after) + " s")
                      .set_retry_after(retry_after));
    }
    const auto t0 = Clock::now();
    Attempt a = try_replica(*i, f);
    pool_.finished(*i, a.replica_failed, a.result.ok() ? "" : a.result.status().message(), seconds_since(t0));
    if (a.result.ok()) a.result->replica = pool_.replica(*i).name;
    // Retried once, on another member, and only when nothing of the answer went out: a caller never gets two answers spliced.
    if (a.result.ok() || !a.replica_failed || a.relayed || failed_on) return done(std::move(a.result));
    failed_on = *i;
    first_failure = std::move(a.result);
  }
}

Attempt PoolBackend::try_replica(size_t replica, const Outbound &f) {
  const config::Replica &target = pool_.replica(replica);
  UpstreamTarget t{.origin = pool_.origin(replica),
                   .base_path = pool_.base_path(replica),
                   .api_key = api_key_,
                   .name = entry_.name,
                   .model = entry_.remote_model.empty() ? entry_.name : entry_.remote_model,
                   .where = "model " + entry_.name + " at " + target.url + " (replica " + target.name + ")",
                   .timeout_seconds = entry_.timeout_seconds,
                   .max_line_bytes = max_line_bytes_};
  UpstreamCall call(std::move(t), cut_off_);
  return call.run(f.job.request, f.job.params, f.job.cb);
}

} // namespace aio::backend
