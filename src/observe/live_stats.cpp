#include "observe/live_stats.h"

#include <algorithm>
#include <cmath>

#include "aio/route_json.h"
#include "openai/openai_json.h"

namespace aio::observe {
namespace {
using nlohmann::json;

double seconds_since_epoch(std::chrono::system_clock::time_point t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

// A request that no probe read (it named its model, or a policy that does not read the probe) is counted under this
// category.
const std::string &category_of(const RouteRecord &r) {
  static const std::string unprobed = "unprobed";
  return r.probe.category().empty() ? unprobed : r.probe.category();
}

double round3(double x) { return std::round(x * 1000) / 1000; }
} // namespace

LiveStats::LiveStats(std::vector<std::string> categories, LiveStatsParams params)
    : categories_(std::move(categories)), params_(params),
      max_entropy_bits_(std::log2(static_cast<double>(std::max<size_t>(2, categories_.size())))),
      entropy_counts_(params_.n_entropy_bins, 0) {}

LiveStats::Bucket &LiveStats::bucket_at(int64_t t) {
  const auto width = static_cast<int64_t>(params_.bucket_seconds);
  const int64_t start = t - t % std::max<int64_t>(1, width);
  if (buckets_.empty() || buckets_.back().start < start) {
    buckets_.push_back(Bucket{});
    buckets_.back().start = start;
    while (buckets_.size() > params_.n_buckets) buckets_.pop_front();
  }
  return buckets_.back(); // a clock stepping back lands in the newest bucket
}

void LiveStats::record(const RouteRecord &r, const Expected<engine::GenerationRecord> &result) {
  const auto now = Clock::now();
  const std::string &category = category_of(r);
  const std::string model = r.route.model.empty() ? "none" : r.route.model;
  const std::string route = model + "/" + strategy_name(r.route.strategy);
  const int status = openai::http_status_of(result.status());

  json row = route_record_row(r, result ? &*result : nullptr);
  row["time"] = round3(seconds_since_epoch(now));
  row["status"] = status;
  if (!result) row["error"] = result.status().message();

  std::lock_guard lock(mu_);
  ++n_recorded_;
  ++by_status_[status];
  if (r.route.load) ++n_by_load_;
  recent_.push_back(std::move(row));
  while (recent_.size() > params_.n_recent) recent_.pop_front();
  if (r.probe.probe_kind != "none" && !r.probe.categories.empty()) {
    const double x = std::clamp(r.probe.entropy_bits / max_entropy_bits_, 0.0, 1.0);
    const auto bin = std::min(params_.n_entropy_bins - 1, static_cast<size_t>(x * static_cast<double>(params_.n_entropy_bins)));
    ++entropy_counts_[bin];
  }
  Bucket &b = bucket_at(static_cast<int64_t>(seconds_since_epoch(now)));
  if (!result) {
    ++b.errors;
    return;
  }
  ++route_totals_[category][route];
  ++b.routes[category][route];
  b.generated[model] += result->n_generated;
  b.decode_seconds[model] += result->decode_ms / 1000.0;
  if (result->n_generated > 0) {
    b.ttft_sum[model] += result->prefill_ms / 1000.0;
    ++b.ttft_n[model];
  }
  if (result->n_drafted > 0) {
    draft_[category].first += result->n_drafted;
    draft_[category].second += result->n_accepted;
  }
}

json LiveStats::to_json() const {
  const auto now = Clock::now();
  std::lock_guard lock(mu_);
  json series = json::array();
  for (const Bucket &b : buckets_) {
    json models = json::object();
    for (const auto &[model, n] : b.generated) {
      const double decode = b.decode_seconds.at(model);
      json m = {{"generated", n}, {"decode_seconds", round3(decode)}};
      m["tokens_per_second"] = decode > 0 ? round3(static_cast<double>(n) / decode) : 0.0;
      if (auto it = b.ttft_n.find(model); it != b.ttft_n.end() && it->second > 0)
        m["ttft_seconds"] = round3(b.ttft_sum.at(model) / it->second);
      models[model] = std::move(m);
    }
    series.push_back({{"start", b.start}, {"routes", b.routes}, {"models", std::move(models)}, {"errors", b.errors}});
  }
  json draft = json::object();
  for (const auto &[category, da] : draft_)
    draft[category] = {{"drafted", da.first},
                       {"accepted", da.second},
                       {"acceptance", da.first > 0 ? round3(static_cast<double>(da.second) / da.first) : 0.0}};
  json status = json::object();
  for (const auto &[code, n] : by_status_) status[std::to_string(code)] = n;
  json edges = json::array();
  for (size_t i = 0; i <= params_.n_entropy_bins; ++i)
    edges.push_back(round3(max_entropy_bits_ * static_cast<double>(i) / static_cast<double>(params_.n_entropy_bins)));
  return {{"version", kStatsVersion},
          {"now", round3(seconds_since_epoch(now))},
          {"uptime_seconds", round3(std::chrono::duration<double>(now - started_).count())},
          {"categories", categories_},
          {"requests", n_recorded_},
          {"routed_by_load", n_by_load_},
          {"by_status", std::move(status)},
          {"routes", route_totals_},
          {"entropy", {{"edges", std::move(edges)}, {"counts", entropy_counts_}}},
          {"draft", std::move(draft)},
          {"series", {{"bucket_seconds", params_.bucket_seconds}, {"buckets", std::move(series)}}},
          {"recent", json(std::vector<json>(recent_.begin(), recent_.end()))}};
}

} // namespace aio::observe
