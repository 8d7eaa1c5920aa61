// Router: one request's way through A-IO - probe, policy, then generation on the chosen model's engine with the
// chosen strategy - over models that are all loaded once and stay resident. The server, the CLI and the benchmarks
// all go through submit(): what `aio bench` measures is what `aio serve` runs.
//
// Each configured model is one backend::Backend: a local engine, a pool of remote replicas, or a mixed pool of both;
// where a routed request runs within a pool is the pool's business. Every local model has one exec::BatchEngine (the
// only thing that decodes); a Scheduler drives them. The lm probe is
// a job stage on the probe model's engine: its forward pass is batched with everyone's decode tokens, the policy
// decides when its logits arrive, and when the probe's model answers the request stays in that slot with its KV.
// The fastText probe runs on the caller's thread (microseconds). No global lock.
//
// Thread-safety: submit(), route() and generate() may be called from any thread; callbacks run on the caller's
// thread (decisions made at once) or on the scheduler's thread. add_policy() only while no request is in flight.
#pragma once

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "aio/request.h"
#include "aio/route.h"
#include "backend/backend.h"
#include "backend/local_backend.h"
#include "config/config.h"
#include "engine/generation.h"
#include "exec/batch_engine.h"
#include "exec/scheduler.h"
#include "observe/metrics.h"
#include "probe/fasttext_probe.h"
#include "probe/lm_probe.h"

namespace aio::core {

struct RouterParams {
  int32_t n_slots = 1;         // sequences each local model decodes together, unless it has its own `slots`
  size_t queue_capacity = 64;  // waiting requests per model beyond its slots; more are refused (429)
  int32_t n_batch = 512;       // tokens per batched decode step
  // One scheduler thread steps every model's engine in turn (true), or each engine has a thread of its own.
  bool shared_scheduler = true;
  exec::Turns turns = exec::Turns::first; // the shared scheduler's turn order (exec/scheduler.h)
  // Hears every step of every local model's engine, with the model's name (a step trace: observe/step_trace.h); on a
  // scheduler's thread, so it must be quick and, with one scheduler per engine, thread-safe.
  std::function<void(const std::string &model, const exec::StepEvent &)> on_step;
  // Remote replicas: a pool forwards up to n_slots (or the model's own slots) requests per replica at once; a
  // replica's event-stream line is held up to max_upstream_line bytes; the pools' per-replica series go to `metrics`
  // (may be null).
  size_t max_upstream_line = size_t{4} << 20;
  observe::Metrics *metrics = nullptr;
  Status validate() const;
};

// What a caller hears about one request (backend::Callbacks). on_done is called exactly once, whatever happens (also
// for a request that is refused at once, e.g. an unknown model, and for route_only requests: then with an empty
// record).
struct Callbacks : backend::Callbacks {
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
  void submit(Request request, GenerateParams params, Callbacks callbacks);
  // Probe and policy only: where the request would go and why. Blocks.
  Expected<RouteRecord> route(const Request &request);
  // Probe, policy, then generation: the text and the full route record. Blocks.
  Expected<RoutedGeneration> generate(const Request &request, const GenerateParams &params,
                                      const engine::TokenCallback &on_token = {});
  // Stops taking requests, lets running ones finish within `grace`, ends the rest with an error.
  void stop(std::chrono::milliseconds grace);

  const config::AioConfig &config() const { return cfg_; }
  // Adds (or replaces) a policy requests can name, e.g. the fixed (model, strategy) ones `aio profile` measures.
  // Fails when it routes to a model the config does not have. Only while no request is in flight.
  Status add_policy(policy::Policy policy);
  // Every configured model, local and remote, in name order.
  std::vector<std::string> model_names() const;
  // Served only by remote replicas (no local engine).
  bool is_remote(const std::string &name) const {
    auto it = backends_.find(name);
    return it != backends_.end() && !it->second->local();
  }
  // Loaded here (alone, or as a mixed pool's local member).
  bool is_local(const std::string &name) const { return local_.count(name) > 0; }
  // Loaded here and served by remote replicas too (config `endpoints:` with `- local`).
  bool is_mixed(const std::string &name) const { return is_local(name) && backends_.at(name)->remote(); }
  // Where a model's requests run (its engine, its pool), for load, gauges and the replicas' health.
  const backend::Backend &backend(const std::string &name) const { return *backends_.at(name); }
  const engine::Model &model(const std::string &name) const { return local_.at(name)->model(); }
  // The loaded model itself, to open more contexts on it without loading it again (benchmarks, tests).
  std::shared_ptr<engine::Model> shared_model(const std::string &name) const { return local_.at(name)->shared_model(); }
  // Requests running / waiting for a model, here and on its remote replicas (for metrics).
  size_t n_active(const std::string &name) const { return backends_.at(name)->n_active(); }
  size_t n_queued(const std::string &name) const { return backends_.at(name)->n_queued(); }
  size_t n_slots(const std::string &name) const { return backends_.at(name)->n_slots(); }
  // A local model's load as load-aware policies read it (busy slots, queue, a new request's expected wait for a slot).
  ModelLoad load(const std::string &name) const { return local_.at(name)->load(); }

private:
  struct Pending; // one request between its submission and its hand-off to a backend
  Router() = default;
  // Every rule of `policy` can run here: a draft rule's two models local with one vocabulary, a load condition's model
  // local (only a local engine's load is known). An error names the policy line.
  Status check_runs_here(const policy::Policy &policy) const;
  // The probe's reading of a request: as the probe model's prompt_for, but a request in the tool format that its
  // template cannot format is read without its tools (the probe senses intent; the answering model must do the tools).
  Expected<backend::Prompt> probe_prompt(const Request &request) const;
  // What the policy reads of a request: its probe result (in p.record), context, label, id, tools, the models' load.
  policy::RouteInput route_input(const Pending &p) const;
  // The route for a request whose probe result (if any) is in p.record; route_ms is timed.
  Status decide(Pending &p) const;
  // The route when no verdict of the probe could change it (then the probe is not run); route_ms is timed.
  std::optional<Route> route_without_probe(Pending &p) const;
  // Hands a routed request to its model's backend. `prompt`: the prompt in the probe model's tokens when made already.
  void dispatch(const std::shared_ptr<Pending> &p, std::optional<backend::Prompt> prompt);
  // submit() on the caller's thread, waiting for the outcome (route() and generate()).
  Expected<RoutedGeneration> run_blocking(const Request &request, const GenerateParams &params,
                                          const engine::TokenCallback &on_token, bool route_only);
  // The probe stage of a request on the probe model's engine (lm probe).
  void submit_probe(const std::shared_ptr<Pending> &p, backend::Prompt prompt);
  // The decision when the lm probe's logits arrive (on the probe model's engine thread).
  exec::ProbeVerdict on_probe_logits(const std::shared_ptr<Pending> &p, const float *logits, double wait_ms,
                                     double probe_ms);
  // The local model that drafts for a route with strategy draft (null for any other route, or a remote model).
  Expected<std::shared_ptr<const engine::Model>> draft_model_for(const Route &route) const;
  backend::LocalBackend &probe_backend() const { return *local_.at(cfg_.probe.model); }

  config::AioConfig cfg_;
  std::map<std::string, std::unique_ptr<backend::Backend>> backends_; // every configured model
  std::map<std::string, backend::LocalBackend *> local_;              // the models loaded here (owned by backends_)
  std::unique_ptr<probe::LmProbe> lm_probe_;          // probe.kind lm or cascade
  std::unique_ptr<probe::FastTextProbe> ft_probe_;    // probe.kind fasttext or cascade
  std::vector<std::unique_ptr<exec::Scheduler>> schedulers_; // after backends_: stopped and destroyed before them
};

} // namespace aio::core
