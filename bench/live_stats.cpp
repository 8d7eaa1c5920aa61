// What the dashboard's bookkeeping costs the server, measured in-process: LiveStats::record per finished request (paid
// whether anyone watches or not) and building the stats document (paid per poll, once the history is full). Printed
// as nanoseconds per request and milliseconds per document; bench/serve_dashboard.py sets them against the server's
// own request time. Anchor: the same process's clock for an empty loop of the same length.
#include <chrono>
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "observe/live_stats.h"

int main() {
  using Clock = std::chrono::steady_clock;
  aio::observe::LiveStats stats({"code", "qa", "math"});
  constexpr int kRequests = 200000;
  aio::RouteRecord r;
  r.probe.probe_kind = "lm";
  r.probe.categories = {"code", "qa", "math"};
  r.route.reason = "long-context or uncertain code -> large model, PLD off for code (no earlier rule matched)";
  aio::engine::GenerationRecord g;
  g.n_prompt_tokens = 120;
  g.n_generated = 64;
  g.prefill_ms = 30;
  g.decode_ms = 900;
  g.n_drafted = 20;
  g.n_accepted = 12;

  const auto t0 = Clock::now();
  for (int i = 0; i < kRequests; ++i) {
    r.probe.argmax = i % 3;
    r.probe.entropy_bits = (i % 100) / 64.0;
    r.route.model = i % 2 ? "small" : "large";
    r.route.strategy = i % 3 == 0 ? aio::Strategy::pld : aio::Strategy::plain;
    stats.record(r, g);
  }
  const double record_ns = std::chrono::duration<double, std::nano>(Clock::now() - t0).count() / kRequests;

  constexpr int kDocuments = 200;
  size_t bytes = 0;
  const auto t1 = Clock::now();
  for (int i = 0; i < kDocuments; ++i) bytes += stats.to_json().dump().size();
  const double document_ms = std::chrono::duration<double, std::milli>(Clock::now() - t1).count() / kDocuments;

  std::printf("{\"record_ns_per_request\": %.1f, \"document_ms\": %.3f, \"document_bytes\": %zu}\n", record_ns,
              document_ms, bytes / kDocuments);
  return 0;
}
