#include "observe/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace aio::observe {
namespace {

std::string escape_label(const std::string &v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::string labels_text(const Labels &labels, const std::string &extra = "") {
  std::string s;
  for (const auto &[k, v] : labels) s += (s.empty() ? "" : ",") + k + "=\"" + escape_label(v) + "\"";
  if (!extra.empty()) s += (s.empty() ? "" : ",") + extra;
  return s.empty() ? "" : "{" + s + "}";
}

std::string number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.10g", v);
  return buf;
}

} // namespace

std::vector<double> latency_buckets_seconds() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}
std::vector<double> entropy_buckets_bits(size_t n_categories) {
  // Fine at the confident end (where tau lives), then every 0.2 bits up to the maximum, log2 of the category count.
  std::vector<double> b = {0.05, 0.1, 0.2, 0.3, 0.45, 0.6, 0.8, 1.0};
  const double max_bits = std::log2(static_cast<double>(std::max<size_t>(2, n_categories)));
  while (b.back() < max_bits - 1e-9) b.push_back(std::round((b.back() + 0.2) * 10) / 10);
  return b;
}

Metrics::Family &Metrics::family(const std::string &name, Kind kind) {
  auto it = families_.find(name);
  if (it == families_.end() || it->second.kind != kind)
    throw std::logic_error("metric " + name + " was not declared with this type"); // a programming error
  return it->second;
}

void Metrics::counter(const std::string &name, const std::string &help) {
  std::lock_guard lock(mu_);
  families_[name] = {Kind::counter, help, {}, {}};
}

void Metrics::gauge(const std::string &name, const std::string &help) {
  std::lock_guard lock(mu_);
  families_[name] = {Kind::gauge, help, {}, {}};
}

void Metrics::histogram(const std::string &name, const std::string &help, std::vector<double> buckets) {
  std::sort(buckets.begin(), buckets.end());
  std::lock_guard lock(mu_);
  families_[name] = {Kind::histogram, help, std::move(buckets), {}};
}

void Metrics::inc(const std::string &name, const Labels &labels, double by) {
  std::lock_guard lock(mu_);
  family(name, Kind::counter).series[labels].value += by;
}

void Metrics::set(const std::string &name, const Labels &labels, double value) {
  std::lock_guard lock(mu_);
  family(name, Kind::gauge).series[labels].value = value;
}

void Metrics::observe(const std::string &name, const Labels &labels, double value) {
  std::lock_guard lock(mu_);
  Family &f = family(name, Kind::histogram);
  Series &s = f.series[labels];
  if (s.buckets.empty()) s.buckets.assign(f.bounds.size() + 1, 0);
  const size_t i = static_cast<size_t>(std::lower_bound(f.bounds.begin(), f.bounds.end(), value) - f.bounds.begin());
  ++s.buckets[i];
  s.sum += value;
  ++s.count;
}

double Metrics::value(const std::string &name, const Labels &labels) const {
  std::lock_guard lock(mu_);
  auto f = families_.find(name);
  if (f == families_.end()) return 0;
  auto s = f->second.series.find(labels);
  return s == f->second.series.end() ? 0 : s->second.value;
}

std::string Metrics::render() const {
  std::lock_guard lock(mu_);
  std::string out;
  for (const auto &[name, f] : families_) {
    const char *type = f.kind == Kind::counter ? "counter" : f.kind == Kind::gauge ? "gauge" : "histogram";
    out += "# HELP " + name + " " + f.help + "\n# TYPE " + name + " " + type + "\n";
    for (const auto &[labels, s] : f.series) {
      if (f.kind != Kind::histogram) {
        out += name + labels_text(labels) + " " + number(s.value) + "\n";
        continue;
      }
      uint64_t cumulative = 0;
      for (size_t i = 0; i <= f.bounds.size(); ++i) {
        cumulative += s.buckets[i];
        const std::string le = i < f.bounds.size() ? number(f.bounds[i]) : "+Inf";
        out += name + "_bucket" + labels_text(labels, "le=\"" + le + "\"") + " " + std::to_string(cumulative) + "\n";
      }
      out += name + "_sum" + labels_text(labels) + " " + number(s.sum) + "\n";
      out += name + "_count" + labels_text(labels) + " " + std::to_string(s.count) + "\n";
    }
  }
  return out;
}

} // namespace aio::observe
