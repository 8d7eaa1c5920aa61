#include "policy/policy.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace aio::policy {
namespace {

bool contains(const std::vector<std::string> &v, const std::string &x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

std::string fmt(double x) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.4g", x);
  return buf;
}

// Whether `rule` matches; on a match, `why` collects the facts that made it so and `load` the load it read.
Expected<bool> matches(const Rule &rule, const Policy &policy, const RouteInput &in, std::string &why,
                       std::optional<ModelLoad> &load_read) {
  const Condition &c = rule.when;
  const ProbeResult &p = *in.probe;
  std::vector<std::string> facts;
  if (!c.categories.empty()) {
    if (!contains(c.categories, p.category())) return false;
    facts.push_back("category " + p.category());
  }
  if (!c.true_labels.empty()) {
    if (!in.true_label)
      return invalid_argument("policy '" + policy.name + "' rule '" + rule.name +
                              "' routes on the true label, which this request does not carry (only workloads with "
                              "labels can use it)");
    if (!contains(c.true_labels, *in.true_label)) return false;
    facts.push_back("true label " + *in.true_label);
  }
  const double ctx = in.n_context_tokens;
  if (c.context_le) {
    if (!(ctx <= c.context_le->value)) return false;
    facts.push_back("context " + std::to_string(in.n_context_tokens) + " <= " + fmt(c.context_le->value));
  }
  if (c.context_gt) {
    if (!(ctx > c.context_gt->value)) return false;
    facts.push_back("context " + std::to_string(in.n_context_tokens) + " > " + fmt(c.context_gt->value));
  }
  if (c.entropy_le) {
    if (!(p.entropy_bits <= c.entropy_le->value)) return false;
    facts.push_back("entropy " + fmt(p.entropy_bits) + " <= " + fmt(c.entropy_le->value) + " bits");
  }
  if (c.entropy_gt) {
    if (!(p.entropy_bits > c.entropy_gt->value)) return false;
    facts.push_back("entropy " + fmt(p.entropy_bits) + " > " + fmt(c.entropy_gt->value) + " bits");
  }
  if (c.tools) {
    if (*c.tools != in.has_tools) return false;
    facts.push_back(in.has_tools ? "the request offers tools" : "no tools");
  }
  std::optional<ModelLoad> load;
  if (c.load) {
    if (!in.load) return false;
    load = in.load(c.load->model);
    if (!load) return false;
    const std::string &m = c.load->model;
    if (c.load->queued_gt) {
      if (!(load->queued > c.load->queued_gt->value)) return false;
      facts.push_back(m + " queue " + std::to_string(load->queued) + " > " + fmt(c.load->queued_gt->value));
    }
    if (c.load->busy_gt) {
      if (!(load->busy > c.load->busy_gt->value)) return false;
      facts.push_back(m + " busy slots " + std::to_string(load->busy) + " > " + fmt(c.load->busy_gt->value));
    }
    if (c.load->wait_ms_gt) {
      if (!(load->wait_ms > c.load->wait_ms_gt->value)) return false;
      facts.push_back(m + " expected wait " + std::to_string(std::llround(load->wait_ms)) + " ms > " +
                      fmt(c.load->wait_ms_gt->value) + " ms");
    }
  }
  if (c.random_lt) {
    const double u = uniform_draw(policy.seed, in.request_id);
    if (!(u < c.random_lt->value)) return false;
    facts.push_back("draw " + fmt(u) + " < " + fmt(c.random_lt->value));
  }
  load_read = load;
  why.clear();
  for (size_t i = 0; i < facts.size(); ++i) why += (i ? ", " : "") + facts[i];
  if (why.empty()) why = "no earlier rule matched";
  return true;
}

} // namespace

double uniform_draw(uint64_t seed, uint64_t request_id) {
  // splitmix64 of the pair: independent across requests, identical across runs.
  uint64_t z = seed * 0x9E3779B97F4A7C15ULL + request_id + 0x632BE59BD9B4E019ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) * (1.0 / 9007199254740992.0);
}

Status Policy::set_var(const std::string &name, double value) {
  auto it = std::find_if(vars.begin(), vars.end(), [&](const auto &v) { return v.first == name; });
  if (it == vars.end()) return invalid_argument("policy '" + this->name + "' has no variable '" + name + "'");
  it->second = value;
  for (Rule &r : rules) {
    std::vector<std::optional<Threshold> *> thresholds = {&r.when.context_le, &r.when.context_gt, &r.when.entropy_le,
                                                          &r.when.entropy_gt, &r.when.random_lt};
    if (r.when.load)
      for (auto *t : {&r.when.load->queued_gt, &r.when.load->busy_gt, &r.when.load->wait_ms_gt}) thresholds.push_back(t);
    for (auto *t : thresholds)
      if (*t && (*t)->var == name) (*t)->value = value;
  }
  return {};
}

std::optional<Route> decide_without_probe(const Policy &policy, const RouteInput &input,
                                          const std::vector<std::string> &categories, const StrategyParams &params) {
  // Entropies at which a rule's verdict can flip: 0, each threshold and just above it, and beyond any threshold.
  std::vector<double> entropies = {0.0, 1e9};
  for (const Rule &r : policy.rules)
    for (const auto *t : {&r.when.entropy_le, &r.when.entropy_gt})
      if (*t) entropies.insert(entropies.end(), {(*t)->value, std::nextafter((*t)->value, 1e9)});
  ProbeResult probe;
  probe.probe_kind = "none";
  probe.categories = categories;
  probe.distribution.assign(categories.size(), 0.0);
  std::optional<Route> first;
  std::optional<Route> by_load; // a verdict the load decided: the record says so even when the probe is skipped
  for (size_t c = 0; c < categories.size(); ++c) {
    probe.argmax = static_cast<int32_t>(c);
    for (double h : entropies) {
      probe.entropy_bits = h;
      RouteInput in = input;
      in.probe = &probe;
      auto r = decide(policy, in, params);
      if (!r) return std::nullopt; // an error the real decision will report
      if (r->load && !by_load) by_load = *r;
      if (!first) first = std::move(*r);
      else if (r->model != first->model || r->strategy != first->strategy || r->draft_model != first->draft_model)
        return std::nullopt;
    }
  }
  if (!first) return std::nullopt;
  if (by_load) {
    first->load_model = by_load->load_model;
    first->load = by_load->load;
  }
  first->rule = "probe skipped";
  first->reason = "whatever the probe reported, policy " + policy.name + " would route here: " + first->model + "/" +
                  strategy_name(first->strategy) + " (so the probe did not run)";
  return first;
}

bool uses_load(const Policy &policy) { return !load_models(policy).empty(); }

std::vector<std::string> load_models(const Policy &policy) {
  std::vector<std::string> names;
  for (const Rule &r : policy.rules)
    if (r.when.load && !contains(names, r.when.load->model)) names.push_back(r.when.load->model);
  return names;
}

std::vector<double> wait_thresholds(const Policy &policy) {
  std::vector<double> out;
  for (const Rule &r : policy.rules)
    if (r.when.load && r.when.load->wait_ms_gt) out.push_back(r.when.load->wait_ms_gt->value);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::optional<double> Policy::var(const std::string &name) const {
  for (const auto &[k, v] : vars)
    if (k == name) return v;
  return std::nullopt;
}

Expected<Route> decide(const Policy &policy, const RouteInput &in, const StrategyParams &params) {
  AIO_CHECK(in.probe != nullptr);
  std::string why;
  std::optional<ModelLoad> load;
  for (const Rule &rule : policy.rules) {
    auto m = matches(rule, policy, in, why, load);
    if (!m) return m.status();
    if (!*m) continue;
    Route r;
    r.model = rule.model;
    r.strategy = rule.strategy;
    r.params = params;
    r.draft_model = rule.draft_model;
    r.policy = policy.name;
    r.rule = rule.name;
    r.reason = (rule.reason.empty() ? rule.name : rule.reason) + " (" + why + ")";
    if (load) {
      r.load_model = rule.when.load->model;
      r.load = load;
    }
    return r;
  }
  return invalid_argument("no rule of policy '" + policy.name + "' (" + policy.source +
                          ") matched this request; end the rule list with a rule without 'when' as the default");
}

} // namespace aio::policy
