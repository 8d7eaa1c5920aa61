// The dashboard's feed: what it counts per request, its bounds (recent rows, buckets), where entropy lands.
#include <gtest/gtest.h>

#include "observe/live_stats.h"

namespace aio::observe {
namespace {

RouteRecord routed(const std::string &category, double entropy, const std::string &model, Strategy strategy) {
  RouteRecord r;
  r.probe.probe_kind = "lm";
  r.probe.categories = {"code", "qa", "math"};
  r.probe.argmax = category == "code" ? 0 : category == "qa" ? 1 : 2;
  r.probe.entropy_bits = entropy;
  r.route.model = model;
  r.route.strategy = strategy;
  r.route.reason = "because";
  return r;
}

engine::GenerationRecord generated(int n, double decode_ms, int drafted = 0, int accepted = 0) {
  engine::GenerationRecord g;
  g.n_generated = n;
  g.decode_ms = decode_ms;
  g.prefill_ms = 20;
  g.n_drafted = drafted;
  g.n_accepted = accepted;
  return g;
}

TEST(LiveStats, CountsRoutesEntropyDraftsAndStatuses) {
  LiveStats stats({"code", "qa", "math"});
  stats.record(routed("code", 0.1, "small", Strategy::pld), generated(10, 100, 8, 6));
  stats.record(routed("code", 0.2, "small", Strategy::pld), generated(10, 100, 4, 2));
  stats.record(routed("qa", 1.5, "large", Strategy::plain), generated(20, 400));
  RouteRecord pinned;
  pinned.probe.probe_kind = "none";
  pinned.route.model = "large";
  stats.record(pinned, generated(5, 50));
  stats.record(routed("math", 1.0, "large", Strategy::plain), Status(StatusCode::resource_exhausted, "queue full"));

  const auto doc = stats.to_json();
  EXPECT_EQ(doc["version"], kStatsVersion);
  EXPECT_EQ(doc["requests"], 5);
  EXPECT_EQ(doc["by_status"]["200"], 4);
  EXPECT_EQ(doc["by_status"]["429"], 1);
  EXPECT_EQ(doc["routes"]["code"]["small/pld"], 2);
  EXPECT_EQ(doc["routes"]["qa"]["large/plain"], 1);
  EXPECT_EQ(doc["routes"]["unprobed"]["large/plain"], 1) << "no probe read it";
  EXPECT_FALSE(doc["routes"].contains("math")) << "a failed request is not a route taken";
  EXPECT_EQ(doc["draft"]["code"]["drafted"], 12);
  EXPECT_EQ(doc["draft"]["code"]["accepted"], 8);
  EXPECT_NEAR(doc["draft"]["code"]["acceptance"].get<double>(), 0.667, 1e-3);
  // Entropy: 20 bins over [0, log2 3]; the unprobed request is not in the histogram, the failed one is (it was read).
  const auto &counts = doc["entropy"]["counts"];
  ASSERT_EQ(counts.size(), 20u);
  EXPECT_EQ(counts[1], 1);  // 0.1 bits
  EXPECT_EQ(counts[2], 1);  // 0.2 bits
  EXPECT_EQ(counts[18], 1); // 1.5 bits
  EXPECT_EQ(counts[12], 1); // 1.0 bits
  int total = 0;
  for (const auto &c : counts) total += c.get<int>();
  EXPECT_EQ(total, 4);
  // One time bucket holds it all, tokens/s per model from generated / decode time.
  const auto &buckets = doc["series"]["buckets"];
  ASSERT_EQ(buckets.size(), 1u);
  EXPECT_EQ(buckets[0]["models"]["small"]["generated"], 20);
  EXPECT_NEAR(buckets[0]["models"]["small"]["tokens_per_second"].get<double>(), 100, 1e-6);
  EXPECT_NEAR(buckets[0]["models"]["large"]["ttft_seconds"].get<double>(), 0.02, 1e-6);
  EXPECT_EQ(buckets[0]["errors"], 1);
  // The table: newest last, the error's message kept.
  ASSERT_EQ(doc["recent"].size(), 5u);
  EXPECT_EQ(doc["recent"][4]["status"], 429);
  EXPECT_EQ(doc["recent"][4]["error"], "queue full");
  EXPECT_EQ(doc["recent"][0]["acceptance"], 0.75);
}

TEST(LiveStats, KeepsOnlyTheLastRequests) {
  LiveStatsParams params;
  params.n_recent = 3;
  LiveStats stats({"code", "qa"}, params);
  for (int i = 0; i < 10; ++i) stats.record(routed("code", 0.5, "small", Strategy::plain), generated(i + 1, 10));
  const auto doc = stats.to_json();
  ASSERT_EQ(doc["recent"].size(), 3u);
  EXPECT_EQ(doc["recent"][2]["generated"], 10);
  EXPECT_EQ(doc["requests"], 10);
}

} // namespace
} // namespace aio::observe
