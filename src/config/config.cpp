#include "config/config.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <filesystem>
#include <optional>

#include "util/yaml_util.h"

namespace aio::config {
namespace fs = std::filesystem;
using yaml::error_at;

namespace {

std::string resolve(const std::string &base_dir, const std::string &p) {
  if (p.empty() || fs::path(p).is_absolute() || p == "builtin") return p;
  return (fs::path(base_dir) / p).lexically_normal().string();
}

// scheme://host[:port][/base] with an http(s) scheme and a host: what a replica's URL must be.
std::optional<std::string> url_problem(const std::string &url) {
  const bool http = url.rfind("http://", 0) == 0, https = url.rfind("https://", 0) == 0;
  if (!http && !https) return "must start with http:// or https://";
  const size_t host_start = url.find("://") + 3;
  const std::string host = url.substr(host_start, url.find('/', host_start) - host_start);
  if (host.empty() || host.front() == ':') return "has no host";
  if (host.find_first_of(" \t?#@") != std::string::npos) return "is not a plain scheme://host:port/path URL";
  if (const size_t colon = host.rfind(':'); colon != std::string::npos && host.back() != ']') {
    const std::string port = host.substr(colon + 1);
    if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
        std::stoi(port) == 0 || std::stoi(port) > 65535)
      return "has a bad port '" + port + "'";
  }
  return std::nullopt;
}

Status parse_replica(const std::string &src, const YAML::Node &node, const std::string &path, Replica &r) {
  YAML::Node url_node = node;
  if (node.IsScalar() && node.Scalar() == "local") r.local = true;
  if (node.IsMap()) {
    AIO_RETURN_IF_ERROR(yaml::check_keys(src, node, path, {"url", "weight", "name", "local"}));
    if (node["local"]) {
      const YAML::Node l = node["local"];
      if (!l.IsScalar() || (l.Scalar() != "true" && l.Scalar() != "false"))
        return error_at(src, l, path + ".local must be true (this member is the model's own path:) or false");
      r.local = l.Scalar() == "true";
    }
    if (r.local && node["url"])
      return error_at(src, node["url"], path + " is the local member (the model's path:); it has no url");
    if (!r.local && !node["url"])
      return error_at(src, node, path + " needs a 'url' (e.g. http://10.0.0.5:8080/v1), or local: true for the "
                                        "model's own path:");
    if (!r.local) url_node.reset(node["url"]); // rebinds (plain assignment would write the url into `node` itself)
    if (node["weight"]) {
      auto w = yaml::as_number(src, node["weight"], path + ".weight");
      if (!w) return w.status();
      if (!(*w > 0)) return error_at(src, node["weight"], path + ".weight must be greater than 0");
      r.weight = *w;
    }
    if (node["name"]) {
      auto n = yaml::as_string(src, node["name"], path + ".name");
      if (!n) return n.status();
      if (n->empty()) return error_at(src, node["name"], path + ".name must not be empty");
      r.name = *n;
    }
  }
  if (r.local) {
    if (r.name.empty()) r.name = "local";
    return {};
  }
  auto url = yaml::as_string(src, url_node, path + (node.IsMap() ? ".url" : ""));
  if (!url) return url.status();
  r.url = *url;
  while (!r.url.empty() && r.url.back() == '/') r.url.pop_back();
  if (auto problem = url_problem(r.url))
    return error_at(src, url_node, path + " '" + *url + "' " + *problem + " (e.g. http://10.0.0.5:8080/v1)");
  if (r.name.empty()) {
    const size_t host_start = r.url.find("://") + 3;
    r.name = r.url.substr(host_start, r.url.find('/', host_start) - host_start);
  }
  return {};
}

Status parse_remote(const std::string &src, const YAML::Node &node, const std::string &path, ModelEntry &m) {
  if (node["endpoint"] && node["endpoints"])
    return error_at(src, node, path + " has both 'endpoint' and 'endpoints'; list every replica under 'endpoints'");
  if (node["endpoint"]) {
    Replica r;
    AIO_RETURN_IF_ERROR(parse_replica(src, node["endpoint"], path + ".endpoint", r));
    m.replicas.push_back(std::move(r));
  } else {
    const YAML::Node list = node["endpoints"];
    if (!list.IsSequence() || list.size() == 0)
      return error_at(src, list, path + ".endpoints must be a non-empty list of URLs or {url, weight, name}");
    for (size_t i = 0; i < list.size(); ++i) {
      Replica r;
      const std::string rp = path + ".endpoints[" + std::to_string(i) + "]";
      AIO_RETURN_IF_ERROR(parse_replica(src, list[i], rp, r));
      for (const Replica &other : m.replicas) {
        if (r.local && other.local)
          return error_at(src, list[i], rp + ": the local member is listed twice (a model has one path:)");
        if (!r.local && other.url == r.url)
          return error_at(src, list[i], rp + ": the replica " + r.url + " is listed twice");
        if (other.name == r.name)
          return error_at(src, list[i], rp + ": two replicas are named '" + r.name + "'; give them distinct names "
                                            "(name: ...)");
      }
      m.replicas.push_back(std::move(r));
    }
  }
  const bool has_local = std::any_of(m.replicas.begin(), m.replicas.end(), [](const Replica &r) { return r.local; });
  if (has_local && !node["path"])
    return error_at(src, node, path + " lists a local member among its endpoints but has no 'path' (the GGUF file "
                               "that member runs)");
  if (!has_local && node["path"])
    return error_at(src, node["path"], path + " has both 'path' and endpoints; to serve the GGUF here beside the "
                                       "remote replicas, add `- local` to its endpoints (else drop path)");
  if (has_local && m.replicas.size() == 1)
    return error_at(src, node, path + " has only the local member among its endpoints; list the remote replicas "
                               "too, or drop 'endpoints' and keep 'path'");
  if (!has_local)
    for (const char *key : {"n_ctx", "n_gpu_layers", "flash_attn", "kv_cache"})
      if (node[key]) return error_at(src, node[key], path + "." + key + " is the remote server's business, not ours");
  if (node["health"]) {
    const YAML::Node h = node["health"];
    AIO_RETURN_IF_ERROR(yaml::check_keys(src, h, path + ".health", {"path", "interval_seconds", "timeout_seconds"}));
    if (h["path"]) {
      auto p = yaml::as_string(src, h["path"], path + ".health.path");
      if (!p) return p.status();
      if (p->empty() || p->front() != '/')
        return error_at(src, h["path"], path + ".health.path must start with / (e.g. /health or /v1/models)");
      m.health.path = *p;
    }
    for (auto [key, out] : {std::pair{"interval_seconds", &m.health.interval_seconds},
                            std::pair{"timeout_seconds", &m.health.timeout_seconds}}) {
      if (!h[key]) continue;
      auto t = yaml::as_number(src, h[key], path + ".health." + key);
      if (!t) return t.status();
      if (!(*t > 0)) return error_at(src, h[key], path + ".health." + key + " must be positive");
      *out = *t;
    }
  }
  if (node["affinity"]) {
    const YAML::Node a = node["affinity"];
    if (!a.IsScalar() || (a.Scalar() != "true" && a.Scalar() != "false"))
      return error_at(src, a, path + ".affinity must be true (a conversation stays on one replica) or false");
    m.affinity = a.Scalar() == "true";
  }
  if (node["remote_model"]) {
    auto r = yaml::as_string(src, node["remote_model"], path + ".remote_model");
    if (!r) return r.status();
    m.remote_model = *r;
  }
  if (node["timeout_seconds"]) {
    auto t = yaml::as_number(src, node["timeout_seconds"], path + ".timeout_seconds");
    if (!t) return t.status();
    if (*t <= 0) return error_at(src, node["timeout_seconds"], path + ".timeout_seconds must be positive");
    m.timeout_seconds = *t;
  }
  if (node["api_key_env"]) {
    auto e = yaml::as_string(src, node["api_key_env"], path + ".api_key_env");
    if (!e) return e.status();
    m.api_key_env = *e;
  }
  return {};
}

Status parse_models(const std::string &src, const YAML::Node &node, const std::string &dir, AioConfig &cfg) {
  if (!node || !node.IsMap() || node.size() == 0)
    return error_at(src, node, "'models' must map names (e.g. small, large) to {path: FILE.gguf}");
  for (const auto &kv : node) {
    const std::string name = kv.first.Scalar(), path = "models." + name;
    AIO_RETURN_IF_ERROR(yaml::check_keys(src, kv.second, path,
                                         {"path", "n_ctx", "n_gpu_layers", "flash_attn", "kv_cache", "slots", "endpoint",
                                          "endpoints", "health", "affinity", "remote_model", "timeout_seconds",
                                          "api_key_env"}));
    ModelEntry m;
    m.name = name;
    m.line = kv.first.Mark().line + 1;
    if (name == "aio") return error_at(src, kv.first, "'aio' is the routed model's name; call this model otherwise");
    if (kv.second["slots"]) {
      auto n = yaml::as_int(src, kv.second["slots"], path + ".slots");
      if (!n) return n.status();
      if (*n < 1 || *n > kMaxSlots)
        return error_at(src, kv.second["slots"],
                        path + ".slots must be from 1 to " + std::to_string(kMaxSlots) +
                            " (the sequences this model decodes together; leave it out to use the server's --slots)");
      m.slots = static_cast<int32_t>(*n);
    }
    const bool remote = kv.second["endpoint"] || kv.second["endpoints"];
    if (!kv.second["path"] && !remote)
      return error_at(src, kv.second, path + " needs 'path' (a local GGUF file) or 'endpoint' / 'endpoints' (the URL "
                                          "of an OpenAI-compatible server, e.g. http://host:8080/v1, or a list of "
                                          "them, where `local` names the path's own member)");
    if (remote) {
      AIO_RETURN_IF_ERROR(parse_remote(src, kv.second, path, m));
      if (!kv.second["path"]) {
        cfg.models.push_back(std::move(m));
        continue;
      }
    } else {
      for (const char *key : {"remote_model", "timeout_seconds", "api_key_env", "health", "affinity"})
        if (kv.second[key])
          return error_at(src, kv.second[key], path + "." + key + " applies to models with endpoints only");
    }
    auto p = yaml::as_string(src, kv.second["path"], path + ".path");
    if (!p) return p.status();
    m.path = resolve(dir, *p);
    if (kv.second["n_ctx"]) {
      auto n = yaml::as_int(src, kv.second["n_ctx"], path + ".n_ctx");
      if (!n) return n.status();
      if (*n < 64) return error_at(src, kv.second["n_ctx"], path + ".n_ctx must be at least 64");
      m.n_ctx = static_cast<uint32_t>(*n);
    }
    if (kv.second["n_gpu_layers"]) {
      auto n = yaml::as_int(src, kv.second["n_gpu_layers"], path + ".n_gpu_layers");
      if (!n) return n.status();
      m.n_gpu_layers = static_cast<int32_t>(*n);
    }
    if (const YAML::Node fa = kv.second["flash_attn"]) {
      const std::string v = fa.IsScalar() ? fa.Scalar() : "";
      if (v == "auto") m.flash_attn = ModelEntry::FlashAttention::automatic;
      else if (v == "on" || v == "true") m.flash_attn = ModelEntry::FlashAttention::on;
      else if (v == "off" || v == "false") m.flash_attn = ModelEntry::FlashAttention::off;
      else
        return error_at(src, fa, path + ".flash_attn must be auto (llama.cpp decides), on or off - as llama-server's "
                                        "--flash-attn");
    }
    if (const YAML::Node kv_cache = kv.second["kv_cache"]) {
      const std::string v = kv_cache.IsScalar() ? kv_cache.Scalar() : "";
      if (v == "unified") m.kv_cache = ModelEntry::KvCache::unified;
      else if (v == "split") m.kv_cache = ModelEntry::KvCache::split;
      else
        return error_at(src, kv_cache, path + ".kv_cache must be unified (one cache all sequences share) or split (a "
                                              "cache of n_ctx tokens per sequence)");
    }
    cfg.models.push_back(std::move(m));
  }
  return {};
}

} // namespace

Status ProbeConfig::check_escalation(size_t n_categories) const {
  const double h_max = std::log2(static_cast<double>(n_categories));
  if (escalate_entropy_gt >= 0 && escalate_entropy_gt < h_max) return {};
  char max[32];
  std::snprintf(max, sizeof max, "%.3f", h_max);
  return invalid_argument("probe.escalate_entropy_gt must be at least 0 and below log2 of the number of categories (" +
                          std::string(max) + " bits; at or above it the lm probe would never run: use kind fasttext)");
}

namespace {

Status parse_probe(const std::string &src, const YAML::Node &node, const std::string &dir, AioConfig &cfg) {
  AIO_RETURN_IF_ERROR(
      yaml::check_keys(src, node, "probe", {"kind", "model", "suffix", "labels", "fasttext_model", "read_tokens", "lanes",
                                             "escalate_entropy_gt"}));
  ProbeConfig &p = cfg.probe;
  if (node["kind"]) {
    p.kind = node["kind"].Scalar();
    if (p.kind != "lm" && p.kind != "fasttext" && p.kind != "cascade")
      return error_at(src, node["kind"], "probe.kind must be lm, fasttext or cascade, not '" + p.kind + "'");
  }
  if (node["escalate_entropy_gt"]) {
    auto h = yaml::as_number(src, node["escalate_entropy_gt"], "probe.escalate_entropy_gt");
    if (!h) return h.status();
    p.escalate_entropy_gt = *h;
    if (Status st = p.check_escalation(cfg.categories.size()); !st.ok())
      return error_at(src, node["escalate_entropy_gt"], st.message());
  }
  if (node["model"]) p.model = node["model"].Scalar();
  if (node["suffix"]) p.lm.suffix = node["suffix"].Scalar();
  if (node["read_tokens"]) {
    auto n = yaml::as_int(src, node["read_tokens"], "probe.read_tokens");
    if (!n) return n.status();
    if (*n != 0 && (*n < 16 || *n > 1000000))
      return error_at(src, node["read_tokens"],
                      "probe.read_tokens must be 0 (read the whole request) or between 16 and 1000000 tokens");
    p.lm.read_tokens = static_cast<int32_t>(*n);
  }
  if (node["lanes"]) {
    auto n = yaml::as_int(src, node["lanes"], "probe.lanes");
    if (!n) return n.status();
    if (*n < 0 || *n > 8)
      return error_at(src, node["lanes"], "probe.lanes must be between 0 (probes queue for a slot like any request) "
                                          "and 8, not " + std::to_string(*n));
    p.lm.lanes = static_cast<int32_t>(*n);
  }
  if (node["labels"]) {
    const YAML::Node labels = node["labels"];
    if (!labels.IsMap()) return error_at(src, labels, "probe.labels must map each category to its label word");
    p.lm.labels.clear();
    for (const auto &c : cfg.categories) {
      if (!labels[c]) return error_at(src, labels, "probe.labels has no label for category '" + c + "'");
      p.lm.labels.push_back(labels[c].Scalar());
    }
    if (labels.size() != cfg.categories.size())
      return error_at(src, labels, "probe.labels has labels for categories that are not in 'categories'");
  }
  if (node["fasttext_model"]) p.fasttext_model = resolve(dir, node["fasttext_model"].Scalar());
  return {};
}

Status parse_decoding(const std::string &src, const YAML::Node &node, AioConfig &cfg) {
  AIO_RETURN_IF_ERROR(yaml::check_keys(src, node, "decoding", {"pld_window", "pld_lookahead", "draft_tokens"}));
  struct Field {
    const char *key;
    int32_t *out;
  };
  for (Field f : {Field{"pld_window", &cfg.decoding.pld_window}, Field{"pld_lookahead", &cfg.decoding.pld_lookahead},
                  Field{"draft_tokens", &cfg.decoding.draft_tokens}}) {
    if (!node[f.key]) continue;
    auto v = yaml::as_int(src, node[f.key], std::string("decoding.") + f.key);
    if (!v) return v.status();
    *f.out = static_cast<int32_t>(*v);
  }
  if (Status s = cfg.decoding.validate(); !s.ok()) return error_at(src, node, "decoding: " + s.message());
  return {};
}

} // namespace

const ModelEntry *AioConfig::find_model(const std::string &name) const {
  for (const auto &m : models)
    if (m.name == name) return &m;
  return nullptr;
}

Expected<const policy::Policy *> AioConfig::find_policy(const std::string &name) const {
  auto it = policies.find(name);
  if (it == policies.end()) {
    std::string names;
    for (const auto &[n, _] : policies) names += (names.empty() ? "" : ", ") + n;
    return invalid_argument("no policy named '" + name + "'; available: " + names);
  }
  for (const std::string &m : policy::models_used(it->second))
    if (!find_model(m))
      return invalid_argument("policy '" + name + "' routes to (or reads the load of) model '" + m + "', which " + source +
                              " does not define; add models." + m + ".path to it");
  return &it->second;
}

namespace {

// root[key], when given, as a number within [lo, hi] into `out`; anything else is `message` at the key's line.
Status read_number(const std::string &path, const YAML::Node &root, const char *key, double lo, double hi,
                   const std::string &message, double &out) {
  const YAML::Node node = root[key];
  if (!node) return {};
  double v = lo - 1;
  try {
    v = node.as<double>();
  } catch (const YAML::Exception &) {
  }
  if (!(v >= lo && v <= hi)) return error_at(path, node, message);
  out = v;
  return {};
}

// `path` names the config in messages; `dir` is where its relative paths start.
Expected<AioConfig> parse_config(const std::string &path, const std::string &dir, const YAML::Node &root) {
  AioConfig cfg;
  cfg.source = path;
  AIO_RETURN_IF_ERROR(yaml::check_keys(path, root, "the config",
                                       {"categories", "entropy_unit", "models", "probe", "policy", "decoding",
                                        "threads", "policies", "step_budget", "step_factor", "max_stall_ms"}));
  if (root["entropy_unit"] && root["entropy_unit"].Scalar() != "bits")
    return error_at(path, root["entropy_unit"],
                    "entropy_unit must be 'bits' (thresholds such as tau are read as Shannon entropy in bits)");
  if (root["categories"]) {
    auto c = yaml::as_string_list(path, root["categories"], "categories");
    if (!c) return c.status();
    if (Status ok = check_category_names(*c); !ok.ok()) return error_at(path, root["categories"], ok.message());
    cfg.categories = *c;
    cfg.probe.lm.categories = *c;
  }
  AIO_RETURN_IF_ERROR(parse_models(path, root["models"], dir, cfg));
  if (root["probe"]) AIO_RETURN_IF_ERROR(parse_probe(path, root["probe"], dir, cfg));
  if (!cfg.find_model(cfg.probe.model))
    return error_at(path, root["probe"] ? root["probe"] : root,
                    "probe.model '" + cfg.probe.model + "' is not one of the configured models");
  if (cfg.find_model(cfg.probe.model)->remote())
    return error_at(path, root["probe"] ? root["probe"] : root,
                    "probe.model '" + cfg.probe.model + "' is a remote endpoint, but the probe runs locally (it needs "
                    "the model's tokenizer, and the lm probe its forward pass); name a local model");
  if (cfg.probe.runs_fasttext() && cfg.probe.fasttext_model.empty())
    return error_at(path, root["probe"], "probe.kind " + cfg.probe.kind +
                                             " needs probe.fasttext_model (a path, or builtin)");
  if (Status s = cfg.probe.lm.validate(); !s.ok()) return error_at(path, root["probe"], "probe: " + s.message());
  if (root["decoding"]) AIO_RETURN_IF_ERROR(parse_decoding(path, root["decoding"], cfg));
  if (root["threads"]) {
    auto t = yaml::as_int(path, root["threads"], "threads");
    if (!t) return t.status();
    cfg.threads = static_cast<int32_t>(*t);
  }
  if (root["step_budget"]) {
    cfg.step_budget = root["step_budget"].Scalar();
    const bool digits = !cfg.step_budget.empty() && cfg.step_budget.size() <= 7 &&
                        cfg.step_budget.find_first_not_of("0123456789") == std::string::npos &&
                        cfg.step_budget.find_first_not_of('0') != std::string::npos;
    if (cfg.step_budget != "auto" && !digits)
      return error_at(path, root["step_budget"],
                      "step_budget must be 'auto' (measured) or a number of tokens per step, e.g. 64");
  }
  AIO_RETURN_IF_ERROR(read_number(path, root, "step_factor", 1.1, 100,
                                  "step_factor must be a number from 1.1 to 100 (how many decode-only steps a step "
                                  "with prefill may last, e.g. 2)",
                                  cfg.step_factor));
  if (root["max_stall_ms"] && root["max_stall_ms"].IsScalar() && root["max_stall_ms"].Scalar() == "auto")
    cfg.max_stall_ms = AioConfig::kMaxStallAuto;
  else
    AIO_RETURN_IF_ERROR(read_number(path, root, "max_stall_ms", 0, 3.6e6,
                                    "max_stall_ms must be auto (a few of the model's decode steps) or a number of "
                                    "milliseconds from 0 (off) to 3600000: a prompt whose whole prefill is expected "
                                    "within it goes in one step beside running streams, e.g. 1500",
                                    cfg.max_stall_ms));
  cfg.policies = policy::builtin_policies();
  if (root["policies"]) {
    auto own = policy::parse_policies(root["policies"], path);
    if (!own) return own.status();
    for (auto &[name, p] : *own) cfg.policies[name] = std::move(p);
  }
  std::set<std::string> own_policies;
  if (root["policies"])
    for (const auto &kv : root["policies"]) own_policies.insert(kv.first.Scalar());
  if (root["policy"]) cfg.policy = root["policy"].Scalar();
  if (auto p = cfg.find_policy(cfg.policy); !p) return error_at(path, root["policy"] ? root["policy"] : root,
                                                                p.status().message());
  // A rule naming a category the probe does not have would never match: say so instead of routing silently around it
  // (the config's own policies, and the one it serves with).
  own_policies.insert(cfg.policy);
  for (const auto &name : own_policies) {
    const policy::Policy &pol = cfg.policies.at(name);
    for (const auto &rule : pol.rules)
      for (const auto *names : {&rule.when.categories, &rule.when.true_labels})
        for (const auto &c : *names)
          if (std::find(cfg.categories.begin(), cfg.categories.end(), c) == cfg.categories.end()) {
            std::string have;
            for (const auto &k : cfg.categories) have += (have.empty() ? "" : ", ") + k;
            return invalid_argument(pol.source + ": policy '" + name + "', rule '" + rule.name +
                                    "' (line " + std::to_string(rule.line) + ") names category '" + c +
                                    "', which is not one of the config's categories [" + have +
                                    "]; add it to 'categories' or fix the rule");
          }
  }
  return cfg;
}

} // namespace

Expected<AioConfig> load_config(const std::string &path) {
  auto root = yaml::load_file(path, "config file");
  if (!root) return root.status();
  const std::string dir = fs::absolute(path).parent_path().string();
  return yaml::guarded(path, [&] { return parse_config(path, dir, *root); });
}

Expected<AioConfig> load_config_text(const std::string &text, const std::string &source) {
  auto root = yaml::load_string(text, source);
  if (!root) return root.status();
  const std::string dir = fs::current_path().string();
  return yaml::guarded(source, [&] { return parse_config(source, dir, *root); });
}

} // namespace aio::config
