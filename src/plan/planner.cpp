#include "plan/planner.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <sstream>

#include "util/yaml_util.h"

namespace aio::plan {
namespace {


Expected<std::map<std::string, std::map<std::string, Cell>>> parse_table(const std::string &src, const YAML::Node &node,
                                                                        const std::string &what) {
  std::map<std::string, std::map<std::string, Cell>> out;
  if (!node) return out;
  if (!node.IsMap()) return yaml::error_at(src, node, what + " must map names to {task: {acc, tps}}");
  for (const auto &row : node) {
    if (!row.second.IsMap()) return yaml::error_at(src, row.second, what + "." + row.first.Scalar() + " must be a map");
    for (const auto &cell : row.second) {
      const std::string path = what + "." + row.first.Scalar() + "." + cell.first.Scalar();
      AIO_RETURN_IF_ERROR(yaml::check_keys(src, cell.second, path, {"acc", "tps"}));
      Cell c;
      if (cell.second["acc"]) {
        auto a = yaml::as_number(src, cell.second["acc"], path + ".acc");
        if (!a) return a.status();
        if (*a < 0 || *a > 100) return yaml::error_at(src, cell.second["acc"], path + ".acc is a percentage (0-100)");
        c.acc = *a;
      }
      if (cell.second["tps"]) {
        auto t = yaml::as_number(src, cell.second["tps"], path + ".tps");
        if (!t) return t.status();
        if (*t <= 0) return yaml::error_at(src, cell.second["tps"], path + ".tps must be positive");
        c.tps = *t;
      }
      out[row.first.Scalar()][cell.first.Scalar()] = c;
    }
  }
  return out;
}

std::string fmt(double v) {
  std::ostringstream o;
  o.precision(6);
  o << v;
  return o.str();
}

} // namespace

double Profile::p_predicted(const std::string &truth, const std::string &predicted) const {
  const auto row = confusion.find(truth);
  if (row == confusion.end()) return truth == predicted ? 1 : 0;
  double total = 0;
  for (const auto &[_, c] : row->second) total += c;
  const auto cell = row->second.find(predicted);
  return total > 0 && cell != row->second.end() ? cell->second / total : 0;
}

namespace {

Expected<Profile> parse_profile(const std::string &path, const YAML::Node *root) {
  AIO_RETURN_IF_ERROR(yaml::check_keys(path, *root, "the profile",
                                       {"source", "hardware", "categories", "tasks", "configurations", "long_context",
                                        "probe_confusion", "published", "probe_entropy"}));
  Profile p;
  if ((*root)["source"]) p.source = (*root)["source"].Scalar();
  if ((*root)["hardware"]) p.hardware = (*root)["hardware"].Scalar();
  if (const auto c = (*root)["categories"]; c) {
    if (!c.IsSequence() || c.size() < 2)
      return yaml::error_at(path, c, "categories must be a list of at least two names, e.g. [code, qa, math]");
    p.categories.clear();
    for (const auto &name : c) p.categories.push_back(name.Scalar());
  }
  p.task_category = {{"humaneval", "code"}, {"gsm8k", "math"}, {"mmlu", "qa"}, {"ceval", "qa"}, {"gpqa", "qa"}};
  if (const auto t = (*root)["tasks"]; t)
    for (const auto &kv : t) p.task_category[kv.first.Scalar()] = kv.second.Scalar();
  auto configs = parse_table(path, (*root)["configurations"], "configurations");
  if (!configs) return configs.status();
  if (configs->empty()) return yaml::error_at(path, *root, "the profile has no 'configurations'");
  p.configurations = std::move(*configs);
  auto lc = parse_table(path, (*root)["long_context"], "long_context");
  if (!lc) return lc.status();
  p.long_context = std::move(*lc);
  auto published = parse_table(path, (*root)["published"], "published");
  if (!published) return published.status();
  p.published = std::move(*published);
  if (const auto cm = (*root)["probe_confusion"]; cm) {
    for (const auto &row : cm)
      for (const auto &cell : row.second) {
        auto n = yaml::as_number(path, cell.second, "probe_confusion");
        if (!n) return n.status();
        p.confusion[row.first.Scalar()][cell.first.Scalar()] = *n;
      }
  }
  if (const auto pe = (*root)["probe_entropy"]; pe) {
    for (const auto &row : pe) {
      if (!row.second.IsSequence()) return yaml::error_at(path, row.second, "probe_entropy." + row.first.Scalar() +
                                                                                " must be a list of entropies (bits)");
      for (const auto &v : row.second) {
        auto h = yaml::as_number(path, v, "probe_entropy");
        if (!h) return h.status();
        p.entropies[row.first.Scalar()].push_back(*h);
      }
    }
  }
  return p;
}

} // namespace

Expected<Profile> load_profile(const std::string &path) {
  auto root = yaml::load_file(path, "profile");
  if (!root) return root.status();
  return yaml::guarded(path, [&] { return parse_profile(path, &*root); });
}

std::string profile_yaml(const Profile &p) {
  std::ostringstream o;
  o << "source: \"" << p.source << "\"\nhardware: \"" << p.hardware << "\"\ncategories: [";
  for (size_t i = 0; i < p.categories.size(); ++i) o << (i ? ", " : "") << p.categories[i];
  o << "]\ntasks: {";
  bool first = true;
  for (const auto &[t, c] : p.task_category) o << (first ? "" : ", ") << t << ": " << c, first = false;
  o << "}\n";
  auto table = [&](const char *name, const std::map<std::string, std::map<std::string, Cell>> &t) {
    if (t.empty()) return;
    o << name << ":\n";
    for (const auto &[config, cells] : t) {
      o << "  " << config << ": {";
      bool f = true;
      for (const auto &[task, c] : cells)
        o << (f ? "" : ", ") << task << ": {acc: " << fmt(c.acc) << ", tps: " << fmt(c.tps) << "}", f = false;
      o << "}\n";
    }
  };
  table("configurations", p.configurations);
  table("long_context", p.long_context);
  if (!p.confusion.empty()) {
    o << "probe_confusion:\n";
    for (const auto &[truth, row] : p.confusion) {
      o << "  " << truth << ": {";
      bool f = true;
      for (const auto &[pred, c] : row) o << (f ? "" : ", ") << pred << ": " << fmt(c), f = false;
      o << "}\n";
    }
  }
  if (!p.entropies.empty()) {
    o << "probe_entropy:\n";
    for (const auto &[truth, values] : p.entropies) {
      o << "  " << truth << ": [";
      for (size_t i = 0; i < values.size(); ++i) o << (i ? ", " : "") << fmt(values[i]);
      o << "]\n";
    }
  }
  return o.str();
}

namespace {

// Expected accuracy/tps contributions of one mix entry given the route distribution of its requests.
struct Accum {
  double acc = 0, tps_weighted = 0, time_per_token = 0, covered = 0;
  std::map<std::string, double> routes;
  std::set<std::string> missing;
  void add(const Profile &prof, const std::string &task, bool long_ctx, const std::string &config, double weight) {
    routes[config] += weight;
    const auto &table = long_ctx ? prof.long_context : prof.configurations;
    const Cell *cell = nullptr;
    if (const auto row = table.find(config); row != table.end())
      if (const auto c = row->second.find(task); c != row->second.end() && c->second.tps > 0) cell = &c->second;
    if (cell == nullptr) {
      missing.insert(config + (long_ctx ? " (long context)" : "") + " on " + task);
      return;
    }
    acc += weight * cell->acc;
    tps_weighted += weight * cell->tps;
    time_per_token += weight / cell->tps;
    covered += weight;
  }
  Expectation finish() const {
    Expectation e;
    e.covered = covered;
    e.acc = covered > 0 ? acc / covered : 0;
    e.tps_weighted = covered > 0 ? tps_weighted / covered : 0;
    e.tps_aggregate = time_per_token > 0 ? covered / time_per_token : 0;
    e.routes = routes;
    e.missing.assign(missing.begin(), missing.end());
    return e;
  }
};

} // namespace

Expectation plan_policy(const Profile &profile, const eval::Scenario &scenario, const policy::Policy &policy,
                        bool use_probe, int32_t standard_context, Load load) {
  // Idle: nothing waits. Waiting: every model's new request waits wait_ms, nothing queued or busy. Saturated: every
  // queue and wait beyond any threshold a policy could set.
  const auto model_load = [load](const std::string &) -> std::optional<ModelLoad> {
    if (!load.saturated) return ModelLoad{.wait_ms = load.wait_ms};
    constexpr double kBeyond = 1e300;
    return ModelLoad{.slots = 1, .busy = std::numeric_limits<int32_t>::max(),
                     .queued = std::numeric_limits<int32_t>::max(), .wait_ms = kBeyond};
  };
  // A policy that draws at random is evaluated over many request ids (to about 0.3%); others need one.
  bool draws_at_random = false;
  for (const auto &rule : policy.rules) draws_at_random = draws_at_random || rule.when.random_lt.has_value();
  const int n_draws = draws_at_random ? 20000 : 1;
  Accum acc;
  for (const auto &m : scenario.mix) {
    const std::string task = eval::task_name(m.task);
    const std::string truth = profile.task_category.count(task) ? profile.task_category.at(task)
                                                                : eval::task_category(m.task);
    const bool long_ctx = m.context_tokens > 0;
    const auto samples = profile.entropies.find(truth);
    const std::vector<double> entropies =
        use_probe && samples != profile.entropies.end() && !samples->second.empty() ? samples->second
                                                                                     : std::vector<double>{0.0};
    const std::vector<std::string> &categories = profile.categories;
    for (const auto &predicted : categories) {
      const double p = use_probe ? profile.p_predicted(truth, predicted) : (truth == predicted ? 1.0 : 0.0);
      if (p <= 0) continue;
      ProbeResult probe;
      probe.probe_kind = use_probe ? "profile" : "oracle";
      probe.categories = categories;
      probe.distribution.assign(categories.size(), 0.0);
      probe.argmax = static_cast<int32_t>(std::find(categories.begin(), categories.end(), predicted) - categories.begin());
      probe.distribution[static_cast<size_t>(probe.argmax)] = 1.0;
      const double weight = m.share * p / static_cast<double>(n_draws * entropies.size());
      for (double h : entropies) {
        probe.entropy_bits = h;
        for (int d = 0; d < n_draws; ++d) {
          policy::RouteInput in;
          in.probe = &probe;
          in.n_context_tokens = long_ctx ? m.context_tokens : standard_context;
          in.true_label = truth;
          in.request_id = static_cast<uint64_t>(d);
          in.load = model_load;
          auto route = policy::decide(policy, in, StrategyParams{});
          const std::string config = route ? route->model + "/" + strategy_name(route->strategy) : "unroutable";
          acc.add(profile, task, long_ctx, config, weight);
        }
      }
    }
  }
  return acc.finish();
}

std::vector<Assignment> enumerate_assignments(const Profile &profile, const eval::Scenario &scenario) {
  std::vector<std::string> configs, long_configs;
  for (const auto &[c, _] : profile.configurations) configs.push_back(c);
  for (const auto &[c, _] : profile.long_context) long_configs.push_back(c);
  bool any_long = false;
  for (const auto &m : scenario.mix) any_long = any_long || m.context_tokens > 0;
  if (!any_long || long_configs.empty()) long_configs = {""};
  // tau candidates: the deciles of all entropy samples (an uncertain share from 0 to 90%).
  std::vector<double> all_h;
  for (const auto &[_, v] : profile.entropies) all_h.insert(all_h.end(), v.begin(), v.end());
  std::sort(all_h.begin(), all_h.end());
  std::vector<double> taus;
  for (int q = 1; q <= 9 && !all_h.empty(); ++q) taus.push_back(all_h[all_h.size() * q / 10]);
  taus.erase(std::unique(taus.begin(), taus.end()), taus.end());
  std::vector<std::string> fallbacks = {""};
  if (!taus.empty()) fallbacks.insert(fallbacks.end(), configs.begin(), configs.end());
  // Share of a true category's requests above tau.
  auto uncertain_share = [&](const std::string &truth, double tau) {
    const auto it = profile.entropies.find(truth);
    if (it == profile.entropies.end() || it->second.empty()) return 0.0;
    const auto n = std::count_if(it->second.begin(), it->second.end(), [&](double h) { return h > tau; });
    return static_cast<double>(n) / static_cast<double>(it->second.size());
  };

  std::vector<Assignment> out;
  const std::vector<std::string> &categories = profile.categories;
  // Every configuration for every category: an odometer over categories.size() digits in base configs.size().
  std::vector<size_t> digit(categories.size(), 0);
  for (bool more = !configs.empty(); more;) {
    std::map<std::string, std::string> by_category;
    for (size_t i = 0; i < categories.size(); ++i) by_category[categories[i]] = configs[digit[i]];
    more = false;
    for (size_t i = 0; i < digit.size() && !more; ++i) {
      if (++digit[i] < configs.size()) more = true;
      else digit[i] = 0;
    }
    for (const auto &lc : long_configs)
      for (const auto &fb : fallbacks)
        for (double tau : fb.empty() ? std::vector<double>{0.0} : taus) {
          Assignment as;
          as.categories = categories;
          as.by_category = by_category;
          as.long_context = lc;
          as.uncertain = fb;
          as.tau = tau;
          Accum acc;
          for (const auto &m : scenario.mix) {
            const std::string task = eval::task_name(m.task);
            const std::string truth = profile.task_category.count(task) ? profile.task_category.at(task)
                                                                        : eval::task_category(m.task);
            if (m.context_tokens > 0 && !lc.empty()) {
              acc.add(profile, task, true, lc, m.share);
              continue;
            }
            const double u = fb.empty() ? 0.0 : uncertain_share(truth, tau);
            if (u > 0) acc.add(profile, task, m.context_tokens > 0, fb, m.share * u);
            for (const auto &pred : categories)
              if (const double p = profile.p_predicted(truth, pred); p > 0)
                acc.add(profile, task, m.context_tokens > 0, as.by_category.at(pred), m.share * (1 - u) * p);
          }
          as.expected = acc.finish();
          if (as.expected.complete()) out.push_back(std::move(as));
        }
  }
  std::sort(out.begin(), out.end(),
            [](const Assignment &x, const Assignment &y) { return x.expected.tps_weighted > y.expected.tps_weighted; });
  return out;
}

std::vector<Assignment> pareto_front(const std::vector<Assignment> &all) {
  std::vector<Assignment> front;
  for (const auto &a : all) {
    bool dominated = false;
    for (const auto &b : all) {
      const auto &x = a.expected, &y = b.expected;
      if (y.tps_weighted >= x.tps_weighted && y.acc >= x.acc && (y.tps_weighted > x.tps_weighted || y.acc > x.acc)) {
        dominated = true;
        break;
      }
    }
    if (!dominated) front.push_back(a);
  }
  std::sort(front.begin(), front.end(),
            [](const Assignment &x, const Assignment &y) { return x.expected.tps_weighted < y.expected.tps_weighted; });
  // Identical points (different assignments, same numbers) are kept once.
  front.erase(std::unique(front.begin(), front.end(),
                          [](const Assignment &x, const Assignment &y) {
                            return std::fabs(x.expected.acc - y.expected.acc) < 1e-9 &&
                                   std::fabs(x.expected.tps_weighted - y.expected.tps_weighted) < 1e-9;
                          }),
              front.end());
  return front;
}

std::optional<Assignment> best_above(const std::vector<Assignment> &all, double floor) {
  std::optional<Assignment> best;
  for (const auto &a : all)
    if (a.expected.acc >= floor && (!best || a.expected.tps_weighted > best->expected.tps_weighted)) best = a;
  return best;
}

std::string assignment_policy_yaml(const Assignment &a, const std::string &name, const std::string &description,
                                   int32_t max_small_context) {
  auto route = [](const std::string &config) {
    const size_t slash = config.find('/');
    return "{model: " + config.substr(0, slash) + ", strategy: " + config.substr(slash + 1) + "}";
  };
  std::ostringstream o;
  o << "policies:\n  " << name << ":\n    description: \"" << description << "\"\n"
    << "    vars: {max_small_context: " << max_small_context << "}\n    rules:\n";
  if (!a.long_context.empty())
    o << "      - {name: long-context, when: {context_gt: max_small_context}, route: " << route(a.long_context)
      << ", reason: long context}\n";
  if (!a.uncertain.empty())
    o << "      - {name: uncertain, when: {entropy_gt: " << fmt(a.tau) << "}, route: " << route(a.uncertain)
      << ", reason: uncertain probe}\n";
  const std::vector<std::string> &order = a.categories;
  for (size_t i = 0; i < order.size(); ++i) {
    const std::string &cat = order[i];
    if (i + 1 < order.size())
      o << "      - {name: " << cat << ", when: {category: " << cat << "}, route: " << route(a.by_category.at(cat))
        << ", reason: planned for " << cat << "}\n";
    else
      o << "      - {name: " << cat << ", route: " << route(a.by_category.at(cat)) << ", reason: planned for " << cat
        << " (and anything else)}\n";
  }
  return o.str();
}

std::optional<Consistency> published_consistency(const Profile &profile, const eval::Scenario &scenario,
                                                 const policy::Policy &aio, bool standard_context) {
  const auto pub = profile.published.find(scenario.name);
  const auto per_task = profile.published.find("aio-per-task");
  if (pub == profile.published.end() || per_task == profile.published.end() || !pub->second.count("aio"))
    return std::nullopt;
  Consistency c;
  for (const auto &m : scenario.mix) {
    if (m.context_tokens > 0) {
      // Table 3 has no long-context row: take the route aio gives a correctly classified padded request.
      eval::Scenario one = scenario;
      one.mix = {m};
      one.mix[0].share = 1;
      const Expectation e = plan_policy(profile, one, aio, false, standard_context);
      if (!e.complete()) return std::nullopt;
      c.implied.acc += m.share * e.acc;
      c.implied.tps += m.share * e.tps_weighted;
      c.uses_long_context = true;
      continue;
    }
    const auto cell = per_task->second.find(eval::task_name(m.task));
    if (cell == per_task->second.end()) return std::nullopt;
    c.implied.acc += m.share * cell->second.acc;
    c.implied.tps += m.share * cell->second.tps;
  }
  c.published = pub->second.at("aio");
  c.agree = std::fabs(c.published.acc - c.implied.acc) < 0.05 && std::fabs(c.published.tps - c.implied.tps) < 0.05;
  return c;
}

} // namespace aio::plan
