// Prometheus metrics: counters, gauges and histograms with labels, rendered in the text exposition format 0.0.4
// for GET /metrics. Thread-safe: request threads record, the scrape renders.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace aio::observe {

using Labels = std::vector<std::pair<std::string, std::string>>; // in the order they are rendered

class Metrics {
public:
  // Declares a metric once, before use: its help line and, for histograms, the bucket upper bounds.
  void counter(const std::string &name, const std::string &help);
  void gauge(const std::string &name, const std::string &help);
  void histogram(const std::string &name, const std::string &help, std::vector<double> buckets);

  void inc(const std::string &name, const Labels &labels = {}, double by = 1);
  void set(const std::string &name, const Labels &labels, double value);
  void observe(const std::string &name, const Labels &labels, double value);

  // The current value of a counter or gauge series (0 if never touched): for tests and logs.
  double value(const std::string &name, const Labels &labels = {}) const;
  std::string render() const;

private:
  enum class Kind { counter, gauge, histogram };
  struct Series {
    double value = 0;               // counter/gauge
    std::vector<uint64_t> buckets;  // histogram: counts per bucket (not cumulative)
    double sum = 0;
    uint64_t count = 0;
  };
  struct Family {
    Kind kind = Kind::counter;
    std::string help;
    std::vector<double> bounds;
    std::map<Labels, Series> series;
  };
  Family &family(const std::string &name, Kind kind); // caller holds mu_
  mutable std::mutex mu_;
  std::map<std::string, Family> families_;
};

// Default latency buckets (seconds) and entropy buckets (bits).
std::vector<double> latency_buckets_seconds();
std::vector<double> entropy_buckets_bits(size_t n_categories);

} // namespace aio::observe
