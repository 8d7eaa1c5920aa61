#include "eval/bench_run.h"

#include "core/route_json.h"

namespace aio::eval {

Status run_bench(core::Router &router, const BenchRun &run, const Scorer &scorer, ResultsLog &log,
                 const std::function<void(const BenchProgress &)> &on_progress) {
  BenchProgress progress;
  progress.total = run.workload->size() * run.policies.size();
  uint64_t request_id = 0;
  for (const WorkItem &w : *run.workload) {
    for (const std::string &policy : run.policies) {
      ++request_id;
      if (log.done(ResultsLog::key(run.scenario->name, policy, w.id))) {
        ++progress.done;
        ++progress.skipped;
        continue;
      }
      core::Request req;
      req.prompt = w.item.prompt;
      req.chat = w.chat;
      req.policy = policy;
      req.true_label = w.item.category();
      req.id = run.seed * 1000003 + request_id; // reproducible per-request draws (the random baseline)
      nlohmann::json rec = {{"scenario", run.scenario->name}, {"policy", policy},          {"id", w.id},
                            {"task", task_name(w.item.task)},  {"true_label", w.item.category()},
                            {"context_tokens", w.context_tokens}, {"padding_tokens", w.item.n_padding_tokens},
                            {"run", run.run_info}};
      auto g = router.generate(req, w.params);
      if (g) {
        const ItemScore s = scorer.score(w.item, g->generation.text);
        rec["route"] = core::route_record_json(g->record);
        rec["output"] = g->generation.text;
        rec["score"] = {{"correct", s.correct}, {"extracted", s.extracted}, {"detail", s.detail}};
        progress.generated_tokens += g->generation.n_generated;
        progress.generation_seconds += (g->generation.prefill_ms + g->generation.decode_ms) / 1000.0;
      } else {
        // A request the models cannot serve (e.g. longer than the context) is a result too: recorded, not fatal.
        if (g.status().code() != StatusCode::context_overflow && g.status().code() != StatusCode::invalid_argument)
          return g.status();
        rec["error"] = g.status().message();
        rec["score"] = {{"correct", false}, {"extracted", ""}, {"detail", g.status().message()}};
      }
      AIO_RETURN_IF_ERROR(log.append(rec));
      ++progress.done;
      if (on_progress) on_progress(progress);
    }
  }
  return {};
}

} // namespace aio::eval
