#include "policy/policy_config.h"

#include <algorithm>

#include "policy/builtin_policies_yaml.h" // generated from configs/policies.yaml
#include "util/yaml_util.h"

namespace aio::policy {
namespace {

using yaml::error_at;

Expected<Threshold> parse_threshold(const std::string &src, const YAML::Node &node, const std::string &path,
                                    const Policy &policy) {
  if (!node.IsScalar()) return error_at(src, node, path + " must be a number or the name of a policy variable");
  try {
    return Threshold{node.as<double>(), ""};
  } catch (const YAML::Exception &) {
  }
  const std::string name = node.Scalar();
  if (auto v = policy.var(name)) return Threshold{*v, name};
  return error_at(src, node, path + ": '" + name + "' is neither a number nor a variable of this policy (its vars: " +
                                 [&] {
                                   std::string s;
                                   for (const auto &[k, _] : policy.vars) s += (s.empty() ? "" : ", ") + k;
                                   return s.empty() ? std::string("none") : s;
                                 }() + ")");
}

// Reads each of `fields` the node has as a threshold (a number or a policy variable).
struct ThresholdField {
  const char *key;
  std::optional<Threshold> *out;
};
Status parse_thresholds(const std::string &src, const YAML::Node &node, const std::string &path, const Policy &policy,
                        std::initializer_list<ThresholdField> fields) {
  for (const ThresholdField &f : fields) {
    if (!node[f.key]) continue;
    auto t = parse_threshold(src, node[f.key], path + "." + f.key, policy);
    if (!t) return t.status();
    *f.out = *t;
  }
  return {};
}

// load: {model: NAME, queued_gt: N, busy_gt: N, wait_ms_gt: MS} - at least one threshold.
Expected<LoadCondition> parse_load_condition(const std::string &src, const YAML::Node &node, const std::string &path,
                                             const Policy &policy) {
  if (!node.IsMap())
    return error_at(src, node, path + " must be a mapping such as {model: large, wait_ms_gt: 2000}");
  AIO_RETURN_IF_ERROR(yaml::check_keys(src, node, path, {"model", "queued_gt", "busy_gt", "wait_ms_gt"}));
  LoadCondition c;
  if (!node["model"]) return error_at(src, node, path + " has no 'model' (the model whose load it reads)");
  auto model = yaml::as_string(src, node["model"], path + ".model");
  if (!model) return model.status();
  c.model = *model;
  AIO_RETURN_IF_ERROR(parse_thresholds(src, node, path, policy,
                                       {{"queued_gt", &c.queued_gt}, {"busy_gt", &c.busy_gt}, {"wait_ms_gt", &c.wait_ms_gt}}));
  for (auto [key, t] : {std::pair{"queued_gt", &c.queued_gt}, {"busy_gt", &c.busy_gt}, {"wait_ms_gt", &c.wait_ms_gt}})
    if (*t && (*t)->value < 0) return error_at(src, node[key], path + "." + key + " must not be negative");
  if (!c.queued_gt && !c.busy_gt && !c.wait_ms_gt)
    return error_at(src, node, path + " needs a threshold: queued_gt, busy_gt or wait_ms_gt");
  return c;
}

Status parse_condition(const std::string &src, const YAML::Node &node, const std::string &path, const Policy &policy,
                       Condition &c) {
  AIO_RETURN_IF_ERROR(yaml::check_keys(src, node, path,
                                       {"category", "true_label", "context_le", "context_gt", "entropy_le",
                                        "entropy_gt", "random_lt", "tools", "load"}));
  if (node["tools"]) {
    const YAML::Node t = node["tools"];
    if (!t.IsScalar() || (t.Scalar() != "true" && t.Scalar() != "false"))
      return error_at(src, t, path + ".tools must be true (the request offers tools) or false (it offers none)");
    c.tools = t.Scalar() == "true";
  }
  if (node["category"]) {
    auto v = yaml::as_string_list(src, node["category"], path + ".category");
    if (!v) return v.status();
    c.categories = *v;
  }
  if (node["true_label"]) {
    auto v = yaml::as_string_list(src, node["true_label"], path + ".true_label");
    if (!v) return v.status();
    c.true_labels = *v;
  }
  AIO_RETURN_IF_ERROR(parse_thresholds(src, node, path, policy,
                                       {{"context_le", &c.context_le}, {"context_gt", &c.context_gt},
                                        {"entropy_le", &c.entropy_le}, {"entropy_gt", &c.entropy_gt},
                                        {"random_lt", &c.random_lt}}));
  if (c.random_lt && (c.random_lt->value < 0 || c.random_lt->value > 1))
    return error_at(src, node["random_lt"], path + ".random_lt must be a probability in [0, 1]");
  if (node["load"]) {
    auto load = parse_load_condition(src, node["load"], path + ".load", policy);
    if (!load) return load.status();
    c.load = std::move(*load);
  }
  return {};
}

Expected<Rule> parse_rule(const std::string &src, const YAML::Node &node, const std::string &path, size_t index,
                          const Policy &policy) {
  AIO_RETURN_IF_ERROR(yaml::check_keys(src, node, path, {"name", "when", "route", "reason"}));
  Rule r;
  r.line = node.Mark().line + 1;
  r.name = node["name"] ? node["name"].Scalar() : "rule " + std::to_string(index + 1);
  if (node["reason"]) r.reason = node["reason"].Scalar();
  if (node["when"]) AIO_RETURN_IF_ERROR(parse_condition(src, node["when"], path + ".when", policy, r.when));
  const YAML::Node route = node["route"];
  if (!route) return error_at(src, node, path + " has no 'route' (add route: {model: NAME, strategy: plain|pld|draft})");
  AIO_RETURN_IF_ERROR(yaml::check_keys(src, route, path + ".route", {"model", "strategy", "draft_model"}));
  if (!route["model"]) return error_at(src, route, path + ".route has no 'model'");
  auto model = yaml::as_string(src, route["model"], path + ".route.model");
  if (!model) return model.status();
  r.model = *model;
  if (route["strategy"]) {
    auto s = parse_strategy(route["strategy"].Scalar());
    if (!s) return error_at(src, route["strategy"], path + ".route.strategy: " + s.status().message());
    r.strategy = *s;
  }
  if (route["draft_model"]) r.draft_model = route["draft_model"].Scalar();
  if (r.strategy == Strategy::draft && r.draft_model.empty())
    return error_at(src, route, path + ".route: strategy draft needs a draft_model (the model that drafts)");
  if (r.strategy != Strategy::draft && !r.draft_model.empty())
    return error_at(src, route["draft_model"], path + ".route.draft_model is only meaningful with strategy: draft");
  return r;
}

Expected<Policy> parse_policy(const std::string &src, const std::string &name, const YAML::Node &node) {
  const std::string path = "policies." + name;
  AIO_RETURN_IF_ERROR(yaml::check_keys(src, node, path, {"description", "vars", "seed", "rules"}));
  Policy p;
  p.name = name;
  p.source = src;
  if (node["description"]) p.description = node["description"].Scalar();
  if (node["seed"]) {
    auto s = yaml::as_int(src, node["seed"], path + ".seed");
    if (!s) return s.status();
    p.seed = static_cast<uint64_t>(*s);
  }
  if (node["vars"]) {
    if (!node["vars"].IsMap()) return error_at(src, node["vars"], path + ".vars must map names to numbers");
    for (const auto &kv : node["vars"]) {
      auto v = yaml::as_number(src, kv.second, path + ".vars." + kv.first.Scalar());
      if (!v) return v.status();
      p.vars.emplace_back(kv.first.Scalar(), *v);
    }
  }
  const YAML::Node rules = node["rules"];
  if (!rules || !rules.IsSequence() || rules.size() == 0)
    return error_at(src, rules ? rules : node, path + ".rules must be a non-empty list of rules");
  for (size_t i = 0; i < rules.size(); ++i) {
    auto r = parse_rule(src, rules[i], path + ".rules[" + std::to_string(i) + "]", i, p);
    if (!r) return r.status();
    p.rules.push_back(std::move(*r));
  }
  // A policy must route every request: its last rule has to match unconditionally.
  const Condition &last = p.rules.back().when;
  if (!last.empty())
    return error_at(src, rules[rules.size() - 1],
                    path + ": the last rule has a 'when', so some requests would match no rule; add a final rule "
                           "without 'when' as the default");
  return p;
}

} // namespace

Expected<PolicySet> parse_policies(const YAML::Node &policies, const std::string &source) {
  if (!policies.IsMap()) return error_at(source, policies, "'policies' must map policy names to policies");
  PolicySet set;
  for (const auto &kv : policies) {
    auto p = parse_policy(source, kv.first.Scalar(), kv.second);
    if (!p) return p.status();
    set[p->name] = std::move(*p);
  }
  return set;
}

Expected<PolicySet> load_policy_file(const std::string &path) {
  auto root = yaml::load_file(path, "policy file");
  if (!root) return root.status();
  if (!root->IsMap()) return yaml::error_at(path, *root, "the top level must be a mapping with a 'policies:' key");
  if (!(*root)["policies"]) return invalid_argument(path + ": no 'policies:' key at the top level");
  return yaml::guarded(path, [&] { return parse_policies((*root)["policies"], path); });
}

const PolicySet &builtin_policies() {
  static const PolicySet set = [] {
    const std::string source = "built-in policies (configs/policies.yaml)";
    auto root = yaml::load_string(kBuiltinPoliciesYaml, source);
    AIO_CHECK(root.ok());
    auto parsed = parse_policies((*root)["policies"], source);
    if (!parsed.ok()) std::fprintf(stderr, "%s\n", parsed.status().message().c_str());
    AIO_CHECK(parsed.ok());
    return *parsed;
  }();
  return set;
}

bool uses_probe(const Policy &policy) {
  for (const auto &r : policy.rules)
    if (!r.when.categories.empty() || r.when.entropy_le || r.when.entropy_gt) return true;
  return false;
}

std::vector<std::string> models_used(const Policy &policy) {
  std::vector<std::string> names;
  for (const Rule &r : policy.rules)
    for (const std::string &m : {r.model, r.draft_model, r.when.load ? r.when.load->model : std::string()})
      if (!m.empty() && std::find(names.begin(), names.end(), m) == names.end()) names.push_back(m);
  return names;
}

} // namespace aio::policy
