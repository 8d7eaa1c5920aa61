#include "serve/model_worker.h"

namespace aio::serve {
namespace {
int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
} // namespace

ModelWorker::ModelWorker(std::unique_ptr<BatchEngine> engine) : engine_(std::move(engine)) {
  thread_ = std::thread([this] { run(); });
}

ModelWorker::~ModelWorker() { stop(std::chrono::milliseconds(0)); }

void ModelWorker::run() {
  for (;;) {
    const bool worked = engine_->step();
    n_active_ = engine_->n_active();
    if (stopping_) {
      if (engine_->n_active() == 0 && engine_->n_queued() == 0) return;
      if (now_ns() >= deadline_ns_) {
        engine_->abort_all(aborted("the server is shutting down; the request was not finished"));
        n_active_ = 0;
        return;
      }
    }
    // An idle engine sleeps until work arrives (submit and close wake it): no periodic wake-ups stealing the CPU
    // from the other model's inference threads.
    if (!worked) engine_->wait_for_work(std::chrono::seconds(1));
  }
}

void ModelWorker::stop(std::chrono::milliseconds grace) {
  if (!thread_.joinable()) return;
  deadline_ns_ = now_ns() + std::chrono::duration_cast<std::chrono::nanoseconds>(grace).count();
  engine_->close();
  stopping_ = true;
  thread_.join();
}

} // namespace aio::serve
