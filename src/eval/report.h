// `aio report`: a results JSONL (from `aio bench`) turned into the paper's tables - per task x policy (Table 3), per
// scenario x policy (Table 4), the probe's confusion matrix (Table 2) and the overhead breakdown (Table 5) - plus a
// JSON summary and SVG plots (accuracy vs tokens/s with the Pareto frontier, route split, entropy histogram).
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "aio/status.h"
#include "eval/result_record.h"

namespace aio::eval {

// Totals over a set of records.
struct Aggregate {
  int n = 0, correct = 0, errors = 0;
  int64_t generated = 0;
  double prefill_ms = 0, decode_ms = 0;
  double template_ms = 0, probe_ms = 0, route_ms = 0, switch_ms = 0;
  int64_t drafted = 0, accepted = 0;
  std::vector<double> latency_ms, ttft_ms;   // per request: overheads + prefill (+ decode for latency)
  std::map<std::string, int> routes;          // "model/strategy" -> requests
  std::map<std::string, int> by_task;         // task -> requests (for the weighted mean)

  void add(const ResultRecord &record);
  double accuracy() const { return n ? static_cast<double>(correct) / n : 0; }
  // Generated tokens per second of generation time (prefill + decode): the aggregate is sum / sum, not a mean of rates.
  double tokens_per_second() const;
};

struct Report {
  std::vector<std::string> scenarios, policies, tasks; // in order of first appearance
  std::map<std::string, Aggregate> by_scenario_policy;  // key: scenario|policy
  std::map<std::string, Aggregate> by_task_policy;      // key: scenario|task|policy
  // Probe results, once per request id (they do not depend on the policy): true label -> predicted -> count.
  std::map<std::string, std::map<std::string, std::map<std::string, int>>> confusion; // by scenario
  std::map<std::string, std::vector<double>> entropies;                               // by scenario
  std::map<std::string, size_t> n_categories;  // by scenario: the most categories a probe had (entropy <= log2 of it)
  std::map<std::string, std::string> descriptions, long_contexts;                     // by scenario
  std::map<std::string, RunInfo> runs;                                                // by scenario: its first record's
  bool synthetic = false;
  size_t n_records = 0;

  static std::string key(const std::string &a, const std::string &b) { return a + "|" + b; }
  static std::string key(const std::string &a, const std::string &b, const std::string &c) { return a + "|" + b + "|" + c; }
  // The paper's weighted mean of per-task tokens/s, weighted by each task's share of the scenario's requests.
  double weighted_tokens_per_second(const std::string &scenario, const std::string &policy) const;
  // Policies on the accuracy / tokens-per-second Pareto frontier of a scenario.
  std::vector<std::string> pareto(const std::string &scenario) const;
};

Expected<Report> build_report(const std::vector<ResultRecord> &records);
std::string report_markdown(const Report &r);
nlohmann::json report_json(const Report &r);
// One plot of the report: per scenario, the Pareto frontier, the route split, the probe's entropy with tau, and the
// per-task accuracy and tokens/s by policy.
struct ReportPlot {
  std::string scenario;
  std::string file;    // e.g. pareto-A.svg
  std::string caption; // what it shows, in a sentence
  std::string svg;     // a standalone SVG document
};
std::vector<ReportPlot> report_plots(const Report &r);
// Writes the SVG plots into `dir`; returns the files written.
Expected<std::vector<std::string>> write_report_plots(const Report &r, const std::string &dir);
// The whole report as one HTML page that opens offline: the run's settings, every table of report_markdown, the plots
// inline. `generated_at`: when it was made (shown as written).
std::string report_html(const Report &r, const std::string &generated_at);

} // namespace aio::eval
