#include "core/router.h"

#include <chrono>
#include <filesystem>

#include "decode/strategy.h"
#include "policy/policy_config.h"

namespace aio::core {
namespace {
using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }
} // namespace

Expected<std::unique_ptr<Router>> Router::create(config::AioConfig cfg) {
  std::unique_ptr<Router> r(new Router());
  for (const auto &entry : cfg.models) {
    if (entry.remote()) {
      r->remote_[entry.name] = entry;
      continue;
    }
    if (!std::filesystem::exists(entry.path))
      return not_found("model '" + entry.name + "' (" + entry.path + ") does not exist; set models." + entry.name +
                       ".path in " + cfg.source + " (the shipped config uses the tiny pair that `make demo` makes)");
    auto model = engine::Model::load({.path = entry.path, .n_gpu_layers = entry.n_gpu_layers});
    if (!model) return model.status();
    auto session = engine::Session::create(*model, {.n_ctx = entry.n_ctx, .n_threads = cfg.threads});
    if (!session) return session.status();
    r->models_[entry.name] = {entry, std::move(*model), std::move(*session)};
  }
  if (cfg.probe.kind == "lm") {
    auto probe = probe::LmProbe::create(r->models_.at(cfg.probe.model).model, cfg.probe.lm);
    if (!probe) return probe.status();
    r->lm_probe_ = std::move(*probe);
  } else {
    const std::string path = cfg.probe.fasttext_model == "builtin" ? AIO_DEFAULT_PROBE_PATH : cfg.probe.fasttext_model;
    auto probe = probe::FastTextProbe::load(path, cfg.categories);
    if (!probe) return probe.status();
    r->ft_probe_ = std::move(*probe);
  }
  r->cfg_ = std::move(cfg);
  return r;
}

Status Router::add_policy(policy::Policy policy) {
  const std::string name = policy.name;
  const auto previous = cfg_.policies.find(name);
  std::optional<policy::Policy> old;
  if (previous != cfg_.policies.end()) old = previous->second;
  cfg_.policies[name] = std::move(policy);
  if (auto ok = cfg_.find_policy(name); !ok) {
    if (old) cfg_.policies[name] = *old;
    else cfg_.policies.erase(name);
    return ok.status();
  }
  return {};
}

const engine::Model &Router::model(const std::string &name) const { return *models_.at(name).model; }

Router::Resident *Router::resident(const std::string &name) {
  auto it = models_.find(name);
  return it == models_.end() ? nullptr : &it->second;
}

Expected<std::vector<llama_token>> Router::prompt_tokens(const engine::Model &model, const Request &request) const {
  if (!request.chat) return model.tokenize(request.prompt, /*add_bos=*/true, /*parse_special=*/false);
  auto text = model.apply_chat_template({{"user", request.prompt}});
  if (!text) return text.status();
  return model.tokenize(*text, /*add_bos=*/false, /*parse_special=*/true);
}

Expected<RouteRecord> Router::decide(const Request &request, bool keep_kv, std::vector<llama_token> *probe_tokens) {
  if (request.prompt.empty()) return invalid_argument("the prompt is empty: there is nothing to route");
  if (!request.pinned_model.empty()) return pin(request, probe_tokens);
  auto policy = cfg_.find_policy(request.policy.empty() ? cfg_.policy : request.policy);
  if (!policy) return policy.status();
  RouteRecord rec;
  Resident &probe_model = *resident(cfg_.probe.model);
  const auto t_template = Clock::now();
  auto tokens = prompt_tokens(*probe_model.model, request);
  if (!tokens) return tokens.status();
  const double tokenize_ms = ms_since(t_template);
  if (!policy::uses_probe(**policy)) {
    // The policy never looks at the probe: skip it (a baseline must not pay for what it does not use).
    rec.probe.probe_kind = "none";
    rec.probe.n_context_tokens = static_cast<int32_t>(tokens->size());
  } else if (lm_probe_) {
    auto probed = lm_probe_->classify(*probe_model.session, *tokens, 0, keep_kv);
    if (!probed) return probed.status();
    rec.probe = std::move(*probed);
  } else {
    // fastText reads the user's own words; the context length still counts the prompt the model would see.
    rec.probe = ft_probe_->classify(request.prompt);
    rec.probe.n_context_tokens = static_cast<int32_t>(tokens->size());
  }
  rec.probe.template_ms += tokenize_ms;
  if (probe_tokens) *probe_tokens = std::move(*tokens);

  const auto t_route = Clock::now();
  auto route = policy::decide(**policy, {&rec.probe, rec.probe.n_context_tokens, request.true_label, request.id},
                              cfg_.decoding);
  rec.route_ms = ms_since(t_route);
  if (!route) return route.status();
  rec.route = std::move(*route);
  return rec;
}

Expected<RouteRecord> Router::pin(const Request &request, std::vector<llama_token> *tokens_out) {
  Resident *target = resident(request.pinned_model);
  if (target == nullptr && !is_remote(request.pinned_model)) {
    std::string names;
    for (const auto &name : model_names()) names += (names.empty() ? "" : ", ") + name;
    return invalid_argument("no model named '" + request.pinned_model + "'; configured: " + names + " (or \"aio\" to route)");
  }
  RouteRecord rec;
  rec.probe.probe_kind = "none";
  if (target != nullptr) { // a remote model's tokens are its server's business
    auto tokens = prompt_tokens(*target->model, request);
    if (!tokens) return tokens.status();
    rec.probe.n_context_tokens = static_cast<int32_t>(tokens->size());
    if (tokens_out) *tokens_out = std::move(*tokens);
  }
  rec.route.model = request.pinned_model;
  rec.route.strategy = Strategy::plain;
  rec.route.params = cfg_.decoding;
  rec.route.policy = "pinned";
  rec.route.rule = "pinned";
  rec.route.reason = "the request named model " + request.pinned_model + " (no routing)";
  return rec;
}

Expected<RouteRecord> Router::route(const Request &request, ProbePrefix *prefix) {
  if (prefix == nullptr || !lm_probe_ || !request.pinned_model.empty()) return decide(request, false, nullptr);
  std::vector<llama_token> tokens;
  auto rec = decide(request, /*keep_kv=*/true, &tokens);
  engine::Session &probe_session = *resident(cfg_.probe.model)->session;
  if (rec && rec->route.model == cfg_.probe.model && rec->probe.n_kv_prefix_tokens > 0) {
    prefix->model = cfg_.probe.model;
    tokens.resize(static_cast<size_t>(rec->probe.n_kv_prefix_tokens));
    prefix->tokens = std::move(tokens);
    prefix->state = probe_session.save_sequence(0);
  }
  probe_session.truncate(0);
  return rec;
}

Expected<RoutedGeneration> Router::generate(const Request &request, const engine::GenerateParams &params,
                                            const engine::TokenCallback &on_token) {
  std::vector<llama_token> probe_tokens;
  auto decided = decide(request, /*keep_kv=*/true, &probe_tokens);
  if (!decided) return decided.status();
  RoutedGeneration out;
  out.record = std::move(*decided);
  RouteRecord &rec = out.record;
  if (is_remote(rec.route.model))
    return invalid_argument("the request was routed to model " + rec.route.model + ", which is served remotely (" +
                            remote_.at(rec.route.model).endpoint + "); run `aio serve` to forward requests to it");

  // Both models are resident: "switching" is finding the chosen model's session.
  const auto t_switch = Clock::now();
  Resident *target = resident(rec.route.model);
  Resident *draft = rec.route.strategy == Strategy::draft ? resident(rec.route.draft_model) : nullptr;
  rec.switch_ms = ms_since(t_switch);
  AIO_CHECK(target != nullptr); // find_policy checked every routed model exists

  // The probe's KV is reusable only on the model it ran on (a drafter on that model would overwrite it); a pinned
  // request ran no probe but its prompt is already tokenized for its model.
  const bool pinned = !request.pinned_model.empty();
  const bool reuse = pinned || (rec.route.model == cfg_.probe.model && rec.route.draft_model != cfg_.probe.model);
  std::vector<llama_token> prompt;
  if (reuse) {
    prompt = std::move(probe_tokens);
  } else {
    auto tokens = prompt_tokens(*target->model, request);
    if (!tokens) return tokens.status();
    prompt = std::move(*tokens);
  }
  decode::DecodeTarget where{target->session.get(), draft ? draft->session.get() : nullptr, 0,
                             reuse ? rec.probe.n_kv_prefix_tokens : 0};
  auto gen = decode::run_strategy(rec.route.strategy, rec.route.params, where, prompt, params, on_token);
  if (!gen) return gen.status();
  out.generation = std::move(*gen);
  const auto &g = out.generation;
  rec.prefill_ms = g.prefill_ms;
  rec.decode_ms = g.decode_ms;
  rec.n_prompt_tokens = g.n_prompt_tokens;
  rec.n_prefill_tokens_saved = g.n_prefill_tokens_saved;
  rec.n_generated = g.n_generated;
  rec.n_drafted = g.n_drafted;
  rec.n_accepted = g.n_accepted;
  rec.finish_reason = engine::finish_reason_name(g.finish_reason);
  return out;
}

} // namespace aio::core
