#include "core/router.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>

#include "backend/pool_backend.h"
#include "policy/policy_config.h"
#include "util/data_dir.h"

namespace aio::core {
namespace {
using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

// Waits for one request's callbacks (route() and generate() block on the scheduler's work).
class Waiter {
public:
  void set(Expected<engine::GenerationRecord> result) {
    {
      std::lock_guard lock(mu_);
      result_ = std::move(result);
    }
    cv_.notify_all();
  }
  Expected<engine::GenerationRecord> wait() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return result_.has_value(); });
    return std::move(*result_);
  }

private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<Expected<engine::GenerationRecord>> result_;
};

// Takes a probe's verdict into the record, keeping what the Router measured before it ran: the tokenizing time (added
// to the probe's own) and the context length in the probe model's tokens.
void adopt_probe(RouteRecord &rec, ProbeResult verdict) {
  verdict.template_ms += rec.probe.template_ms;
  verdict.n_context_tokens = rec.probe.n_context_tokens;
  rec.probe = std::move(verdict);
}

} // namespace

struct Router::Pending {
  Request request;
  GenerateParams params;
  Callbacks cb;
  RouteRecord record;
  const policy::Policy *policy = nullptr; // null when pinned
  // What the lm probe's model needs to answer in the probe's slot, kept from the probe's prompt.
  struct InPlace {
    bool formatted = true;                          // the probe read the request in the tool format it needs
    std::optional<chat::OutputFormat> output_format; // a tool request's: how to read the answer
    bool chat_grammar = false;                      // the tool format constrains the answer
    bool windowed = false;                          // the probe read a window of it: no answering in place
    std::shared_ptr<const backend::Prompt> prompt;  // the whole prompt, for the model it is released to
  } in_place;
  void fail(const Status &s) {
    if (cb.on_done) cb.on_done(s);
  }
};

Status RouterParams::validate() const {
  if (n_slots < 1) return invalid_argument("n_slots must be at least 1");
  if (n_batch < 1) return invalid_argument("n_batch must be at least 1"); // each engine raises it to its sequences
  return {};
}

Expected<std::unique_ptr<Router>> Router::create(config::AioConfig cfg, const RouterParams &params) {
  AIO_RETURN_IF_ERROR(params.validate());
  auto budget = exec::StepBudgetParams::parse(cfg.step_budget, cfg.step_factor);
  if (!budget) return invalid_argument(cfg.source + ": step_budget / step_factor: " + budget.status().message());
  static_assert(config::AioConfig::kMaxStallAuto == exec::StepBudgetParams::kStallAuto, "one meaning of 'auto'");
  budget->max_stall_ms = cfg.max_stall_ms;
  if (Status st = budget->validate(); !st.ok()) return invalid_argument(cfg.source + ": max_stall_ms: " + st.message());
  const exec::StepBudgetParams step_budget = *budget;
  std::unique_ptr<Router> r(new Router());
  for (const auto &entry : cfg.models) {
    const int32_t slots = entry.slots > 0 ? entry.slots : params.n_slots; // the model's own, else the server's
    std::unique_ptr<backend::LocalBackend> local;
    if (!entry.path.empty()) {
      exec::BatchEngineParams bp;
      bp.n_slots = slots;
      bp.n_ctx_per_slot = entry.n_ctx;
      using FA = config::ModelEntry::FlashAttention;
      bp.flash_attn = entry.flash_attn == FA::on    ? LLAMA_FLASH_ATTN_TYPE_ENABLED
                      : entry.flash_attn == FA::off ? LLAMA_FLASH_ATTN_TYPE_DISABLED
                                                    : LLAMA_FLASH_ATTN_TYPE_AUTO;
      bp.kv_unified = entry.kv_cache == config::ModelEntry::KvCache::unified;
      if (cfg.probe.runs_lm() && cfg.probe.model == entry.name) bp.probe_lanes = cfg.probe.lm.lanes;
      // A step must hold every sequence's next token: each slot's and each probe lane's.
      bp.n_batch = std::max(params.n_batch, bp.n_slots + bp.probe_lanes);
      bp.step_budget = step_budget;
      bp.n_threads = cfg.threads;
      bp.queue_capacity = params.queue_capacity;
      auto made = backend::LocalBackend::create(entry, bp, cfg.source);
      if (!made) return made.status();
      local = std::move(*made);
      r->local_[entry.name] = local.get();
    }
    if (entry.replicas.empty()) {
      r->backends_[entry.name] = std::move(local);
      continue;
    }
    // A pool forwards up to `slots` requests per remote replica at once (a mixed pool's local member has its engine).
    const auto n_remote = std::count_if(entry.replicas.begin(), entry.replicas.end(),
                                        [](const config::Replica &rep) { return !rep.local; });
    const backend::PoolParams pool{.n_workers = slots * static_cast<int32_t>(n_remote),
                                   .queue_capacity = params.queue_capacity,
                                   .metrics = params.metrics,
                                   .max_line_bytes = params.max_upstream_line};
    r->backends_[entry.name] = std::make_unique<backend::PoolBackend>(entry, std::move(local), pool);
  }
  if (cfg.probe.runs_lm()) {
    auto probe = probe::LmProbe::create(r->local_.at(cfg.probe.model)->shared_model(), cfg.probe.lm);
    if (!probe) return probe.status();
    r->lm_probe_ = std::move(*probe);
  }
  if (cfg.probe.runs_fasttext()) {
    std::string path = cfg.probe.fasttext_model;
    if (path == "builtin") {
      auto builtin = builtin_probe_path();
      if (!builtin) return builtin.status();
      path = std::move(*builtin);
    }
    auto probe = probe::FastTextProbe::load(path, cfg.categories);
    if (!probe) return probe.status();
    r->ft_probe_ = std::move(*probe);
  }
  // The serving policy's draft pairs must work: a pair that cannot (a remote model, different vocabularies) fails at
  // start, naming the policy line, not on the first request routed there.
  auto serving = cfg.find_policy(cfg.policy);
  if (!serving) return serving.status();
  AIO_RETURN_IF_ERROR(r->check_runs_here(**serving));
  r->cfg_ = std::move(cfg);
  std::vector<exec::BatchEngine *> engines;
  std::vector<std::string> names; // engines[i] is model names[i]'s
  for (auto &[name, local] : r->local_) {
    engines.push_back(&local->engine());
    names.push_back(name);
  }
  // A step observer tells the step's model by name; a scheduler knows only its engines' indices.
  const auto observer = [&params](std::vector<std::string> model) -> exec::StepObserver {
    if (!params.on_step) return {};
    return [on_step = params.on_step, model = std::move(model)](const exec::StepEvent &e) {
      on_step(model[e.engine], e);
    };
  };
  if (params.shared_scheduler) {
    r->schedulers_.push_back(std::make_unique<exec::Scheduler>(engines, params.turns, observer(names)));
  } else {
    for (size_t i = 0; i < engines.size(); ++i)
      r->schedulers_.push_back(
          std::make_unique<exec::Scheduler>(std::vector{engines[i]}, exec::Turns::first, observer({names[i]})));
  }
  return r;
}

Router::~Router() { stop(std::chrono::milliseconds(0)); }

void Router::stop(std::chrono::milliseconds grace) {
  // Closing every engine first: a probe verdict cannot hand a request to an engine that is about to stop.
  std::vector<std::thread> stoppers;
  for (auto &s : schedulers_) stoppers.emplace_back([&s, grace] { s->stop(grace); });
  for (auto &t : stoppers) t.join();
  for (auto &[_, b] : backends_) b->stop(grace); // remote pools: forwarded requests finish within the grace too
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

Status Router::check_runs_here(const policy::Policy &policy) const {
  for (const policy::Rule &rule : policy.rules) {
    const std::string where = "policy " + policy.name + " (line " + std::to_string(rule.line) + "): ";
    if (rule.when.load && !is_local(rule.when.load->model))
      return invalid_argument(where + "the rule reads the load of model " + rule.when.load->model +
                              ", which is not loaded here (a remote endpoint's queue is not known); read a local "
                              "model's load");
    if (rule.strategy != Strategy::draft) continue;
    if (is_remote(rule.model) || is_remote(rule.draft_model))
      return invalid_argument(where + "draft-model speculation needs both models local, but " +
                              (is_remote(rule.model) ? rule.model : rule.draft_model) +
                              " is a remote endpoint; use strategy plain or pld for it");
    std::string why;
    if (!model(rule.model).shares_vocab_with(model(rule.draft_model), &why))
      return invalid_argument(where + "model " + rule.draft_model + " cannot draft for " + rule.model +
                              ": their vocabularies differ (" + why +
                              "); speculative decoding needs two models with the same tokenizer");
  }
  return {};
}

std::vector<std::string> Router::model_names() const {
  std::vector<std::string> names;
  for (const auto &m : cfg_.models) names.push_back(m.name);
  std::sort(names.begin(), names.end());
  return names;
}

Expected<backend::Prompt> Router::probe_prompt(const Request &request) const {
  const backend::LocalBackend &probe_model = probe_backend();
  auto prompt = probe_model.prompt_for(request);
  if (prompt || !chat::needs_tool_format(request)) return prompt;
  Request plain = request;
  plain.tools.clear();
  std::erase_if(plain.messages, [](const Message &m) { return m.role == "tool" || m.content.empty(); });
  if (plain.messages.empty()) return prompt;
  return probe_model.prompt_for(plain);
}

policy::RouteInput Router::route_input(const Pending &p) const {
  // The wait for this request's first token: a slot, then its prompt's prefill.
  auto load = [this, tokens = p.record.probe.n_context_tokens](const std::string &name) -> std::optional<ModelLoad> {
    const auto it = local_.find(name);
    if (it == local_.end()) return std::nullopt;
    return it->second->load(tokens);
  };
  return {&p.record.probe, p.record.probe.n_context_tokens, p.request.true_label, p.request.id, p.request.has_tools(),
          load};
}

std::optional<Route> Router::route_without_probe(Pending &p) const {
  const auto t_route = Clock::now();
  auto route = policy::decide_without_probe(*p.policy, route_input(p), cfg_.categories, cfg_.decoding);
  p.record.route_ms = ms_since(t_route);
  return route;
}

Status Router::decide(Pending &p) const {
  RouteRecord &rec = p.record;
  const auto t_route = Clock::now();
  auto route = policy::decide(*p.policy, route_input(p), cfg_.decoding);
  rec.route_ms = ms_since(t_route);
  if (!route) return route.status();
  rec.route = std::move(*route);
  return {};
}

void Router::submit(Request request, GenerateParams params, Callbacks callbacks) {
  auto p = std::make_shared<Pending>();
  p->request = std::move(request);
  p->params = std::move(params);
  p->cb = std::move(callbacks);
  const Request &req = p->request;
  RouteRecord &rec = p->record;
  if (req.empty()) return p->fail(invalid_argument("the prompt is empty: there is nothing to route"));
  // A grammar does not change the route (any model's output is valid under it); the record says it was applied.
  rec.grammar = !p->params.constraints.grammar.empty();
  if (req.true_label) {
    if (std::find(cfg_.categories.begin(), cfg_.categories.end(), *req.true_label) == cfg_.categories.end()) {
      std::string names;
      for (const auto &c : cfg_.categories) names += (names.empty() ? "" : ", ") + c;
      return p->fail(invalid_argument("the label '" + *req.true_label + "' is not a category of this config (" +
                                      names + ")"));
    }
    rec.true_label = *req.true_label;
  }

  if (!req.pinned_model.empty()) {
    // A request that named its model: no probe, no policy.
    if (!backends_.count(req.pinned_model)) {
      std::string names;
      for (const auto &name : model_names()) names += (names.empty() ? "" : ", ") + name;
      return p->fail(not_found("no model named '" + req.pinned_model + "'; configured: " + names +
                               " (or \"aio\" to route)"));
    }
    rec.probe.probe_kind = "none";
    rec.route = {.model = req.pinned_model, .strategy = Strategy::plain, .params = cfg_.decoding,
                 .draft_model = "", .policy = "pinned", .rule = "pinned",
                 .reason = "the request named model " + req.pinned_model + " (no routing)", .load_model = "",
                 .load = std::nullopt};
    return dispatch(p, std::nullopt);
  }

  auto policy = cfg_.find_policy(req.policy.empty() ? cfg_.policy : req.policy);
  if (!policy) return p->fail(policy.status());
  // Another policy than the serving one (checked at start) is checked when a request names it.
  if (!req.policy.empty() && req.policy != cfg_.policy)
    if (Status st = check_runs_here(**policy); !st.ok()) return p->fail(st);
  p->policy = *policy;
  // The probe reads the request as the probe model would see it; the context length the policy reads is its length.
  const auto t_template = Clock::now();
  auto prompt = probe_prompt(req);
  if (!prompt) return p->fail(prompt.status());
  rec.probe.template_ms = ms_since(t_template);
  rec.probe.n_context_tokens = static_cast<int32_t>(prompt->tokens.size());

  if (!policy::uses_probe(**policy) && !req.shadow_probe) {
    rec.probe.probe_kind = "none"; // a baseline must not pay for a probe it does not read
  } else if (auto decided = req.shadow_probe ? std::nullopt : route_without_probe(*p)) {
    rec.probe.probe_kind = "none"; // nothing the probe could say would change the route
    rec.route = std::move(*decided);
    return dispatch(p, std::move(*prompt));
  } else {
    // The fastText probe, when configured, reads first. The lm probe reads when it is the only probe or, in a
    // cascade, when fastText was unsure; its verdict then replaces fastText's, and the record shows its kind.
    if (ft_probe_) adopt_probe(rec, ft_probe_->classify(req.probe_text()));
    if (lm_probe_ && (!ft_probe_ || rec.probe.entropy_bits > cfg_.probe.escalate_entropy_gt))
      return submit_probe(p, std::move(*prompt));
  }
  if (Status st = decide(*p); !st.ok()) return p->fail(st);
  dispatch(p, std::move(*prompt));
}

void Router::submit_probe(const std::shared_ptr<Pending> &p, backend::Prompt prompt) {
  backend::LocalBackend &probe_model = probe_backend();
  exec::Job job;
  // Whoever answers a request the probe releases gets its whole prompt as made here (another model of the same
  // family reuses it; backend::LocalBackend::same_prompts_as). A request longer than the probe's budget is read as its
  // head and tail: that job cannot go on in place (its KV is the window's), and the probe's model answering it reuses
  // the head its slot cached.
  p->in_place.prompt = std::make_shared<const backend::Prompt>(prompt);
  if (auto window = lm_probe_->read_window(prompt.tokens)) {
    job.prompt = std::move(*window);
    p->in_place.windowed = true;
  } else {
    job.prompt = std::move(prompt.tokens);
  }
  job.params = p->params;
  // Should the probe's model answer, it goes on from this prompt: the tool format's constraints apply from the start.
  if (prompt.chat) {
    if (Status st = backend::LocalBackend::apply_chat_prompt(*prompt.chat, job.params); !st.ok()) return p->fail(st);
  }
  // The grammar is compiled here, on the request's thread, whoever answers: the probe's model in this slot, or one
  // with the same vocabulary (its backend reuses it when the grammar is the same).
  if (Status st = backend::LocalBackend::prepare_grammar(job.params.constraints, probe_model.model()); !st.ok())
    return p->fail(st);
  p->params.constraints.prepared = job.params.constraints.prepared;
  p->in_place.formatted = !chat::needs_tool_format(p->request) || prompt.chat;
  if (prompt.chat) p->in_place.output_format = prompt.chat->output;
  p->in_place.chat_grammar = prompt.chat && !prompt.chat->grammar.empty();
  job.probe = exec::ProbeStage{lm_probe_->suffix_tokens(),
                               [this, p](const float *logits, double wait_ms, double probe_ms) {
                                 return on_probe_logits(p, logits, wait_ms, probe_ms);
                               }};
  job.on_token = p->cb.on_token;
  // Read when the request ends, not now: a pool that takes it in place wraps on_done with its own accounting.
  job.on_done = [p](Expected<engine::GenerationRecord> result) {
    if (p->cb.on_done) p->cb.on_done(std::move(result));
  };
  if (!probe_model.engine().submit(std::move(job))) p->fail(probe_model.refusal());
}

exec::ProbeVerdict Router::on_probe_logits(const std::shared_ptr<Pending> &p, const float *logits, double wait_ms,
                                           double probe_ms) {
  RouteRecord &rec = p->record;
  adopt_probe(rec, lm_probe_->read(logits));
  rec.probe.wait_ms = wait_ms;
  rec.probe.probe_ms = probe_ms;
  exec::ProbeVerdict v;
  if (Status st = decide(*p); !st.ok()) {
    v.error = st;
    return v;
  }
  if (p->cb.route_only || rec.route.model != cfg_.probe.model || p->in_place.windowed ||
      !backends_.at(rec.route.model)->takes_in_place(p->request, probe_backend(), p->cb)) {
    // On the engine thread: another engine's queue, or a pool's, is thread-safe.
    dispatch(p, *p->in_place.prompt);
    return v; // released: this engine forgets the job (its KV stays cached)
  }
  // The probe's model answers: the request goes on in this slot, its prompt's KV in place.
  if (!p->in_place.formatted) {
    // The probe read the request without its tools because this model's template cannot do them.
    v.error = probe_backend().prompt_for(p->request).status();
    return v;
  }
  auto draft = draft_model_for(rec.route);
  if (!draft) {
    v.error = draft.status();
    return v;
  }
  if (p->in_place.output_format && p->cb.on_output_format) p->cb.on_output_format(*p->in_place.output_format);
  if (p->in_place.chat_grammar) rec.grammar = true;
  if (p->cb.on_route) p->cb.on_route(rec);
  v.next = exec::ProbeVerdict::Next::generate_here;
  v.decoding = {rec.route.strategy, rec.route.params, std::move(*draft)};
  return v;
}

Expected<std::shared_ptr<const engine::Model>> Router::draft_model_for(const Route &route) const {
  if (route.strategy != Strategy::draft || is_remote(route.model)) return std::shared_ptr<const engine::Model>();
  auto it = local_.find(route.draft_model);
  if (it == local_.end())
    return invalid_argument("the route drafts with model '" + route.draft_model +
                            "', which is not a local model; draft-model speculation needs both models local");
  return std::shared_ptr<const engine::Model>(it->second->shared_model());
}

void Router::dispatch(const std::shared_ptr<Pending> &p, std::optional<backend::Prompt> prompt) {
  if (p->cb.route_only) {
    if (p->cb.on_route) p->cb.on_route(p->record);
    if (p->cb.on_done) p->cb.on_done(engine::GenerationRecord{});
    return;
  }
  auto draft = draft_model_for(p->record.route);
  if (!draft) return p->fail(draft.status());
  backend::Job job;
  job.request = std::move(p->request);
  job.params = std::move(p->params);
  job.record = std::move(p->record);
  job.prompt_by = prompt ? &probe_backend() : nullptr;
  job.prompt = std::move(prompt);
  job.draft_model = std::move(*draft);
  job.cb = std::move(p->cb);
  backends_.at(job.record.route.model)->submit(std::move(job));
}

Expected<RoutedGeneration> Router::run_blocking(const Request &request, const GenerateParams &params,
                                                const engine::TokenCallback &on_token, bool route_only) {
  auto waiter = std::make_shared<Waiter>();
  auto record = std::make_shared<RouteRecord>();
  Callbacks cb;
  cb.route_only = route_only;
  cb.on_route = [record](const RouteRecord &r) { *record = r; };
  cb.on_token = on_token;
  cb.on_done = [waiter](Expected<engine::GenerationRecord> r) { waiter->set(std::move(r)); };
  submit(request, params, std::move(cb));
  auto done = waiter->wait();
  if (!done) return done.status();
  RoutedGeneration out{*record, std::move(*done)};
  if (!route_only) out.record.generation = out.generation;
  return out;
}

Expected<RouteRecord> Router::route(const Request &request) {
  auto routed = run_blocking(request, {}, {}, /*route_only=*/true);
  if (!routed) return routed.status();
  return std::move(routed->record);
}

Expected<RoutedGeneration> Router::generate(const Request &request, const GenerateParams &params,
                                            const engine::TokenCallback &on_token) {
  return run_blocking(request, params, on_token, /*route_only=*/false);
}

} // namespace aio::core
