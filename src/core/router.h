// Router: one request's way through A-IO - probe, policy, then generation with the chosen model and strategy - over
// models that are all loaded once and stay resident. Not thread-safe (the server adds scheduling on top).
#pragma once

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "aio/route.h"
#include "config/config.h"
#include "engine/generator.h"
#include "probe/fasttext_probe.h"
#include "probe/lm_probe.h"

namespace aio::core {

struct Request {
  std::string prompt;                    // the user's text
  bool chat = false;                     // wrap it as a user message in each model's chat template
  std::string policy;                    // "" = the config's default policy
  std::string pinned_model;              // a configured model's name: serve it there, plain decoding, no probe
  std::optional<std::string> true_label; // known category (workloads only; the oracle policy routes on it)
  uint64_t id = 0;                       // seeds per-request random choices (the random baseline)
};

// The request's prompt as the lm probe left it in the probe model's KV cache, copied out so a server engine (another
// context on the same model) can start from it instead of prefilling the prompt again.
struct ProbePrefix {
  std::string model;                 // the probe's model: the state only loads into a session of it
  std::vector<llama_token> tokens;   // the prompt tokens whose KV the state holds
  std::vector<uint8_t> state;        // Session::save_sequence bytes
};

struct RoutedGeneration {
  RouteRecord record;
  engine::GenerationRecord generation;
};

class Router {
public:
  // Loads every configured model (each gets its own session) and the probe. Errors name the missing file and the
  // config key to fix.
  static Expected<std::unique_ptr<Router>> create(config::AioConfig cfg);

  // Probe and policy only: where the request would go and why. With `prefix`, when the lm probe ran and the route
  // is to the probe's model, the request's KV is copied into *prefix (left empty otherwise).
  Expected<RouteRecord> route(const Request &request, ProbePrefix *prefix = nullptr);
  // Probe, policy, then generation: the text and the full route record.
  Expected<RoutedGeneration> generate(const Request &request, const engine::GenerateParams &params,
                                      const engine::TokenCallback &on_token = {});

  const config::AioConfig &config() const { return cfg_; }
  // Adds (or replaces) a policy requests can name, e.g. the fixed (model, strategy) ones `aio profile` measures.
  // Fails when it routes to a model the config does not have.
  Status add_policy(policy::Policy policy);
  // The request's prompt in `model`'s tokens (through its chat template when request.chat).
  Expected<std::vector<llama_token>> tokenize_for(const std::string &model, const Request &request) const {
    return prompt_tokens(*models_.at(model).model, request);
  }
  // Every configured model, local and remote, in name order.
  std::vector<std::string> model_names() const {
    std::vector<std::string> names;
    for (const auto &m : cfg_.models) names.push_back(m.name);
    std::sort(names.begin(), names.end());
    return names;
  }
  // A model served by a remote endpoint (config `endpoint:`): routed to here, forwarded by the server.
  bool is_remote(const std::string &name) const { return remote_.count(name) > 0; }
  const engine::Model &model(const std::string &name) const;
  // The loaded model itself, to open more sessions on it without loading it again.
  std::shared_ptr<engine::Model> shared_model(const std::string &name) const { return models_.at(name).model; }

private:
  struct Resident {
    config::ModelEntry entry;
    std::shared_ptr<engine::Model> model;
    std::unique_ptr<engine::Session> session;
  };
  Router() = default;
  Resident *resident(const std::string &name);
  Expected<std::vector<llama_token>> prompt_tokens(const engine::Model &model, const Request &request) const;
  // A request that named its model: no probe, no policy.
  Expected<RouteRecord> pin(const Request &request, std::vector<llama_token> *tokens_out);
  // Runs the probe and the policy. *probe_tokens gets the prompt in the probe model's tokens (whose KV the lm probe
  // kept when keep_kv).
  Expected<RouteRecord> decide(const Request &request, bool keep_kv, std::vector<llama_token> *probe_tokens);

  config::AioConfig cfg_;
  std::map<std::string, Resident> models_;          // local models, loaded
  std::map<std::string, config::ModelEntry> remote_; // remote models
  std::unique_ptr<probe::LmProbe> lm_probe_;         // probe.kind lm
  std::unique_ptr<probe::FastTextProbe> ft_probe_;   // probe.kind fasttext
};

} // namespace aio::core
