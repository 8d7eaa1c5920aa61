// LocalBackend: a model whose GGUF is loaded in this process - the model, its one exec::BatchEngine (the only thing
// that decodes), and its chat templates. It turns a routed request into the model's prompt (its own chat template and
// tokenizer, or the prompt the probe's model made when that one fits) and queues it on the engine, which a Scheduler
// drives (the Router owns the schedulers).
#pragma once

#include <memory>
#include <string>

#include "backend/backend.h"
#include "config/config.h"
#include "exec/batch_engine.h"

namespace aio::backend {

class LocalBackend : public Backend {
public:
  // Loads `entry`'s GGUF and makes its engine. Errors name the missing file and the config key to fix.
  static Expected<std::unique_ptr<LocalBackend>> create(const config::ModelEntry &entry,
                                                        const exec::BatchEngineParams &params,
                                                        const std::string &config_source);

  void submit(Job job) override;
  bool takes_in_place(const Request &, const LocalBackend &engine, Callbacks &) override { return &engine == this; }
  LocalBackend *local() override { return this; }
  size_t n_active() const override { return engine_->n_active(); }
  size_t n_slots() const override { return static_cast<size_t>(engine_->n_slots()); }
  size_t n_queued() const override { return engine_->n_queued(); }
  void stop(std::chrono::milliseconds) override {} // its scheduler stops the engine

  // `request` as this model reads it: formatted with its chat template (llama.cpp's common chat code for a request
  // with tools, which also gives the grammar and stops of the tool format) and tokenized.
  Expected<Prompt> prompt_for(const Request &request) const;
  // Whether `other`'s prompt for `request` is this model's as it is: both tokenize alike and, for a chat, format it
  // with the same chat template.
  bool same_prompts_as(const LocalBackend &other, const Request &request) const;
  // Busy slots, queue, and the wait of a new request of `prompt_tokens` for its first token.
  ModelLoad load(int32_t prompt_tokens = 0) const { return engine_->load(prompt_tokens); }
  // Why the engine refused a job: it is shutting down (503), or its queue is full (429, retry shortly).
  Status refusal() const;

  const std::string &name() const { return entry_.name; }
  const config::ModelEntry &entry() const { return entry_; }
  const engine::Model &model() const { return *model_; }
  const std::shared_ptr<engine::Model> &shared_model() const { return model_; }
  exec::BatchEngine &engine() { return *engine_; }

  // What the tool format asks of a generation: its grammar (lazy when the model may answer in text), the stop
  // strings it adds, the special tokens its output must keep.
  static Status apply_chat_prompt(const chat::ChatPrompt &chat, GenerateParams &params);
  // Compiles `c`'s grammar for `model` on the calling thread (a request's, before its job is queued), unless it is
  // compiled already for this grammar and a vocabulary the model shares. A grammar llama.cpp cannot parse: 400.
  static Status prepare_grammar(TokenConstraints &c, const engine::Model &model);

private:
  LocalBackend() = default;

  config::ModelEntry entry_;
  std::shared_ptr<engine::Model> model_;
  std::unique_ptr<exec::BatchEngine> engine_;
  std::shared_ptr<const chat::ChatTemplates> chat_; // null when the model's template cannot be read (chat_error_)
  Status chat_error_;
  std::string chat_template_; // its source, to tell when two models format a request identically
};

} // namespace aio::backend
