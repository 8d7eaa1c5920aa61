#include "eval/probe_eval.h"

#include <algorithm>
#include <cmath>
#include <map>

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
  std::map<std::string, GroupRecall> sources, langs;
  auto count = [n](std::map<std::string, GroupRecall> &groups, const std::string &name, size_t t, bool hit) {
    GroupRecall &g = groups[name.empty() ? "?" : name];
    if (g.n.empty()) g.name = name.empty() ? "?" : name, g.n.assign(n, 0), g.hits.assign(n, 0);
    ++g.n[t], ++g.total;
    if (hit) ++g.hits[t], ++g.correct;
  };
  e.reliability.resize(10);
  for (size_t b = 0; b < e.reliability.size(); ++b) e.reliability[b].lo = b / 10.0, e.reliability[b].hi = (b + 1) / 10.0;
  for (double h : kEscalationThresholds) e.escalation.push_back({.entropy_gt = h});
  double log_loss = 0;
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
    count(sources, s.source, t, p == t);
    count(langs, s.lang, t, p == t);
    ++e.read_by[s.result.probe_kind];
    for (EscalationRow &row : e.escalation) {
      const bool escalate = s.result.entropy_bits > row.entropy_gt;
      ++(escalate ? row.escalated : row.kept);
      if (p == t) ++(escalate ? row.escalated_correct : row.kept_correct);
    }
    const auto &dist = s.result.distribution;
    if (dist.size() == n) {
      const double confidence = dist[p];
      ConfidenceBin &bin = e.reliability[std::min<size_t>(9, static_cast<size_t>(confidence * 10))];
      ++bin.n;
      bin.mean_confidence += confidence;
      bin.accuracy += p == t;
      log_loss -= std::log(std::max(dist[t], 1e-12));
    }
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
  int calibrated = 0;
  for (auto &bin : e.reliability) {
    if (bin.n == 0) continue;
    bin.mean_confidence /= bin.n;
    bin.accuracy /= bin.n;
    calibrated += bin.n;
  }
  for (const auto &bin : e.reliability)
    if (calibrated) e.expected_calibration_error += bin.n * std::abs(bin.accuracy - bin.mean_confidence) / calibrated;
  e.log_loss = calibrated ? log_loss / calibrated : 0;
  for (auto &[name, g] : sources) e.by_source.push_back(std::move(g));
  for (auto &[name, g] : langs) e.by_lang.push_back(std::move(g));
  e.latency_p50_ms = percentile(latency, 0.5);
  e.latency_p99_ms = percentile(latency, 0.99);
  return e;
}

} // namespace aio::eval
