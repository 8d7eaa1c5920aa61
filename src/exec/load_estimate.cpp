#include "exec/load_estimate.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <queue>

namespace aio::exec {
namespace {
constexpr double kAlpha = 0.2; // moving averages: about the last ten observations
double average(double old, double x) { return old <= 0 ? x : old + kAlpha * (x - old); }
} // namespace

double wait_steps(std::vector<double> remaining, int32_t slots, int32_t queued, double service_steps) {
  // When each slot frees up: now for an idle one, after its remaining steps for a busy one.
  // More busy than slots (a probe lane's job generating): a new request waits until fewer than `slots` are busy, so
  // the soonest to free beyond that count give it nothing.
  if (slots > 0 && remaining.size() > static_cast<size_t>(slots)) {
    std::sort(remaining.begin(), remaining.end());
    remaining.erase(remaining.begin(), remaining.end() - slots);
  }
  std::priority_queue<double, std::vector<double>, std::greater<>> free_at(remaining.begin(), remaining.end());
  for (int32_t i = static_cast<int32_t>(remaining.size()); i < slots; ++i) free_at.push(0);
  if (free_at.empty()) return 0;
  // Each request ahead takes the first slot to free up and holds it for a typical job's steps.
  for (int32_t q = 0; q < queued; ++q) {
    const double t = free_at.top();
    free_at.pop();
    free_at.push(t + std::max(service_steps, 1.0));
  }
  return free_at.top();
}

void LoadEstimate::step_started(std::chrono::steady_clock::time_point t, bool was_busy) {
  if (was_busy && last_start_ != std::chrono::steady_clock::time_point{}) {
    const double ms = std::chrono::duration<double, std::milli>(t - last_start_).count();
    std::lock_guard lock(mu_);
    step_ms_ = average(step_ms_, ms);
  }
  last_start_ = t;
}

void LoadEstimate::publish(std::vector<double> remaining, double prefill_chunk) {
  std::lock_guard lock(mu_);
  remaining_ = std::move(remaining);
  prefill_chunk_ = prefill_chunk;
}

void LoadEstimate::job_finished(int32_t steps, int32_t generated, int32_t max_tokens) {
  std::lock_guard lock(mu_);
  service_steps_ = average(service_steps_, std::max(steps, 1));
  if (max_tokens > 0)
    used_share_ += kAlpha * (std::clamp(static_cast<double>(generated) / max_tokens, 0.0, 1.0) - used_share_);
}

double LoadEstimate::used_share() const {
  std::lock_guard lock(mu_);
  return used_share_;
}

ModelLoad LoadEstimate::load(int32_t queued, int32_t prompt_tokens) const {
  std::lock_guard lock(mu_);
  ModelLoad l;
  l.slots = slots_;
  l.busy = static_cast<int32_t>(remaining_.size());
  l.queued = queued;
  // Before any job finished, a queued one is taken to need what the running ones still need on average.
  double service = service_steps_;
  if (service <= 0 && !remaining_.empty()) {
    for (double r : remaining_) service += r;
    service /= static_cast<double>(remaining_.size());
  }
  const double own_prefill = prompt_tokens > 0 && prefill_chunk_ > 0 ? std::ceil(prompt_tokens / prefill_chunk_) : 0;
  l.wait_ms = (wait_steps(remaining_, slots_, queued, service) + own_prefill) * step_ms_;
  return l;
}

} // namespace aio::exec
