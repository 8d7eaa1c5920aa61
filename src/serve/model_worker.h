// ModelWorker: the thread that drives one model's BatchEngine - a step whenever there is work, a wait when there is
// none - and its orderly shutdown: stop taking requests, let running ones finish within a grace period, then end the
// rest with an error so no caller waits forever.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

#include "serve/batch_engine.h"

namespace aio::serve {

class ModelWorker {
public:
  explicit ModelWorker(std::unique_ptr<BatchEngine> engine);
  ~ModelWorker(); // stops with no grace

  bool submit(Job job) { return engine_->submit(std::move(job)); }
  // Stops accepting, waits up to `grace` for running and queued jobs, aborts what is left, joins the thread.
  void stop(std::chrono::milliseconds grace);

  size_t n_active() const { return n_active_.load(); }
  size_t n_queued() const { return engine_->n_queued(); }

private:
  void run();
  std::unique_ptr<BatchEngine> engine_;
  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> deadline_ns_{0}; // steady_clock time after which remaining jobs are aborted
  std::atomic<size_t> n_active_{0};
  std::thread thread_;
};

} // namespace aio::serve
