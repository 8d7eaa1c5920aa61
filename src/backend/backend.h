// Backend: where a routed request runs - one per configured model, below the Router and beside nothing else. A model
// is a local engine (LocalBackend: its GGUF loaded here, batched with everyone's steps), a pool of remote
// OpenAI-compatible servers, or a mixed pool of both (PoolBackend). The Router probes and decides; which replica or
// engine answers is the backend's business, and every entry point (the server, `aio generate`, `aio bench`) reaches
// every kind of model the same way.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "aio/request.h"
#include "aio/route.h"
#include "chat/chat_template.h"
#include "chat/output_parser.h"
#include "engine/generation.h"
#include "engine/model.h"

namespace aio::backend {

// What a caller hears about one routed request. on_done is called exactly once, whatever happens (a refusal too).
struct Callbacks {
  std::function<void(const RouteRecord &)> on_route; // the route as it runs (strategy, timings so far), before any text
  // For a request in the tool format (chat::needs_tool_format) answered by a local model: how to read the answer
  // (chat::OutputParser), before on_route.
  std::function<void(const chat::OutputFormat &)> on_output_format;
  engine::TokenCallback on_token; // each piece of text; false cancels (a remote model's pieces have token id -1)
  // A remote model's tool call, as its server reported it: a call's start or more of its arguments. False cancels.
  std::function<bool(const chat::OutputDelta &)> on_tool_call;
  std::function<void(Expected<engine::GenerationRecord>)> on_done;
  // The caller passes each piece on as it comes (a streaming client). Then a remote replica that fails after the
  // first piece cannot be retried on another; when false, pieces are only checked for a cancel (on_token gets ""),
  // the answer is whole in on_done, and a failed replica's request is retried.
  bool streamed = true;
};

// A request's prompt in one model's tokens, and for a request in the tool format the template's output (the grammar,
// stops and output format that go with them).
struct Prompt {
  std::vector<llama_token> tokens;
  std::optional<chat::ChatPrompt> chat;
};

class LocalBackend;

// One routed request, as the Router hands it over.
struct Job {
  Request request;
  GenerateParams params;
  RouteRecord record; // the route decided: record.route.model is the backend's model
  // The prompt already made by `prompt_by` (the probe's model): used when it fits the engine that answers.
  std::optional<Prompt> prompt;
  const LocalBackend *prompt_by = nullptr;
  // A route with strategy draft: the local model that drafts (resolved by the Router, which knows every model).
  std::shared_ptr<const engine::Model> draft_model;
  Callbacks cb;
};

// A remote replica as /health and the dashboard see it.
struct ReplicaState {
  std::string name, url;
  bool healthy = true;
  int64_t in_flight = 0;
  uint64_t n_requests = 0, n_failures = 0, n_ejections = 0;
  std::string last_error; // why it was last ejected ("" = never)
};

class Backend {
public:
  virtual ~Backend() = default;

  // Runs a routed request; what happens comes through job.cb (on_route before any text; on_done exactly once, also
  // when the backend refuses it: 429 for a full queue, 503 when shutting down or no replica is healthy).
  virtual void submit(Job job) = 0;
  // The lm probe read this request on `engine`'s slot and routed it here: true when the backend runs it there,
  // going on from the probe's KV - then `cb` has been wrapped with the backend's own accounting and is what the
  // engine must call; false: submit() it (a remote replica takes it, or another engine).
  virtual bool takes_in_place(const Request &request, const LocalBackend &engine, Callbacks &cb) = 0;

  // The engine of this model loaded here (a mixed pool's local member), or null for a model served only elsewhere.
  virtual LocalBackend *local() { return nullptr; }
  const LocalBackend *local() const { return const_cast<Backend *>(this)->local(); }
  // Whether replicas elsewhere serve this model (a remote or mixed pool).
  virtual bool remote() const { return false; }
  // Requests running and waiting here (for gauges and the dashboard).
  virtual size_t n_active() const = 0;
  virtual size_t n_queued() const = 0;
  // Requests it runs at once: a local engine's slots, a pool's forwarding workers (plus its local member's slots).
  // Models differ (a model's own `slots`), so the dashboard shows each one's beside its busy count.
  virtual size_t n_slots() const = 0;
  // The replicas of a pool (empty for a local engine).
  virtual std::vector<ReplicaState> replicas() const { return {}; }
  // Stops taking requests, lets running ones finish within `grace`, ends the rest with an error. (A local engine is
  // stopped by its scheduler: the Router stops those first.)
  virtual void stop(std::chrono::milliseconds grace) = 0;
};

} // namespace aio::backend
