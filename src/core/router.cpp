#include "core/router.h"

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>

#include "policy/policy_config.h"

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

// Why an engine refused a job: it is shutting down (503), or its queue is full (429, retry shortly).
Status refusal(const exec::BatchEngine &engine, const std::string &model) {
  if (engine.closed()) return aborted("the server is shutting down; model " + model + " takes no new requests");
  return resource_exhausted("model " + model + " is at capacity (" + std::to_string(engine.n_queued()) +
                            " requests waiting); retry shortly");
}

// Takes a probe's verdict into the record, keeping what the Router measured before it ran: the tokenizing time (added
// to the probe's own) and the context length in the probe model's tokens.
void adopt_probe(RouteRecord &rec, ProbeResult verdict) {
  verdict.template_ms += rec.probe.template_ms;
  verdict.n_context_tokens = rec.probe.n_context_tokens;
  rec.probe = std::move(verdict);
}

// What the tool format asks of the generation: its grammar (lazy when the model may answer in text), the stop strings
// it adds, the special tokens its output must keep.
Status apply_chat_prompt(const chat::ChatPrompt &chat, engine::GenerateParams &params) {
  if (!chat.grammar.empty()) {
    if (!params.constraints.grammar.empty())
      return invalid_argument("a request with tools cannot also constrain the output with response_format; drop one");
    params.constraints.grammar = chat.grammar;
    params.constraints.grammar_lazy = chat.grammar_lazy;
    params.constraints.grammar_trigger_patterns = chat.trigger_patterns;
    params.constraints.grammar_trigger_tokens = chat.trigger_tokens;
    params.constraints.grammar_prefill = chat.grammar_prefill;
  }
  params.stop.insert(params.stop.end(), chat.stops.begin(), chat.stops.end());
  params.shown_special_tokens = chat.preserved_tokens;
  return {};
}

} // namespace

struct Router::Pending {
  Request request;
  engine::GenerateParams params;
  Callbacks cb;
  RouteRecord record;
  const policy::Policy *policy = nullptr; // null when pinned
  std::optional<bool> elsewhere;          // a mixed pool's placement, once asked (placed_elsewhere)
  void fail(const Status &s) {
    if (cb.on_done) cb.on_done(s);
  }
};

Status RouterParams::validate() const {
  if (n_slots < 1) return invalid_argument("n_slots must be at least 1");
  if (n_batch < n_slots) return invalid_argument("n_batch must be at least n_slots");
  return {};
}

Expected<std::unique_ptr<Router>> Router::create(config::AioConfig cfg, const RouterParams &params) {
  AIO_RETURN_IF_ERROR(params.validate());
  auto budget = exec::StepBudgetParams::parse(cfg.step_budget, cfg.step_factor);
  if (!budget) return invalid_argument(cfg.source + ": step_budget / step_factor: " + budget.status().message());
  const exec::StepBudgetParams step_budget = *budget;
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
    exec::BatchEngineParams bp;
    bp.n_slots = params.n_slots;
    bp.n_ctx_per_slot = entry.n_ctx;
    bp.n_batch = params.n_batch;
    bp.step_budget = step_budget;
    bp.n_threads = cfg.threads;
    bp.queue_capacity = params.queue_capacity;
    if (cfg.probe.kind == "lm" && cfg.probe.model == entry.name) bp.probe_lanes = cfg.probe.lm.lanes;
    auto engine = exec::BatchEngine::create(*model, bp);
    if (!engine) return engine.status();
    Resident resident{entry, std::move(*model), std::move(*engine), nullptr, {}, {}};
    if (resident.model->info().has_chat_template) {
      resident.chat_template = resident.model->metadata("tokenizer.chat_template");
      // Read once: requests with tools are formatted by llama.cpp's common chat code over this template.
      auto templates = chat::ChatTemplates::create(resident.model->raw(), entry.name);
      if (templates) resident.chat = std::move(*templates);
      else resident.chat_error = templates.status();
    } else {
      resident.chat_error = invalid_argument(entry.name + " has no chat template in its metadata; send a plain prompt "
                                                          "instead of chat messages");
    }
    r->models_[entry.name] = std::move(resident);
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
  // The serving policy's draft pairs must work: a pair that cannot (a remote model, different vocabularies) fails at
  // start, naming the policy line, not on the first request routed there.
  auto serving = cfg.find_policy(cfg.policy);
  if (!serving) return serving.status();
  AIO_RETURN_IF_ERROR(r->check_runs_here(**serving));
  r->cfg_ = std::move(cfg);
  std::vector<exec::BatchEngine *> engines;
  for (auto &[_, m] : r->models_) engines.push_back(m.engine.get());
  if (params.shared_scheduler) {
    r->schedulers_.push_back(std::make_unique<exec::Scheduler>(engines, params.turns));
  } else {
    for (exec::BatchEngine *e : engines) r->schedulers_.push_back(std::make_unique<exec::Scheduler>(std::vector{e}));
  }
  return r;
}

Router::~Router() { stop(std::chrono::milliseconds(0)); }

void Router::stop(std::chrono::milliseconds grace) {
  // Closing every engine first: a probe verdict cannot hand a request to an engine that is about to stop.
  std::vector<std::thread> stoppers;
  for (auto &s : schedulers_) stoppers.emplace_back([&s, grace] { s->stop(grace); });
  for (auto &t : stoppers) t.join();
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

Expected<Router::Prompt> Router::prompt_for(const Resident &resident, const Request &request) const {
  const engine::Model &model = *resident.model;
  Prompt out;
  std::string text;
  if (!request.chat()) {
    auto tokens = model.tokenize(request.prompt, /*add_bos=*/true, /*parse_special=*/false);
    if (!tokens) return tokens.status();
    out.tokens = std::move(*tokens);
    return out;
  }
  if (chat::needs_tool_format(request)) {
    if (!resident.chat) return resident.chat_error;
    auto formatted = resident.chat->apply(request);
    if (!formatted) return formatted.status();
    text = formatted->text;
    out.chat = std::move(*formatted);
  } else {
    // Plain chats keep llama.cpp's built-in formatting (no jinja run per request; the synthetic template renders
    // the same either way).
    auto formatted = model.apply_chat_template(request.messages);
    if (!formatted) return formatted.status();
    text = std::move(*formatted);
  }
  auto tokens = model.tokenize_chat(text);
  if (!tokens) return tokens.status();
  out.tokens = std::move(*tokens);
  return out;
}

Expected<Router::Prompt> Router::probe_prompt(const Request &request) const {
  const Resident &probe_model = models_.at(cfg_.probe.model);
  auto prompt = prompt_for(probe_model, request);
  if (prompt || !chat::needs_tool_format(request)) return prompt;
  Request plain = request;
  plain.tools.clear();
  std::erase_if(plain.messages, [](const Message &m) { return m.role == "tool" || m.content.empty(); });
  if (plain.messages.empty()) return prompt;
  return prompt_for(probe_model, plain);
}

policy::RouteInput Router::route_input(const Pending &p) const {
  // The wait for this request's first token: a slot, then its prompt's prefill.
  auto load = [this, tokens = p.record.probe.n_context_tokens](const std::string &name) -> std::optional<ModelLoad> {
    const auto it = models_.find(name);
    if (it == models_.end()) return std::nullopt;
    return it->second.engine->load(tokens);
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

Expected<exec::Decoding> Router::decoding_for(const Route &route) const {
  exec::Decoding d{route.strategy, route.params, nullptr};
  if (route.strategy != Strategy::draft) return d;
  auto it = models_.find(route.draft_model);
  if (it == models_.end())
    return invalid_argument("the route drafts with model '" + route.draft_model +
                            "', which is not a local model; draft-model speculation needs both models local");
  d.draft_model = it->second.model;
  return d;
}

void Router::submit(Request request, engine::GenerateParams params, Callbacks callbacks) {
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
    if (!is_local(req.pinned_model) && !is_remote(req.pinned_model)) {
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
  } else if (lm_probe_) {
    return submit_probe(p, std::move(*prompt));
  } else {
    adopt_probe(rec, ft_probe_->classify(req.probe_text()));
  }
  if (Status st = decide(*p); !st.ok()) return p->fail(st);
  dispatch(p, std::move(*prompt));
}

Status Router::prepare_grammar(TokenConstraints &c, const engine::Model &model) {
  if (c.grammar.empty() || (c.prepared && c.prepared->fits(model, c))) return {};
  auto prepared = engine::PreparedGrammar::prepare(model, c);
  if (!prepared) return prepared.status();
  c.prepared = std::move(*prepared);
  return {};
}

void Router::submit_probe(const std::shared_ptr<Pending> &p, Prompt prompt) {
  Resident &probe_model = models_.at(cfg_.probe.model);
  exec::Job job;
  // A request longer than the probe's budget is read as its head and tail. That job cannot go on in place (its KV is
  // the window's), so whoever answers gets the whole prompt - the probe's model reusing the head its slot cached.
  std::shared_ptr<const Prompt> whole;
  if (auto window = lm_probe_->read_window(prompt.tokens)) {
    job.prompt = std::move(*window);
    whole = std::make_shared<const Prompt>(prompt);
  } else {
    job.prompt = std::move(prompt.tokens);
  }
  job.params = p->params;
  // Should the probe's model answer, it goes on from this prompt: the tool format's constraints apply from the start.
  const bool formatted = !chat::needs_tool_format(p->request) || prompt.chat;
  if (prompt.chat) {
    if (Status st = apply_chat_prompt(*prompt.chat, job.params); !st.ok()) return p->fail(st);
  }
  // The grammar is compiled here, on the request's thread, whoever answers: the probe's model in this slot, or one
  // with the same vocabulary (dispatch reuses it when the grammar is the same).
  if (Status st = prepare_grammar(job.params.constraints, *probe_model.model); !st.ok()) return p->fail(st);
  p->params.constraints.prepared = job.params.constraints.prepared;
  auto output_format = prompt.chat ? std::optional(prompt.chat->output) : std::nullopt;
  const bool chat_grammar = prompt.chat && !prompt.chat->grammar.empty();
  job.probe = exec::ProbeStage{lm_probe_->suffix_tokens(), [this, p, formatted, output_format, chat_grammar, whole](
                                                               const float *logits, double wait_ms,
                                                               double probe_ms) -> exec::ProbeVerdict {
    RouteRecord &rec = p->record;
    adopt_probe(rec, lm_probe_->read(logits));
    rec.probe.wait_ms = wait_ms;
    rec.probe.probe_ms = probe_ms;
    exec::ProbeVerdict v;
    if (Status st = decide(*p); !st.ok()) {
      v.error = st;
      return v;
    }
    if (p->cb.route_only || rec.route.model != cfg_.probe.model || placed_elsewhere(*p) || whole) {
      // On the engine thread: the other engine's queue is thread-safe.
      dispatch(p, whole ? std::optional<Prompt>(*whole) : std::nullopt);
      return v; // released: this engine forgets the job (its KV stays cached)
    }
    // The probe's model answers: the request goes on in this slot, its prompt's KV in place.
    if (!formatted) {
      // The probe read the request without its tools because this model's template cannot do them.
      v.error = prompt_for(models_.at(cfg_.probe.model), p->request).status();
      return v;
    }
    auto decoding = decoding_for(rec.route);
    if (!decoding) {
      v.error = decoding.status();
      return v;
    }
    if (output_format && p->cb.on_output_format) p->cb.on_output_format(*output_format);
    if (chat_grammar) rec.grammar = true;
    if (p->cb.on_route) p->cb.on_route(rec);
    v.next = exec::ProbeVerdict::Next::generate_here;
    v.decoding = std::move(*decoding);
    return v;
  }};
  job.on_token = p->cb.on_token;
  job.on_done = p->cb.on_done;
  if (!probe_model.engine->submit(std::move(job))) p->fail(refusal(*probe_model.engine, cfg_.probe.model));
}

void Router::dispatch(const std::shared_ptr<Pending> &p, std::optional<Prompt> prompt) {
  RouteRecord &rec = p->record;
  const auto t_switch = Clock::now();
  if (p->cb.route_only) {
    if (p->cb.on_route) p->cb.on_route(rec);
    if (p->cb.on_done) p->cb.on_done(engine::GenerationRecord{});
    return;
  }
  const std::string &target = rec.route.model;
  if (is_remote(target) || placed_elsewhere(*p)) {
    if (rec.route.strategy != Strategy::plain) {
      rec.route.reason += " (" + std::string(strategy_name(rec.route.strategy)) +
                          " asked for, but the remote server decodes its own way)";
      rec.route.strategy = Strategy::plain;
    }
    rec.switch_ms = ms_since(t_switch);
    if (p->cb.on_route) p->cb.on_route(rec);
    if (p->cb.forward) return p->cb.forward(rec);
    return p->fail(invalid_argument("the request was routed to model " + target + ", which is served remotely (" +
                                    remote_.at(target).replicas.front().url + "); run `aio serve` to forward requests to it"));
  }
  Resident &resident = models_.at(target);
  // The prompt already made (in the probe model's tokens) is the prompt when the target is the probe's model - unless
  // the probe read a tool request without its tools.
  const bool needs_tools = chat::needs_tool_format(p->request);
  // A prompt in the tool format made for the probe's model serves any model with the same template and vocabulary
  // (the tiny pair, a model family): llama.cpp analyses the template on every call, which costs milliseconds.
  const Resident &probe_model = models_.at(cfg_.probe.model);
  const bool same_format = prompt && prompt->chat && !resident.chat_template.empty() &&
                           resident.chat_template == probe_model.chat_template &&
                           resident.model->shares_vocab_with(*probe_model.model);
  if (!prompt || (target != cfg_.probe.model && !same_format) || (needs_tools && !prompt->chat)) {
    auto made = prompt_for(resident, p->request);
    if (!made) return p->fail(made.status());
    prompt = std::move(*made);
  }
  if (rec.probe.probe_kind == "none" && !p->policy)
    rec.probe.n_context_tokens = static_cast<int32_t>(prompt->tokens.size());
  auto decoding = decoding_for(rec.route);
  if (!decoding) return p->fail(decoding.status());
  exec::Job job;
  job.prompt = std::move(prompt->tokens);
  job.params = p->params;
  if (prompt->chat) {
    if (Status st = apply_chat_prompt(*prompt->chat, job.params); !st.ok()) return p->fail(st);
    if (p->cb.on_output_format) p->cb.on_output_format(prompt->chat->output);
    if (!prompt->chat->grammar.empty()) rec.grammar = true;
  }
  job.decoding = std::move(*decoding);
  job.on_token = p->cb.on_token;
  job.on_done = p->cb.on_done;
  if (Status st = prepare_grammar(job.params.constraints, *resident.model); !st.ok()) return p->fail(st);
  rec.switch_ms = ms_since(t_switch);
  if (p->cb.on_route) p->cb.on_route(rec);
  if (!resident.engine->submit(std::move(job))) p->fail(refusal(*resident.engine, target));
}

bool Router::placed_elsewhere(Pending &p) const {
  if (!p.elsewhere) p.elsewhere = is_mixed(p.record.route.model) && p.cb.place_elsewhere && p.cb.place_elsewhere(p.record);
  return *p.elsewhere;
}

void Router::submit_routed(Request request, engine::GenerateParams params, RouteRecord record, Callbacks callbacks) {
  auto p = std::make_shared<Pending>();
  p->request = std::move(request);
  p->params = std::move(params);
  p->cb = std::move(callbacks);
  p->record = std::move(record);
  p->elsewhere = false;
  if (!is_local(p->record.route.model))
    return p->fail(invalid_argument("model " + p->record.route.model + " is not loaded here"));
  dispatch(p, std::nullopt);
}

Expected<RoutedGeneration> Router::run_blocking(const Request &request, const engine::GenerateParams &params,
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

Expected<RoutedGeneration> Router::generate(const Request &request, const engine::GenerateParams &params,
                                            const engine::TokenCallback &on_token) {
  return run_blocking(request, params, on_token, /*route_only=*/false);
}

} // namespace aio::core
