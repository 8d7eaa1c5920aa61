// One evaluation run (`aio bench`): every request of a workload under every policy, one at a time through the
// Router (probe -> policy -> generation with the chosen model and strategy), scored, and appended to the results log
// as it finishes. Policies are interleaved per request so that a drift in the machine's speed hits them alike.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/router.h"
#include "eval/results_log.h"
#include "eval/scenario.h"
#include "eval/scoring.h"

namespace aio::eval {

struct BenchRun {
  const Scenario *scenario = nullptr;
  const std::vector<WorkItem> *workload = nullptr;
  std::vector<std::string> policies;
  uint64_t seed = 0;
  nlohmann::json run_info;  // stored in every record (config, models, whether they are synthetic, n, seed)
};

struct BenchProgress {
  size_t done = 0, total = 0, skipped = 0;  // skipped: already in the log (--resume)
  int64_t generated_tokens = 0;
  double generation_seconds = 0;            // prefill + decode time so far (tokens/s = generated / this)
};

// Runs what the log does not hold yet. Stops at the first error that is not the request's own (a failed write, a
// model that cannot run); a request that fails by itself is recorded with its error and the run goes on.
Status run_bench(core::Router &router, const BenchRun &run, const Scorer &scorer, ResultsLog &log,
                 const std::function<void(const BenchProgress &)> &on_progress);

} // namespace aio::eval
