#include "eval/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "eval/svg.h"

namespace aio::eval {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const double pos = q * (v.size() - 1);
  const size_t i = static_cast<size_t>(pos);
  return i + 1 < v.size() ? v[i] + (v[i + 1] - v[i]) * (pos - i) : v[i];
}

double mean(const std::vector<double> &v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? 0 : s / v.size();
}

std::string fmt(const char *f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), f, v);
  return buf;
}

void note_order(std::vector<std::string> &order, const std::string &s) {
  if (std::find(order.begin(), order.end(), s) == order.end()) order.push_back(s);
}

} // namespace

void Aggregate::add(const ResultRecord &r) {
  ++n;
  correct += r.score.correct;
  by_task[r.task] += 1;
  if (!r.route) {
    ++errors;
    return;
  }
  const RouteRecord &route = *r.route;
  const GenerationStats &g = *route.generation; // a record with a route always carries its stats
  generated += g.n_generated;
  drafted += g.n_drafted;
  accepted += g.n_accepted;
  // The probe's time includes its wait for a slot (the lm probe runs in the small model's engine).
  const double t = route.probe.template_ms, p = route.probe.wait_ms + route.probe.probe_ms, ro = route.route_ms,
               sw = route.switch_ms, pf = g.prefill_ms, dc = g.decode_ms;
  template_ms += t, probe_ms += p, route_ms += ro, switch_ms += sw, prefill_ms += pf, decode_ms += dc;
  ttft_ms.push_back(t + p + ro + sw + pf);
  latency_ms.push_back(t + p + ro + sw + pf + dc);
  routes[route.route.model + "/" + strategy_name(route.route.strategy)] += 1;
}

double Aggregate::tokens_per_second() const {
  const double s = (prefill_ms + decode_ms) / 1000.0;
  return s > 0 ? generated / s : 0;
}

double Report::weighted_tokens_per_second(const std::string &scenario, const std::string &policy) const {
  const auto it = by_scenario_policy.find(key(scenario, policy));
  if (it == by_scenario_policy.end() || it->second.n == 0) return 0;
  double sum = 0;
  for (const auto &[task, count] : it->second.by_task) {
    const auto t = by_task_policy.find(key(scenario, task, policy));
    if (t != by_task_policy.end()) sum += t->second.tokens_per_second() * count / it->second.n;
  }
  return sum;
}

std::vector<std::string> Report::pareto(const std::string &scenario) const {
  std::vector<std::string> out;
  for (const auto &p : policies) {
    const auto a = by_scenario_policy.find(key(scenario, p));
    if (a == by_scenario_policy.end()) continue;
    bool dominated = false;
    for (const auto &q : policies) {
      const auto b = by_scenario_policy.find(key(scenario, q));
      if (q == p || b == by_scenario_policy.end()) continue;
      const double ax = a->second.tokens_per_second(), ay = a->second.accuracy();
      const double bx = b->second.tokens_per_second(), by = b->second.accuracy();
      if (bx >= ax && by >= ay && (bx > ax || by > ay)) dominated = true;
    }
    if (!dominated) out.push_back(p);
  }
  return out;
}

Expected<Report> build_report(const std::vector<ResultRecord> &records) {
  if (records.empty()) return invalid_argument("the results file holds no records");
  Report r;
  std::set<std::string> probed; // scenario|id already counted in the confusion matrix
  for (const auto &rec : records) {
    const std::string &sc = rec.scenario, &pol = rec.policy, &task = rec.task;
    note_order(r.scenarios, sc);
    note_order(r.policies, pol);
    note_order(r.tasks, task);
    r.by_scenario_policy[Report::key(sc, pol)].add(rec);
    r.by_task_policy[Report::key(sc, task, pol)].add(rec);
    ++r.n_records;
    r.synthetic = r.synthetic || rec.run.synthetic_models;
    r.descriptions[sc] = rec.run.scenario_description;
    r.runs.emplace(sc, rec.run);
    if (!rec.run.long_context.empty()) {
      std::string lc;
      for (const auto &[t, tokens] : rec.run.long_context)
        lc += (lc.empty() ? "" : ", ") + t + " padded to " + std::to_string(tokens) + " tokens";
      r.long_contexts[sc] = lc;
    }
    const ProbeResult *probe = rec.route ? &rec.route->probe : nullptr;
    if (probe && probe->probe_kind != "none" && probed.insert(sc + "|" + rec.id).second) {
      r.confusion[sc][rec.true_label.empty() ? "?" : rec.true_label][probe->category()] += 1;
      r.entropies[sc].push_back(probe->entropy_bits);
      r.n_categories[sc] = std::max(r.n_categories[sc], probe->categories.size());
    }
  }
  return r;
}

std::string report_markdown(const Report &r) {
  std::ostringstream o;
  o << "# A-IO evaluation report\n\n" << r.n_records << " records.\n\n";
  if (r.synthetic)
    o << "> **Synthetic models** (random weights made by `aio synth`): task accuracy here is meaningless; routing, "
         "probe behaviour and speed are real.\n\n";
  o << "Tokens/s is total generated tokens / total generation time (prefill + decode) of the requests it covers; "
       "\"weighted\" is the paper's weighted mean of per-task tokens/s. Latency and time to first token include "
       "the probe and routing.\n";
  for (const auto &sc : r.scenarios) {
    o << "\n## Scenario " << sc;
    if (r.descriptions.count(sc) && !r.descriptions.at(sc).empty()) o << ": " << r.descriptions.at(sc);
    o << "\n\n";
    if (r.long_contexts.count(sc)) o << "Long-context variant: " << r.long_contexts.at(sc) << " (unrelated filler).\n\n";

    o << "### Per task and policy (cf. the paper's Table 3)\n\n| task | policy | n | accuracy | tokens | "
         "generation s | tok/s |\n| --- | --- | --- | --- | --- | --- | --- |\n";
    for (const auto &task : r.tasks)
      for (const auto &pol : r.policies) {
        const auto a = r.by_task_policy.find(Report::key(sc, task, pol));
        if (a == r.by_task_policy.end()) continue;
        o << "| " << task << " | " << pol << " | " << a->second.n << " | " << fmt("%.1f%%", 100 * a->second.accuracy())
          << " | " << a->second.generated << " | "
          << fmt("%.2f", (a->second.prefill_ms + a->second.decode_ms) / 1000.0) << " | "
          << fmt("%.2f", a->second.tokens_per_second()) << " |\n";
      }

    const auto front = r.pareto(sc);
    o << "\n### Per policy (cf. Table 4)\n\n| policy | n | accuracy | tok/s | weighted tok/s | TTFT ms (mean) | "
         "latency p50 / p99 ms | route split | drafts accepted | errors |\n"
         "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n";
    for (const auto &pol : r.policies) {
      const auto it = r.by_scenario_policy.find(Report::key(sc, pol));
      if (it == r.by_scenario_policy.end()) continue;
      const Aggregate &a = it->second;
      std::string split;
      for (const auto &[route, count] : a.routes)
        split += (split.empty() ? "" : ", ") + route + " " + fmt("%.0f%%", 100.0 * count / a.n);
      const bool on_front = std::find(front.begin(), front.end(), pol) != front.end();
      o << "| " << pol << (on_front ? " *" : "") << " | " << a.n << " | " << fmt("%.1f%%", 100 * a.accuracy()) << " | "
        << fmt("%.2f", a.tokens_per_second()) << " | " << fmt("%.2f", r.weighted_tokens_per_second(sc, pol)) << " | "
        << fmt("%.1f", mean(a.ttft_ms)) << " | " << fmt("%.0f", percentile(a.latency_ms, 0.5)) << " / "
        << fmt("%.0f", percentile(a.latency_ms, 0.99)) << " | " << split << " | "
        << (a.drafted ? fmt("%.0f%%", 100.0 * a.accepted / a.drafted) : std::string("-")) << " | " << a.errors
        << " |\n";
    }
    o << "\n\\* on the accuracy / tokens-per-second Pareto frontier.\n";

    if (r.confusion.count(sc)) {
      const auto &cm = r.confusion.at(sc);
      std::set<std::string> predicted;
      int total = 0, right = 0;
      for (const auto &[truth, row] : cm)
        for (const auto &[pred, c] : row) {
          predicted.insert(pred);
          total += c;
          right += truth == pred ? c : 0;
        }
      o << "\n### Probe (cf. Table 2): accuracy " << fmt("%.1f%%", 100.0 * right / std::max(1, total)) << " over "
        << total << " requests; rows true label, columns predicted\n\n| true \\ predicted |";
      for (const auto &p : predicted) o << " " << p << " |";
      o << " recall |\n| --- |";
      for (size_t i = 0; i <= predicted.size(); ++i) o << " --- |";
      o << "\n";
      for (const auto &[truth, row] : cm) {
        int n = 0;
        for (const auto &[p, c] : row) n += c;
        o << "| " << truth << " |";
        for (const auto &p : predicted) o << " " << (row.count(p) ? row.at(p) : 0) << " |";
        o << " " << fmt("%.1f%%", 100.0 * (row.count(truth) ? row.at(truth) : 0) / std::max(1, n)) << " |\n";
      }
    }

    o << "\n### Overhead per request (cf. Table 5), mean ms\n\n| policy | template | probe | route | switch | prefill | "
         "decode | probe+route share of latency |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n";
    for (const auto &pol : r.policies) {
      const auto it = r.by_scenario_policy.find(Report::key(sc, pol));
      if (it == r.by_scenario_policy.end()) continue;
      const Aggregate &a = it->second;
      const int ok = std::max(1, a.n - a.errors);
      const double total = a.template_ms + a.probe_ms + a.route_ms + a.switch_ms + a.prefill_ms + a.decode_ms;
      o << "| " << pol << " | " << fmt("%.3f", a.template_ms / ok) << " | " << fmt("%.3f", a.probe_ms / ok) << " | "
        << fmt("%.4f", a.route_ms / ok) << " | " << fmt("%.4f", a.switch_ms / ok) << " | "
        << fmt("%.1f", a.prefill_ms / ok) << " | " << fmt("%.1f", a.decode_ms / ok) << " | "
        << fmt("%.3f%%", total > 0 ? 100 * (a.template_ms + a.probe_ms + a.route_ms + a.switch_ms) / total : 0)
        << " |\n";
    }
  }
  return o.str();
}

json report_json(const Report &r) {
  json out = {{"records", r.n_records}, {"synthetic_models", r.synthetic}, {"scenarios", json::object()}};
  for (const auto &sc : r.scenarios) {
    json s = {{"description", r.descriptions.count(sc) ? r.descriptions.at(sc) : ""},
              {"long_context", r.long_contexts.count(sc) ? r.long_contexts.at(sc) : ""},
              {"pareto", r.pareto(sc)},
              {"policies", json::object()}};
    for (const auto &pol : r.policies) {
      const auto it = r.by_scenario_policy.find(Report::key(sc, pol));
      if (it == r.by_scenario_policy.end()) continue;
      const Aggregate &a = it->second;
      json tasks = json::object();
      for (const auto &task : r.tasks) {
        const auto t = r.by_task_policy.find(Report::key(sc, task, pol));
        if (t != r.by_task_policy.end())
          tasks[task] = {{"n", t->second.n},
                         {"accuracy", t->second.accuracy()},
                         {"generated_tokens", t->second.generated},
                         {"generation_seconds", (t->second.prefill_ms + t->second.decode_ms) / 1000.0},
                         {"tokens_per_second", t->second.tokens_per_second()}};
      }
      s["policies"][pol] = {{"n", a.n},
                            {"accuracy", a.accuracy()},
                            {"tokens_per_second", a.tokens_per_second()},
                            {"weighted_tokens_per_second", r.weighted_tokens_per_second(sc, pol)},
                            {"ttft_ms_mean", mean(a.ttft_ms)},
                            {"latency_ms_p50", percentile(a.latency_ms, 0.5)},
                            {"latency_ms_p99", percentile(a.latency_ms, 0.99)},
                            {"routes", a.routes},
                            {"drafted", a.drafted},
                            {"accepted", a.accepted},
                            {"errors", a.errors},
                            {"tasks", tasks}};
    }
    if (r.confusion.count(sc)) s["probe_confusion"] = r.confusion.at(sc);
    out["scenarios"][sc] = s;
  }
  return out;
}

std::vector<ReportPlot> report_plots(const Report &r) {
  std::vector<ReportPlot> plots;
  const std::string tag = r.synthetic ? " (synthetic models: accuracy meaningless)" : "";
  for (const auto &sc : r.scenarios) {
    const auto front = r.pareto(sc);
    std::vector<svg::Point> pts;
    std::vector<svg::Bar> bars;
    std::vector<std::string> policies;
    for (const auto &pol : r.policies) {
      const auto it = r.by_scenario_policy.find(Report::key(sc, pol));
      if (it == r.by_scenario_policy.end()) continue;
      policies.push_back(pol);
      pts.push_back({pol, it->second.tokens_per_second(), 100 * it->second.accuracy(),
                     std::find(front.begin(), front.end(), pol) != front.end()});
      svg::Bar b{pol, {}};
      for (const auto &[route, count] : it->second.routes) b.segments.push_back({route, static_cast<double>(count)});
      bars.push_back(b);
    }
    plots.push_back({sc, "pareto-" + sc + ".svg",
                     "Accuracy against tokens/s per policy; the dashed line joins the Pareto frontier.",
                     svg::scatter("Scenario " + sc + ": accuracy vs tokens/s" + tag, "tokens/s", "accuracy (%)", pts)});
    plots.push_back({sc, "routes-" + sc + ".svg", "Where each policy sent the requests (model/strategy).",
                     svg::stacked_bars("Scenario " + sc + ": route split", bars)});
    if (r.entropies.count(sc)) {
      // The tau of the policy that reads it: aio's when it ran, else the first policy with one.
      std::optional<svg::Marker> tau;
      if (auto run = r.runs.find(sc); run != r.runs.end() && !run->second.taus.empty()) {
        const auto &taus = run->second.taus;
        const auto pick = taus.count("aio") ? taus.find("aio") : taus.begin();
        tau = svg::Marker{pick->second, "tau = " + fmt("%.2f", pick->second) + " (" + pick->first + ")"};
      }
      plots.push_back({sc, "entropy-" + sc + ".svg",
                       "The probe's entropy per request; at or under tau the probe is confident.",
                       svg::histogram("Scenario " + sc + ": probe entropy", "entropy (bits)", r.entropies.at(sc), 0,
                                      std::log2(static_cast<double>(std::max<size_t>(2, r.n_categories.at(sc)))), 20,
                                      tau)});
    }
    std::vector<std::string> tasks;
    std::vector<std::vector<double>> accuracy, tps;
    for (const auto &task : r.tasks) {
      std::vector<double> a, t;
      bool any = false;
      for (const auto &pol : policies) {
        const auto it = r.by_task_policy.find(Report::key(sc, task, pol));
        a.push_back(it == r.by_task_policy.end() ? NAN : 100 * it->second.accuracy());
        t.push_back(it == r.by_task_policy.end() ? NAN : it->second.tokens_per_second());
        any = any || it != r.by_task_policy.end();
      }
      if (!any) continue;
      tasks.push_back(task);
      accuracy.push_back(std::move(a));
      tps.push_back(std::move(t));
    }
    plots.push_back({sc, "tasks-accuracy-" + sc + ".svg", "Accuracy per task, one bar per policy.",
                     svg::grouped_bars("Scenario " + sc + ": accuracy per task" + tag, "accuracy (%)", tasks, policies,
                                       accuracy)});
    plots.push_back({sc, "tasks-tps-" + sc + ".svg", "Tokens/s per task, one bar per policy.",
                     svg::grouped_bars("Scenario " + sc + ": tokens/s per task", "tokens/s", tasks, policies, tps)});
  }
  return plots;
}

Expected<std::vector<std::string>> write_report_plots(const Report &r, const std::string &dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return invalid_argument("cannot create " + dir + ": " + ec.message());
  std::vector<std::string> files;
  for (const ReportPlot &plot : report_plots(r)) {
    const std::string path = (fs::path(dir) / plot.file).string();
    std::ofstream(path) << plot.svg;
    if (!fs::exists(path)) return invalid_argument("cannot write " + path);
    files.push_back(path);
  }
  return files;
}

} // namespace aio::eval
