// One evaluation run (`aio bench`): every request of a workload under every policy through the Router - the path
// `aio serve` runs: probe -> policy -> the chosen model's batched engine with the chosen strategy - scored, and
// appended to the results log as it finishes. Policies are interleaved per request so that a drift in the machine's
// speed hits them alike. With concurrency N, N requests are in flight at once (what a server with N clients does).
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
  int32_t concurrency = 1;  // requests in flight at once (the router needs at least as many slots per model)
  bool shadow_probe = false; // run the probe on every request, whatever the policy reads (aio profile measures it)
  RunInfo run_info;         // stored in every record (config, models, whether they are synthetic, n, seed)
};

struct BenchProgress {
  size_t done = 0, total = 0, skipped = 0;  // skipped: already in the log (--resume)
  int64_t generated_tokens = 0;
  double generation_seconds = 0;            // prefill + decode time so far, summed over requests
  double wall_seconds = 0;                  // since the run began (concurrent requests overlap: tokens/s = generated / this)
};

// Runs what the log does not hold yet. Stops at the first error that is not the request's own (a failed write, a
// model that cannot run); a request that fails by itself is recorded with its error and the run goes on.
Status run_bench(core::Router &router, const BenchRun &run, const Scorer &scorer, ResultsLog &log,
                 const std::function<void(const BenchProgress &)> &on_progress);

} // namespace aio::eval
