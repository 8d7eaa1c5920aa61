#include "eval/probe_eval.h"

#include <algorithm>

namespace aio::eval {
namespace {
// Nearest-rank percentile of a non-empty sample.
double percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5))];
}
} // namespace

Expected<ProbeEvaluation> evaluate_probe(const std::vector<std::string> &categories,
                                         const std::vector<ProbeSample> &samples) {
  ProbeEvaluation e;
  e.categories = categories;
  const size_t n = categories.size();
  e.confusion.assign(n, std::vector<int>(n, 0));
  std::vector<double> latency;
  for (size_t i = 0; i < samples.size(); ++i) {
    const ProbeSample &s = samples[i];
    const auto truth = std::find(categories.begin(), categories.end(), s.truth);
    if (truth == categories.end()) {
      ++e.skipped;
      continue;
    }
    const auto t = static_cast<size_t>(truth - categories.begin());
    const auto p = static_cast<size_t>(s.result.argmax);
    if (p >= n) return invalid_argument("the probe predicted category " + std::to_string(p) + " of " +
                                        std::to_string(n) + ": its categories differ from the config's");
    ++e.confusion[t][p];
    ++e.total;
    if (p == t) ++e.correct;
    else e.misses.push_back(i);
    latency.push_back(s.result.template_ms + s.result.wait_ms + s.result.probe_ms);
  }
  if (e.total == 0)
    return invalid_argument("no prompt has one of the categories (" + std::to_string(samples.size()) +
                            " read): there is nothing to measure; check the data's labels or format");
  for (size_t i = 0; i < n; ++i) {
    int row = 0;
    for (int c : e.confusion[i]) row += c;
    e.recall.push_back(row ? static_cast<double>(e.confusion[i][i]) / row : 0.0);
  }
  e.latency_p50_ms = percentile(latency, 0.5);
  e.latency_p99_ms = percentile(latency, 0.99);
  return e;
}

} // namespace aio::eval
