#include "config/config.h"

#include <filesystem>

#include "util/yaml_util.h"

namespace aio::config {
namespace fs = std::filesystem;
using yaml::error_at;

namespace {

std::string resolve(const std::string &base_dir, const std::string &p) {
  if (p.empty() || fs::path(p).is_absolute() || p == "builtin") return p;
  return (fs::path(base_dir) / p).lexically_normal().string();
}

Status parse_remote(const std::string &src, const YAML::Node &node, const std::string &path, ModelEntry &m) {
  auto url = yaml::as_string(src, node["endpoint"], path + ".endpoint");
  if (!url) return url.status();
  m.endpoint = *url;
  while (!m.endpoint.empty() && m.endpoint.back() == '/') m.endpoint.pop_back();
  if (m.endpoint.rfind("http://", 0) != 0 && m.endpoint.rfind("https://", 0) != 0)
    return error_at(src, node["endpoint"], path + ".endpoint must start with http:// or https:// (got '" + *url + "')");
  for (const char *key : {"n_ctx", "n_gpu_layers"})
    if (node[key]) return error_at(src, node[key], path + "." + key + " is the remote server's business, not ours");
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
                                         {"path", "n_ctx", "n_gpu_layers", "endpoint", "remote_model",
                                          "timeout_seconds", "api_key_env"}));
    ModelEntry m;
    m.name = name;
    if (name == "aio") return error_at(src, kv.first, "'aio' is the routed model's name; call this model otherwise");
    if (!kv.second["path"] == !kv.second["endpoint"])
      return error_at(src, kv.second, path + " needs exactly one of 'path' (a local GGUF file) or 'endpoint' (the " +
                                          "URL of an OpenAI-compatible server, e.g. http://host:8080/v1)");
    if (kv.second["endpoint"]) {
      AIO_RETURN_IF_ERROR(parse_remote(src, kv.second, path, m));
      cfg.models.push_back(std::move(m));
      continue;
    }
    for (const char *key : {"remote_model", "timeout_seconds", "api_key_env"})
      if (kv.second[key]) return error_at(src, kv.second[key], path + "." + key + " applies to 'endpoint' models only");
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
    cfg.models.push_back(std::move(m));
  }
  return {};
}

Status parse_probe(const std::string &src, const YAML::Node &node, const std::string &dir, AioConfig &cfg) {
  AIO_RETURN_IF_ERROR(yaml::check_keys(src, node, "probe", {"kind", "model", "suffix", "labels", "fasttext_model"}));
  ProbeConfig &p = cfg.probe;
  if (node["kind"]) {
    p.kind = node["kind"].Scalar();
    if (p.kind != "lm" && p.kind != "fasttext")
      return error_at(src, node["kind"], "probe.kind must be lm or fasttext, not '" + p.kind + "'");
  }
  if (node["model"]) p.model = node["model"].Scalar();
  if (node["suffix"]) p.lm.suffix = node["suffix"].Scalar();
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
      return invalid_argument("policy '" + name + "' routes to model '" + m + "', which " + source +
                              " does not define; add models." + m + ".path to it");
  return &it->second;
}

namespace {

Expected<AioConfig> parse_config(const std::string &path, const YAML::Node &root) {
  const std::string dir = fs::absolute(path).parent_path().string();
  AioConfig cfg;
  cfg.source = path;
  AIO_RETURN_IF_ERROR(yaml::check_keys(path, root, "the config",
                                       {"categories", "entropy_unit", "models", "probe", "policy", "decoding",
                                        "threads", "policies"}));
  if (root["entropy_unit"] && root["entropy_unit"].Scalar() != "bits")
    return error_at(path, root["entropy_unit"],
                    "entropy_unit must be 'bits' (thresholds such as tau are read as Shannon entropy in bits)");
  if (root["categories"]) {
    auto c = yaml::as_string_list(path, root["categories"], "categories");
    if (!c) return c.status();
    if (c->size() < 2) return error_at(path, root["categories"], "'categories' needs at least two entries");
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
  if (cfg.probe.kind == "fasttext" && cfg.probe.fasttext_model.empty())
    return error_at(path, root["probe"], "probe.kind fasttext needs probe.fasttext_model (a path, or builtin)");
  if (Status s = cfg.probe.lm.validate(); !s.ok()) return error_at(path, root["probe"], "probe: " + s.message());
  if (root["decoding"]) AIO_RETURN_IF_ERROR(parse_decoding(path, root["decoding"], cfg));
  if (root["threads"]) {
    auto t = yaml::as_int(path, root["threads"], "threads");
    if (!t) return t.status();
    cfg.threads = static_cast<int32_t>(*t);
  }
  cfg.policies = policy::builtin_policies();
  if (root["policies"]) {
    auto own = policy::parse_policies(root["policies"], path);
    if (!own) return own.status();
    for (auto &[name, p] : *own) cfg.policies[name] = std::move(p);
  }
  if (root["policy"]) cfg.policy = root["policy"].Scalar();
  if (auto p = cfg.find_policy(cfg.policy); !p) return error_at(path, root["policy"] ? root["policy"] : root,
                                                                p.status().message());
  return cfg;
}

} // namespace

Expected<AioConfig> load_config(const std::string &path) {
  auto root = yaml::load_file(path, "config file");
  if (!root) return root.status();
  return yaml::guarded(path, [&] { return parse_config(path, *root); });
}

} // namespace aio::config
