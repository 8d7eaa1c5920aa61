// LiveStats: what the dashboard shows, kept as requests finish - the route split by category over time, the probe's
// entropy histogram, tokens/s and time to first token per model, draft acceptance per category, the last requests.
// Recording a request is a few additions under one mutex (a request costs the same whether anyone watches or not);
// the JSON is built only when someone asks (GET /v1/aio/stats, which the page polls).
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "aio/route.h"
#include "engine/generation.h"

namespace aio::observe {

// The stats document's version: a change that renames or removes a field bumps it (added fields do not).
inline constexpr int kStatsVersion = 1;

struct LiveStatsParams {
  double bucket_seconds = 5;      // width of one step of the time series
  size_t n_buckets = 120;         // steps kept (10 minutes at 5 s)
  size_t n_recent = 50;           // route records kept for the table
  size_t n_entropy_bins = 20;     // over [0, log2(number of categories)] bits
};

class LiveStats {
public:
  LiveStats(std::vector<std::string> categories, LiveStatsParams params = {});

  // One finished request (or one refused after routing): its route and outcome.
  void record(const RouteRecord &route, const Expected<engine::GenerationRecord> &result);

  // The document (docs/operations.md, "Watching it"): everything above, `now` in seconds since the epoch.
  nlohmann::json to_json() const;

private:
  using Clock = std::chrono::system_clock;
  struct Bucket {
    int64_t start = 0;                                  // seconds since the epoch, a multiple of bucket_seconds
    std::map<std::string, std::map<std::string, int>> routes; // category -> "model/strategy" -> requests
    std::map<std::string, int64_t> generated;           // model -> tokens generated
    std::map<std::string, double> decode_seconds;       // model -> decode time of those tokens
    std::map<std::string, double> ttft_sum;             // model -> sum of time to first token (s)
    std::map<std::string, int> ttft_n;                  // model -> requests with a first token
    int errors = 0;
  };
  Bucket &bucket_at(int64_t t); // caller holds mu_

  std::vector<std::string> categories_;
  LiveStatsParams params_;
  double max_entropy_bits_;
  Clock::time_point started_ = Clock::now();
  mutable std::mutex mu_;
  std::deque<Bucket> buckets_;  // oldest first
  std::deque<nlohmann::json> recent_; // newest last
  std::vector<int64_t> entropy_counts_;
  std::map<std::string, std::map<std::string, int64_t>> route_totals_; // category -> "model/strategy" -> requests
  std::map<std::string, std::pair<int64_t, int64_t>> draft_;           // category -> (drafted, accepted)
  std::map<int, int64_t> by_status_;                                   // HTTP status -> requests
  uint64_t n_recorded_ = 0;
  uint64_t n_by_load_ = 0; // requests a load condition routed
};

} // namespace aio::observe
