// How good a probe is on labelled prompts: the confusion matrix (the paper's Table 2 layout), accuracy, per-category
// recall and the latency it adds. Pure data in, data out (`aio probe eval` prints it).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "aio/route.h"
#include "aio/status.h"

namespace aio::eval {

// One prompt the probe saw: its true category, the probe's result, and where the prompt came from.
struct ProbeSample {
  std::string truth;
  ProbeResult result;
  std::string source; // a corpus or file name (per-source recall)
  std::string lang;   // "en", "zh", ... (per-language recall)
};

// Recall per category within one group of samples (a source or a language).
struct GroupRecall {
  std::string name;
  std::vector<int> n;    // samples per true category, in the order of the categories
  std::vector<int> hits; // of those, predicted right
  int total = 0, correct = 0;
  double recall(size_t category) const { return n[category] ? static_cast<double>(hits[category]) / n[category] : 0; }
  double accuracy() const { return total ? static_cast<double>(correct) / total : 0; }
};

// Reliability: samples grouped by the probe's confidence (its top probability) in ten equal bins.
struct ConfidenceBin {
  double lo = 0, hi = 0;
  int n = 0;
  double mean_confidence = 0, accuracy = 0;
};

// What a cascade (probe.kind cascade) with this probe first would do at one entropy threshold: the samples it would
// send on to the lm probe (entropy above the threshold), and how often this probe was right on those it keeps and on
// those it sends on.
struct EscalationRow {
  double entropy_gt = 0;
  int kept = 0, kept_correct = 0, escalated = 0, escalated_correct = 0;
  double escalated_share() const { return kept + escalated ? static_cast<double>(escalated) / (kept + escalated) : 0; }
  double kept_accuracy() const { return kept ? static_cast<double>(kept_correct) / kept : 0; }
};
// The thresholds the escalation table shows, in bits.
inline const std::vector<double> kEscalationThresholds = {0, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0};

struct ProbeEvaluation {
  std::vector<std::string> categories;
  std::vector<std::vector<int>> confusion; // [true][predicted], in the order of `categories`
  int total = 0, correct = 0;
  int skipped = 0;                         // samples whose truth is not one of the categories
  std::vector<double> recall;              // per category (0 when it had no samples)
  double latency_p50_ms = 0, latency_p99_ms = 0; // tokenizing + waiting for a slot + the classification
  std::vector<size_t> misses;              // indices of the samples the probe got wrong
  std::vector<GroupRecall> by_source, by_lang; // sorted by name
  // Calibration: is a 0.9-confident answer right 90% of the time? Expected calibration error (the bins' |accuracy -
  // confidence| weighted by their share) and the mean log loss of the true category (natural log).
  std::vector<ConfidenceBin> reliability;
  double expected_calibration_error = 0, log_loss = 0;
  std::vector<EscalationRow> escalation;   // at each of kEscalationThresholds
  std::map<std::string, int> read_by;      // samples per probe kind that gave the verdict (a cascade: fasttext or lm)
  double accuracy() const { return total ? static_cast<double>(correct) / total : 0; }
};

// Fails when no sample has a known category (nothing to measure).
Expected<ProbeEvaluation> evaluate_probe(const std::vector<std::string> &categories,
                                         const std::vector<ProbeSample> &samples);

} // namespace aio::eval
