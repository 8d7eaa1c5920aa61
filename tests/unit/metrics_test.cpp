#include <gtest/gtest.h>

#include <thread>

#include "observe/metrics.h"

namespace aio::observe {
namespace {

TEST(Metrics, CountersAndGaugesRenderWithLabels) {
  Metrics m;
  m.counter("aio_requests_total", "Requests by route and status.");
  m.gauge("aio_queue_depth", "Requests waiting.");
  m.inc("aio_requests_total", {{"model", "small"}, {"status", "200"}});
  m.inc("aio_requests_total", {{"model", "small"}, {"status", "200"}}, 2);
  m.set("aio_queue_depth", {}, 3);
  EXPECT_EQ(m.value("aio_requests_total", {{"model", "small"}, {"status", "200"}}), 3);
  const std::string text = m.render();
  EXPECT_NE(text.find("# HELP aio_requests_total Requests by route and status.\n# TYPE aio_requests_total counter\n"),
            std::string::npos);
  EXPECT_NE(text.find("aio_requests_total{model=\"small\",status=\"200\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("aio_queue_depth 3\n"), std::string::npos) << text;
}

TEST(Metrics, HistogramBucketsAreCumulative) {
  Metrics m;
  m.histogram("aio_probe_entropy", "Probe entropy.", {0.1, 0.5, 1.0});
  for (double v : {0.05, 0.3, 0.3, 0.9, 1.5}) m.observe("aio_probe_entropy", {{"kind", "lm"}}, v);
  const std::string text = m.render();
  EXPECT_NE(text.find("aio_probe_entropy_bucket{kind=\"lm\",le=\"0.1\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("aio_probe_entropy_bucket{kind=\"lm\",le=\"0.5\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("aio_probe_entropy_bucket{kind=\"lm\",le=\"1\"} 4\n"), std::string::npos);
  EXPECT_NE(text.find("aio_probe_entropy_bucket{kind=\"lm\",le=\"+Inf\"} 5\n"), std::string::npos);
  EXPECT_NE(text.find("aio_probe_entropy_count{kind=\"lm\"} 5\n"), std::string::npos);
  EXPECT_NE(text.find("aio_probe_entropy_sum{kind=\"lm\"} 3.05\n"), std::string::npos);
}

TEST(Metrics, LabelValuesAreEscaped) {
  Metrics m;
  m.counter("c", "help");
  m.inc("c", {{"reason", "a \"quoted\"\nline\\"}});
  EXPECT_NE(m.render().find("c{reason=\"a \\\"quoted\\\"\\nline\\\\\"} 1"), std::string::npos) << m.render();
}

TEST(Metrics, UndeclaredOrMistypedMetricsAreBugs) {
  Metrics m;
  m.gauge("g", "help");
  EXPECT_THROW(m.inc("nope"), std::logic_error);
  EXPECT_THROW(m.inc("g"), std::logic_error);
}

TEST(Metrics, ConcurrentUpdatesAreNotLost) {
  Metrics m;
  m.counter("c", "help");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) m.inc("c");
    });
  for (auto &t : threads) t.join();
  EXPECT_EQ(m.value("c"), 4000);
}

} // namespace
} // namespace aio::observe
