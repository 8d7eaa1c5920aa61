#include "backend/local_backend.h"

#include <chrono>
#include <filesystem>

namespace aio::backend {
namespace {
using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }
} // namespace

Expected<std::unique_ptr<LocalBackend>> LocalBackend::create(const config::ModelEntry &entry,
                                                             const exec::BatchEngineParams &params,
                                                             const std::string &config_source) {
  if (!std::filesystem::exists(entry.path))
    return not_found("model '" + entry.name + "' (" + entry.path + ") does not exist; set models." + entry.name +
                     ".path in " + config_source + " (the shipped config uses the tiny pair that `make demo` makes)");
  auto model = engine::Model::load({.path = entry.path, .n_gpu_layers = entry.n_gpu_layers});
  if (!model) return model.status();
  auto engine = exec::BatchEngine::create(*model, params);
  if (!engine) return engine.status();
  std::unique_ptr<LocalBackend> b(new LocalBackend());
  b->entry_ = entry;
  b->model_ = std::move(*model);
  b->engine_ = std::move(*engine);
  if (b->model_->info().has_chat_template) {
    b->chat_template_ = b->model_->metadata("tokenizer.chat_template");
    // Read once: requests with tools are formatted by llama.cpp's common chat code over this template.
    auto templates = chat::ChatTemplates::create(b->model_->raw(), entry.name);
    if (templates) b->chat_ = std::move(*templates);
    else b->chat_error_ = templates.status();
  } else {
    b->chat_error_ = invalid_argument(entry.name + " has no chat template in its metadata; send a plain prompt "
                                                   "instead of chat messages");
  }
  return b;
}

Status LocalBackend::refusal() const {
  if (engine_->closed()) return aborted("the server is shutting down; model " + name() + " takes no new requests");
  return resource_exhausted("model " + name() + " is at capacity (" + std::to_string(engine_->n_queued()) +
                            " requests waiting); retry shortly");
}

Expected<Prompt> LocalBackend::prompt_for(const Request &request) const {
  Prompt out;
  if (!request.chat()) {
    auto tokens = model_->tokenize(request.prompt, /*add_bos=*/true, /*parse_special=*/false);
    if (!tokens) return tokens.status();
    out.tokens = std::move(*tokens);
    return out;
  }
  std::string text;
  if (chat::needs_tool_format(request)) {
    if (!chat_) return chat_error_;
    auto formatted = chat_->apply(request);
    if (!formatted) return formatted.status();
    text = formatted->text;
    out.chat = std::move(*formatted);
  } else {
    // Plain chats keep llama.cpp's built-in formatting (no jinja run per request; the synthetic template renders
    // the same either way).
    auto formatted = model_->apply_chat_template(request.messages);
    if (!formatted) return formatted.status();
    text = std::move(*formatted);
  }
  auto tokens = model_->tokenize_chat(text);
  if (!tokens) return tokens.status();
  out.tokens = std::move(*tokens);
  return out;
}

bool LocalBackend::same_prompts_as(const LocalBackend &other, const Request &request) const {
  // The probe model's prompt serves any model of the same family (the tiny pair, Llama 3.2 1B and 3B): no second
  // tokenizing, and for a request with tools no second run of llama.cpp's template analysis (milliseconds).
  if (&other == this) return true;
  if (!model_->tokenizes_like(*other.model_)) return false;
  return !request.chat() || (!chat_template_.empty() && chat_template_ == other.chat_template_);
}

Status LocalBackend::apply_chat_prompt(const chat::ChatPrompt &chat, GenerateParams &params) {
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

Status LocalBackend::prepare_grammar(TokenConstraints &c, const engine::Model &model) {
  if (c.grammar.empty() || (c.prepared && c.prepared->fits(model, c))) return {};
  auto prepared = engine::PreparedGrammar::prepare(model, c);
  if (!prepared) return prepared.status();
  c.prepared = std::move(*prepared);
  return {};
}

void LocalBackend::submit(Job job) {
  RouteRecord &rec = job.record;
  auto fail = [&job](const Status &s) {
    if (job.cb.on_done) job.cb.on_done(s);
  };
  const auto t_switch = Clock::now();
  // The probe model's prompt is this one's when it made it, or when the two format and tokenize alike - unless the
  // probe read a tool request without its tools.
  const bool needs_tools = chat::needs_tool_format(job.request);
  std::optional<Prompt> prompt = std::move(job.prompt);
  const bool fits = prompt && job.prompt_by && same_prompts_as(*job.prompt_by, job.request);
  if (!fits || (needs_tools && !prompt->chat)) {
    auto made = prompt_for(job.request);
    if (!made) return fail(made.status());
    prompt = std::move(*made);
  }
  // A request no policy read (pinned) has its context length counted here, in this model's tokens.
  if (rec.probe.n_context_tokens == 0) rec.probe.n_context_tokens = static_cast<int32_t>(prompt->tokens.size());
  exec::Job run;
  run.prompt = std::move(prompt->tokens);
  run.params = std::move(job.params);
  if (prompt->chat) {
    if (Status st = apply_chat_prompt(*prompt->chat, run.params); !st.ok()) return fail(st);
    if (job.cb.on_output_format) job.cb.on_output_format(prompt->chat->output);
    if (!prompt->chat->grammar.empty()) rec.grammar = true;
  }
  run.decoding = {rec.route.strategy, rec.route.params, std::move(job.draft_model)};
  run.on_token = std::move(job.cb.on_token);
  run.on_done = job.cb.on_done;
  if (Status st = prepare_grammar(run.params.constraints, *model_); !st.ok()) return fail(st);
  rec.switch_ms = ms_since(t_switch);
  if (job.cb.on_route) job.cb.on_route(rec);
  if (!engine_->submit(std::move(run))) fail(refusal());
}

} // namespace aio::backend
