// How good a probe is on labelled prompts: the confusion matrix (the paper's Table 2 layout), accuracy, per-category
// recall and the latency it adds. Pure data in, data out (`aio probe eval` prints it).
#pragma once

#include <string>
#include <vector>

#include "aio/route.h"
#include "aio/status.h"

namespace aio::eval {

// One prompt the probe saw: its true category and the probe's result.
struct ProbeSample {
  std::string truth;
  ProbeResult result;
};

struct ProbeEvaluation {
  std::vector<std::string> categories;
  std::vector<std::vector<int>> confusion; // [true][predicted], in the order of `categories`
  int total = 0, correct = 0;
  int skipped = 0;                         // samples whose truth is not one of the categories
  std::vector<double> recall;              // per category (0 when it had no samples)
  double latency_p50_ms = 0, latency_p99_ms = 0; // tokenizing + waiting for a slot + the classification
  std::vector<size_t> misses;              // indices of the samples the probe got wrong
  double accuracy() const { return total ? static_cast<double>(correct) / total : 0; }
};

// Fails when no sample has a known category (nothing to measure).
Expected<ProbeEvaluation> evaluate_probe(const std::vector<std::string> &categories,
                                         const std::vector<ProbeSample> &samples);

} // namespace aio::eval
