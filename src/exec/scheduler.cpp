#include "exec/scheduler.h"

#include <algorithm>

namespace aio::exec {
namespace {
int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
} // namespace

Scheduler::Scheduler(std::vector<BatchEngine *> engines) : engines_(std::move(engines)) {
  for (BatchEngine *e : engines_) e->set_on_submit([this] { wake(); });
  thread_ = std::thread([this] { run(); });
}

Scheduler::~Scheduler() { stop(std::chrono::milliseconds(0)); }

void Scheduler::wake() {
  {
    std::lock_guard lock(mu_);
    ++n_wakes_;
  }
  cv_.notify_one();
}

void Scheduler::run() {
  for (;;) {
    uint64_t seen;
    {
      std::lock_guard lock(mu_);
      seen = n_wakes_;
    }
    // One step of each engine that has work, in turn: a job one engine hands to another (the probe's verdict) is
    // picked up in the same round.
    bool worked = false;
    for (BatchEngine *e : engines_) worked = e->step() || worked;
    if (stopping_) {
      if (std::none_of(engines_.begin(), engines_.end(), [](BatchEngine *e) { return e->busy(); })) return;
      if (now_ns() >= deadline_ns_) {
        for (BatchEngine *e : engines_) e->abort_all(aborted("the server is shutting down; the request was not finished"));
        return;
      }
    }
    if (worked) continue;
    // Idle: sleep until a job arrives (no periodic wake-ups stealing the CPU from inference threads elsewhere).
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(1), [&] { return n_wakes_ != seen || stopping_.load(); });
  }
}

void Scheduler::stop(std::chrono::milliseconds grace) {
  if (!thread_.joinable()) return;
  deadline_ns_ = now_ns() + std::chrono::duration_cast<std::chrono::nanoseconds>(grace).count();
  for (BatchEngine *e : engines_) e->close();
  stopping_ = true;
  wake();
  thread_.join();
}

} // namespace aio::exec
