// Router: one request's way through A-IO - probe, policy, then generation on the chosen model's engine with the
// chosen strategy - over models that are all loaded once and stay resident. The server, the CLI and the benchmarks
// all go through submit(): what `aio bench` measures is what `aio serve` runs.
//
// Every local model has one exec::BatchEngine (the only thing that decodes); a Scheduler drives them. The lm probe is
// a job stage on the probe model's engine: its forward pass is batched with everyone's decode tokens, the policy
// decides when its logits arrive, and when the probe's model answers the request stays in that slot with its KV.
// The fastText probe runs on the caller's thread (microseconds). No global lock.
//
// Thread-safety: submit(), route() and generate() may be called from any thread; callbacks run on the caller's
// thread (decisions made at once) or on the scheduler's thread. add_policy() only while no request is in flight.
#pragma once

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "aio/request.h"
#include "aio/route.h"
#include "chat/chat_template.h"
#include "config/config.h"
#include "engine/generation.h"
#include "exec/batch_engine.h"
#include "exec/scheduler.h"
#include "probe/fasttext_probe.h"
#include "probe/lm_probe.h"

namespace aio::core {

struct RouterParams {
  int32_t n_slots = 1;         // sequences each local model decodes together (1: one request at a time)
  size_t queue_capacity = 64;  // waiting requests per model beyond its slots; more are refused (429)
  int32_t n_batch = 512;       // tokens per batched decode step
  // One scheduler thread steps every model's engine in turn (true), or each engine has a thread of its own.
  bool shared_scheduler = true;
  exec::Turns turns = exec::Turns::fair; // the shared scheduler's turn order (exec/scheduler.h)
  Status validate() const;
};

// What a caller hears about one request. on_done is called exactly once, whatever happens (also for a request that
// is refused at once, e.g. an unknown model, and for route_only requests: then with an empty record).
struct Callbacks {
  std::function<void(const RouteRecord &)> on_route;                // the route, before any text
  // For a request in the tool format (chat::needs_tool_format) answered by a local model: how to read the answer
  // (chat::OutputParser), before on_route.
  std::function<void(const chat::OutputFormat &)> on_output_format;
  engine::TokenCallback on_token;                                   // each piece of text; false cancels
  std::function<void(Expected<engine::GenerationRecord>)> on_done;  // the outcome
  // Takes over a request routed to a remote model (config `endpoint:`), after on_route; it then owns on_done.
  // Unset, such a route fails with a clear error (only `aio serve` forwards).
  std::function<void(const RouteRecord &)> forward;
  // For a model with remote replicas beside its local GGUF (a mixed pool): asked once, when the request is routed
  // there, whether it goes to a remote replica (true: `forward` takes it) or runs here. Unset: it runs here.
  std::function<bool(const RouteRecord &)> place_elsewhere;
  bool route_only = false; // decide the route and stop (aio route, probe evaluation)
};

struct RoutedGeneration {
  RouteRecord record;                  // record.generation is set
  engine::GenerationRecord generation; // the text and its tokens
};

class Router {
public:
  // Loads every configured model, its engine and the probe, and starts the scheduler. Errors name the missing file
  // and the config key to fix, or the policy line of a draft pair that cannot work.
  static Expected<std::unique_ptr<Router>> create(config::AioConfig cfg, const RouterParams &params = {});
  ~Router();

  // Routes `request` and generates its answer (asynchronously: the callbacks say what happened).
  void submit(Request request, engine::GenerateParams params, Callbacks callbacks);
  // Probe and policy only: where the request would go and why. Blocks.
  Expected<RouteRecord> route(const Request &request);
  // Probe, policy, then generation: the text and the full route record. Blocks.
  Expected<RoutedGeneration> generate(const Request &request, const engine::GenerateParams &params,
                                      const engine::TokenCallback &on_token = {});
  // Runs a request whose route `record` was already decided on the local engine of record.route.model, without probe
  // or policy: how a mixed pool's local member takes a request back from remote replicas that failed it.
  void submit_routed(Request request, engine::GenerateParams params, RouteRecord record, Callbacks callbacks);
  // Stops taking requests, lets running ones finish within `grace`, ends the rest with an error.
  void stop(std::chrono::milliseconds grace);

  const config::AioConfig &config() const { return cfg_; }
  // Adds (or replaces) a policy requests can name, e.g. the fixed (model, strategy) ones `aio profile` measures.
  // Fails when it routes to a model the config does not have. Only while no request is in flight.
  Status add_policy(policy::Policy policy);
  // Every configured model, local and remote, in name order.
  std::vector<std::string> model_names() const;
  bool is_remote(const std::string &name) const { return remote_.count(name) > 0; }
  bool is_local(const std::string &name) const { return models_.count(name) > 0; }
  // Loaded here and served by remote replicas too (config `endpoints:` with `- local`).
  bool is_mixed(const std::string &name) const {
    auto it = models_.find(name);
    return it != models_.end() && it->second.entry.mixed();
  }
  const engine::Model &model(const std::string &name) const { return *models_.at(name).model; }
  // The loaded model itself, to open more contexts on it without loading it again (benchmarks, tests).
  std::shared_ptr<engine::Model> shared_model(const std::string &name) const { return models_.at(name).model; }
  // Requests decoding / waiting on a local model's engine (for metrics).
  size_t n_active(const std::string &name) const { return models_.at(name).engine->n_active(); }
  size_t n_queued(const std::string &name) const { return models_.at(name).engine->n_queued(); }
  // A local model's load as load-aware policies read it (busy slots, queue, a new request's expected wait for a slot).
  ModelLoad load(const std::string &name) const { return models_.at(name).engine->load(); }

private:
  struct Resident {
    config::ModelEntry entry;
    std::shared_ptr<engine::Model> model;
    std::unique_ptr<exec::BatchEngine> engine;
    std::shared_ptr<const chat::ChatTemplates> chat; // null when the model's template cannot be read (chat_error)
    Status chat_error;
    std::string chat_template; // its source, to tell when two models format a request identically
  };
  // A request's prompt for one model: its tokens, and for a request in the tool format the template's output (the
  // grammar, stops and output format that go with them).
  struct Prompt {
    std::vector<llama_token> tokens;
    std::optional<chat::ChatPrompt> chat;
  };
  struct Pending; // one request between its submission and its hand-off to an engine
  Router() = default;
  Expected<Prompt> prompt_for(const Resident &model, const Request &request) const;
  // Every rule of `policy` can run here: a draft rule's two models local with one vocabulary, a load condition's model
  // local (only a local engine's load is known). An error names the policy line.
  Status check_runs_here(const policy::Policy &policy) const;
  // The probe's reading of a request: as prompt_for, but a request in the tool format that the probe model's template
  // cannot format is read without its tools (the probe senses intent; the answering model must do the tools).
  Expected<Prompt> probe_prompt(const Request &request) const;
  // What the policy reads of a request: its probe result (in p.record), context, label, id, tools, the models' load.
  policy::RouteInput route_input(const Pending &p) const;
  // The route for a request whose probe result (if any) is in p.record; route_ms is timed.
  Status decide(Pending &p) const;
  // The route when no verdict of the probe could change it (then the probe is not run); route_ms is timed.
  std::optional<Route> route_without_probe(Pending &p) const;
  // Hands a routed request to its model: the remote forwarder, or a job on the model's engine. `tokens` are the
  // prompt in the probe model's tokens when already made.
  void dispatch(const std::shared_ptr<Pending> &p, std::optional<Prompt> prompt);
  // Whether a request routed to a mixed pool goes to its remote replicas (asked once; then remembered).
  bool placed_elsewhere(Pending &p) const;
  // How the routed model decodes (the draft model resolved).
  Expected<exec::Decoding> decoding_for(const Route &route) const;
  // submit() on the caller's thread, waiting for the outcome (route() and generate()).
  Expected<RoutedGeneration> run_blocking(const Request &request, const engine::GenerateParams &params,
                                          const engine::TokenCallback &on_token, bool route_only);
  // The probe stage of a request on the probe model's engine (lm probe).
  void submit_probe(const std::shared_ptr<Pending> &p, Prompt prompt);
  // Compiles `c`'s grammar for `model` on the calling thread (a request's, before its job is queued), unless it is
  // compiled already for this grammar and a vocabulary the model shares. A grammar llama.cpp cannot parse: 400.
  static Status prepare_grammar(TokenConstraints &c, const engine::Model &model);

  config::AioConfig cfg_;
  std::map<std::string, Resident> models_;           // local models
  std::map<std::string, config::ModelEntry> remote_; // models behind an endpoint
  std::unique_ptr<probe::LmProbe> lm_probe_;          // probe.kind lm
  std::unique_ptr<probe::FastTextProbe> ft_probe_;    // probe.kind fasttext
  std::vector<std::unique_ptr<exec::Scheduler>> schedulers_;
};

} // namespace aio::core
