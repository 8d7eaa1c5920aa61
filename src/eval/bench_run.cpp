#include "eval/bench_run.h"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>


namespace aio::eval {
namespace {
using Clock = std::chrono::steady_clock;

// One request of the run: what it is, and (once done) what came back.
struct Slot {
  const WorkItem *item = nullptr;
  std::string policy;
  ResultRecord record;
  RouteRecord route;
  std::optional<Expected<engine::GenerationRecord>> result;
  double t_start = 0, t_end = 0; // seconds since the run began (wall clock: concurrent requests overlap)
};
} // namespace

Status run_bench(core::Router &router, const BenchRun &run, const Scorer &scorer, ResultsLog &log,
                 const std::function<void(const BenchProgress &)> &on_progress) {
  if (run.concurrency < 1) return invalid_argument("concurrency must be at least 1");
  BenchProgress progress;
  progress.total = run.workload->size() * run.policies.size();
  // What to send, in order: every item under every policy, policies interleaved per item.
  std::deque<std::shared_ptr<Slot>> todo;
  uint64_t request_id = 0;
  for (const WorkItem &w : *run.workload) {
    for (const std::string &policy : run.policies) {
      ++request_id;
      if (log.done(ResultsLog::key(run.scenario->name, policy, w.id))) {
        ++progress.done;
        ++progress.skipped;
        continue;
      }
      auto slot = std::make_shared<Slot>();
      slot->item = &w;
      slot->policy = policy;
      ResultRecord &r = slot->record;
      r.scenario = run.scenario->name;
      r.policy = policy;
      r.id = w.id;
      r.task = task_name(w.item.task);
      r.true_label = w.item.category();
      r.context_tokens = w.context_tokens;
      r.padding_tokens = w.item.n_padding_tokens;
      r.run = run.run_info;
      r.run.concurrency = run.concurrency;
      r.request_id = run.seed * 1000003 + request_id; // reproducible per-request draws
      todo.push_back(std::move(slot));
    }
  }
  if (on_progress && progress.skipped > 0) on_progress(progress);

  // Up to `concurrency` requests in flight through the router (the server's path); results are scored and appended
  // on this thread as they complete, in completion order.
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::shared_ptr<Slot>> finished;
  size_t in_flight = 0;
  const auto t0 = Clock::now();
  auto seconds = [&t0] { return std::chrono::duration<double>(Clock::now() - t0).count(); };
  auto send = [&](const std::shared_ptr<Slot> &slot) {
    Request req;
    if (slot->item->chat) req.messages = {Message::user(slot->item->item.prompt)};
    else req.prompt = slot->item->item.prompt;
    req.policy = slot->policy;
    req.true_label = slot->item->item.category();
    req.shadow_probe = run.shadow_probe;
    req.id = slot->record.request_id;
    slot->t_start = seconds();
    core::Callbacks cb;
    cb.on_route = [slot](const RouteRecord &r) { slot->route = r; };
    cb.on_done = [&, slot](Expected<engine::GenerationRecord> r) {
      {
        std::lock_guard lock(mu);
        slot->t_end = seconds();
        slot->result = std::move(r);
        finished.push_back(slot);
      }
      cv.notify_one();
    };
    router.submit(std::move(req), slot->item->params, std::move(cb));
  };

  Status failure;
  while (!todo.empty() || in_flight > 0) {
    while (failure.ok() && in_flight < static_cast<size_t>(run.concurrency) && !todo.empty()) {
      ++in_flight;
      send(todo.front());
      todo.pop_front();
    }
    std::shared_ptr<Slot> slot;
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return !finished.empty(); });
      slot = std::move(finished.front());
      finished.pop_front();
    }
    --in_flight;
    if (!failure.ok()) continue; // draining what is in flight after a fatal error
    ResultRecord &rec = slot->record;
    rec.wall_start_s = slot->t_start;
    rec.wall_end_s = slot->t_end;
    Expected<engine::GenerationRecord> &g = *slot->result;
    if (g) {
      slot->route.generation = *g;
      rec.route = slot->route;
      rec.output = g->text;
      rec.score = scorer.score(slot->item->item, g->text);
      if (rec.score.extracted == "setup-error") { // the sandbox failed, not the model: no wrong answer is recorded
        failure = resource_exhausted("the sandbox could not start the program that judges " + rec.id + " (" +
                                     rec.score.detail + "), three times; nothing was recorded for it. Free the "
                                     "machine's processes or memory and run the same command again: it resumes");
        todo.clear();
        continue;
      }
      progress.generated_tokens += g->n_generated;
      progress.generation_seconds += (g->prefill_ms + g->decode_ms) / 1000.0;
    } else {
      // A request the models cannot serve (e.g. longer than the context) is a result too: recorded, not fatal.
      if (g.status().code() != StatusCode::context_overflow && g.status().code() != StatusCode::invalid_argument) {
        failure = g.status();
        todo.clear();
        continue;
      }
      rec.error = g.status().message();
      rec.score = {false, "", g.status().message()};
    }
    if (Status st = log.append(rec); !st.ok()) {
      failure = st;
      todo.clear();
      continue;
    }
    ++progress.done;
    progress.wall_seconds = seconds();
    if (on_progress) on_progress(progress);
  }
  return failure;
}

} // namespace aio::eval
