#include "exec/scheduler.h"

#include <algorithm>

namespace aio::exec {
namespace {
int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
} // namespace

Expected<Turns> parse_turns(const std::string &name) {
  if (name == "fair") return Turns::fair;
  if (name == "fuller") return Turns::fuller;
  if (name == "oldest") return Turns::oldest;
  return invalid_argument("unknown turn order '" + name + "': use fair, fuller or oldest");
}

Scheduler::Scheduler(std::vector<BatchEngine *> engines, Turns turns)
    : engines_(std::move(engines)), turns_(turns), used_s_(engines_.size(), 0.0), was_busy_(engines_.size(), false) {
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

std::optional<size_t> Scheduler::pick() {
  // An engine that was idle does not bank the time it did not use: it joins at the least time among the busy ones.
  double least_busy = -1;
  for (size_t i = 0; i < engines_.size(); ++i)
    if (was_busy_[i] && (least_busy < 0 || used_s_[i] < least_busy)) least_busy = used_s_[i];
  std::vector<size_t> busy;
  for (size_t i = 0; i < engines_.size(); ++i) {
    const bool is_busy = engines_[i]->busy();
    if (is_busy && !was_busy_[i] && least_busy >= 0) used_s_[i] = std::max(used_s_[i], least_busy);
    was_busy_[i] = is_busy;
    if (is_busy) busy.push_back(i);
  }
  if (busy.empty()) return std::nullopt;
  const auto requests = [&](size_t i) { return engines_[i]->n_active() + engines_[i]->n_queued(); };
  std::vector<std::chrono::steady_clock::time_point> since; // Turns::oldest only
  if (turns_ == Turns::oldest) {
    since.assign(engines_.size(), std::chrono::steady_clock::time_point::max());
    for (size_t i : busy) since[i] = engines_[i]->waiting_since().value_or(since[i]);
  }
  // Whether engine a goes before engine b: by the turn order, then (and for fair share only) by stepping time.
  const auto before = [&](size_t a, size_t b) {
    if (turns_ == Turns::fuller && requests(a) != requests(b)) return requests(a) > requests(b);
    if (turns_ == Turns::oldest && since[a] != since[b]) return since[a] < since[b];
    return used_s_[a] < used_s_[b];
  };
  return *std::min_element(busy.begin(), busy.end(), before);
}

void Scheduler::run() {
  for (;;) {
    uint64_t seen;
    {
      std::lock_guard lock(mu_);
      seen = n_wakes_;
    }
    bool worked = false;
    if (const auto i = pick()) {
      const auto t0 = std::chrono::steady_clock::now();
      worked = engines_[*i]->step();
      used_s_[*i] += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
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
