// `aio serve`: the OpenAI-compatible A-IO server. Listens at once (503 on /health until the models are loaded), then
// serves until SIGINT/SIGTERM, when it stops accepting, lets running requests finish within a grace period, and exits 0.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include <systemd/sd-daemon.h>

#include "commands.h"
#include "config/config.h"
#include "observe/step_trace.h"
#include "serve/http_server.h"

namespace aio::cli {
namespace {

struct ServeOptions {
  ConfigSource source;
  std::string policy; // overrides the config's
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string api_key;
  bool insecure = false;
  int slots = 4;
  size_t queue = 64;
  size_t max_body = 1 << 20;
  http::ConnectionLimits connection;
  int max_tokens = 4096;
  bool metrics_public = false;
  size_t max_upstream_line = size_t{4} << 20;
  openai::RequestLimits limits; // the bounds on a request's shape (docs/operations.md: Limits)
  double grace_seconds = 10;
  std::string turns = "first";     // with a shared schedule: which model steps next
  std::string schedule = "shared"; // co-resident models: step in turn on one thread, or side by side
  std::string step_budget;         // "" = the config's
  double step_factor = 0;          // 0 = the config's
  std::string max_stall_ms;        // "" = the config's; "auto" or milliseconds
  std::string trace_steps;         // a file for every engine step, one JSON line each ("" = none)
};

bool is_loopback(const std::string &host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

int run_serve(ServeOptions o) {
  if (o.api_key.empty())
    if (const char *env = std::getenv("AIO_API_KEY"); env && *env) o.api_key = env;
  if (!is_loopback(o.host) && o.api_key.empty() && !o.insecure)
    return report_error(invalid_argument("refusing to serve on " + o.host +
                                         " without an API key: anyone who can reach it could use it. Pass --api-key "
                                         "(or set AIO_API_KEY), or --insecure if that is really what you want"));
  auto cfg = load_config_source(o.source);
  if (!cfg) return report_error(cfg.status());
  // Opened before anything starts, so a path that cannot be written fails at once. It outlives the service below.
  std::unique_ptr<observe::StepTrace> trace;
  if (!o.trace_steps.empty()) {
    auto t = observe::StepTrace::open(o.trace_steps);
    if (!t) return report_error(t.status());
    trace = std::move(*t);
  }
  if (!o.policy.empty()) {
    if (auto p = cfg->find_policy(o.policy); !p) return report_error(p.status());
    cfg->policy = o.policy;
  }
  if (!o.step_budget.empty()) cfg->step_budget = o.step_budget;
  if (o.step_factor > 0) cfg->step_factor = o.step_factor;
  if (!o.max_stall_ms.empty()) // "auto" or a number CLI11 has range-checked; anything else reaches the engine's check
    cfg->max_stall_ms =
        o.max_stall_ms == "auto" ? config::AioConfig::kMaxStallAuto : std::strtod(o.max_stall_ms.c_str(), nullptr);

  // Signals are taken by one thread with sigwait; every other thread (HTTP, engines) inherits the block.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  serve::HttpParams hp;
  hp.host = o.host;
  hp.port = o.port;
  hp.api_key = o.api_key;
  hp.connection = o.connection;
  hp.connection.max_body_bytes = o.max_body;
  hp.metrics_public = o.metrics_public;
  hp.limits = o.limits;
  hp.limits.max_tokens_cap = o.max_tokens;
  hp.limits.default_max_tokens = std::min(256, o.max_tokens);
  serve::HttpServer http(hp);
  std::string error;
  if (!http.bind(&error)) return report_error(invalid_argument(error));
  std::printf("aio serve: listening on http://%s:%d (loading models...)\n", o.host.c_str(), http.bound_port());
  // Under systemd (Type=notify) the service manager hears how far start-up got; elsewhere these are no-ops.
  sd_notify(0, "STATUS=loading models");
  std::fflush(stdout);
  std::thread http_thread([&] { http.run(); });

  serve::ServiceParams sp;
  sp.n_slots = o.slots;
  sp.queue_capacity = o.queue;
  sp.shared_scheduler = o.schedule == "shared";
  sp.turns = *exec::parse_turns(o.turns); // checked by the option
  sp.max_upstream_line = o.max_upstream_line;
  if (trace)
    sp.on_step = [t = trace.get()](const std::string &model, const exec::StepEvent &e) { t->record(model, e); };
  std::shared_ptr<serve::AioService> service;
  if (auto s = serve::AioService::create(std::move(*cfg), sp); s) {
    service = std::move(*s);
    http.set_service(service);
    std::printf("aio serve: ready (models: ");
    bool first = true;
    for (const auto &m : service->model_names()) std::printf("%s%s", first ? "" : ", ", m.c_str()), first = false;
    std::printf("; route with model \"aio\"); live dashboard: http://%s:%d/dashboard\n", o.host.c_str(),
                http.bound_port());
    // The ready line goes out before systemd hears READY=1, so a log reader never sees "Started" before it.
    std::fflush(stdout);
    // `systemctl start aio` returns now, with the models loaded and the port answering.
    sd_notifyf(0, "READY=1\nSTATUS=serving on %s:%d", o.host.c_str(), http.bound_port());
  } else {
    // A server without its models is no use: say why and exit, so a supervisor sees the failure.
    http.set_load_error(s.status().message());
    http.stop();
    http_thread.join();
    return report_error(s.status());
  }
  std::fflush(stdout);

  int sig = 0;
  sigwait(&signals, &sig);
  std::printf("aio serve: %s received, finishing running requests (up to %.0f s)\n", sig == SIGINT ? "SIGINT" : "SIGTERM",
              o.grace_seconds);
  std::fflush(stdout);
  sd_notify(0, "STOPPING=1\nSTATUS=finishing running requests");
  http.set_draining();
  if (service) service->stop(std::chrono::milliseconds(static_cast<int64_t>(o.grace_seconds * 1000)));
  http.stop();
  http_thread.join();
  std::printf("aio serve: stopped\n");
  return 0;
}

} // namespace

void add_serve_command(CLI::App &app, Runner &runner) {
  auto o = std::make_shared<ServeOptions>();
  CLI::App *sub = app.add_subcommand("serve", "Serve the OpenAI-compatible API, routing each request through A-IO");
  add_config_source(sub, o->source, "A-IO config (models, probe, policy); or --small and --large");
  sub->add_option("--policy", o->policy, "Routing policy for model \"aio\" (default: the config's)");
  sub->add_option("--host", o->host, "Address to listen on")->capture_default_str();
  sub->add_option("--port", o->port, "Port (0 = any free port)")->capture_default_str();
  sub->add_option("--api-key", o->api_key, "Require 'Authorization: Bearer KEY' (or set AIO_API_KEY)");
  sub->add_flag("--insecure", o->insecure, "Allow a non-loopback address without an API key");
  sub->add_flag("--metrics-public", o->metrics_public,
                "Serve /metrics without the API key (for a scraper that cannot send one; it shows the traffic)");
  sub->add_option("--slots", o->slots,
                  "Sequences each model decodes together (a model's `slots` in the config overrides it)")
      ->check(CLI::Range(1, config::kMaxSlots))
      ->capture_default_str();
  sub->add_option("--schedule", o->schedule,
                  "Co-resident models: 'shared' steps them in turn on one thread (each step gets every core), "
                  "'parallel' gives each its own thread")
      ->check(CLI::IsMember({"shared", "parallel"}))
      ->capture_default_str();
  sub->add_option("--turns", o->turns,
                  "With --schedule shared, which model steps next: 'first' (the one whose request waits for its first "
                  "token, while running streams get a token every two steps of the slowest model; the default), "
                  "'rounds' (as 'first', but otherwise one step of each busy model in turn, not an equal share of "
                  "time: every stream gets about a token a round), 'fair' (an equal share of time to each busy "
                  "model), 'fuller' (the one with more requests) or 'oldest' (the one whose request has waited "
                  "longest for a token); measured by bench/serve_goodput.py --turns")
      ->check(CLI::IsMember({"fair", "fuller", "oldest", "first", "rounds"}))
      ->capture_default_str();
  sub->add_option("--step-budget", o->step_budget,
                  "Prefill tokens a step may carry beside running streams: 'auto' (measured: a step with prefill lasts "
                  "at most --step-factor decode steps) or tokens per step (default: the config's step_budget, auto)");
  sub->add_option("--step-factor", o->step_factor,
                  "With an automatic step budget: how many decode-only steps a step with prefill may last "
                  "(default: the config's step_factor, 2)");
  sub->add_option("--max-stall-ms", o->max_stall_ms,
                  "A prompt whose whole prefill is expected within this many ms goes in one step even beside running "
                  "streams: its first token sooner, one longer gap for them ('auto' = 7 of the model's decode steps; "
                  "0 = always in budget chunks; default: the config's max_stall_ms, auto)")
      ->check(CLI::IsMember({"auto"}) | CLI::Range(0.0, 3.6e6));
  sub->add_option("--trace-steps", o->trace_steps,
                  "Write every engine step to FILE as it ends, one JSON line each: the model, its time, its decode "
                  "and prefill tokens, its requests, whether another model's streams waited through it "
                  "(docs/operations.md)");
  sub->add_option("--queue", o->queue, "Waiting requests per model before 429")->capture_default_str();
  sub->add_option("--max-body", o->max_body, "Largest request body in bytes")->capture_default_str();
  sub->add_option("--max-connections", o->connection.max_connections, "Open connections in all; more get 503")
      ->capture_default_str();
  sub->add_option("--max-connections-per-client", o->connection.max_connections_per_client,
                  "Open connections from one address; more get 503")
      ->capture_default_str();
  sub->add_option("--idle-timeout", o->connection.idle_timeout_seconds,
                  "Seconds a keep-alive connection may wait for its next request")
      ->capture_default_str();
  sub->add_option("--header-timeout", o->connection.header_timeout_seconds,
                  "Seconds from a request's first byte to the end of its headers (408 after)")
      ->capture_default_str();
  sub->add_option("--body-timeout", o->connection.body_timeout_seconds, "Seconds to receive a request's body (408 after)")
      ->capture_default_str();
  sub->add_option("--max-tokens", o->max_tokens, "Largest max_tokens a request may ask for")->capture_default_str();
  // The shape of a request (docs/operations.md: Limits): each bounds work done before any token is generated.
  auto positive = CLI::Range(size_t{1}, size_t{1} << 40);
  sub->add_option("--max-json-depth", o->limits.max_json_depth,
                  "Deepest nesting of a request body and of the JSON texts inside it (tool-call arguments)")
      ->check(CLI::Range(size_t{1}, size_t{1000}))
      ->capture_default_str();
  sub->add_option("--max-messages", o->limits.max_messages, "Messages in one chat request")->check(positive)->capture_default_str();
  sub->add_option("--max-tools", o->limits.max_tools, "Tools in one request")->check(positive)->capture_default_str();
  sub->add_option("--max-tools-bytes", o->limits.max_tools_bytes, "All of a request's tools, as JSON text")
      ->check(positive)
      ->capture_default_str();
  sub->add_option("--max-schema-bytes", o->limits.max_schema_bytes,
                  "One JSON Schema (response_format or a tool's parameters), as JSON text")
      ->check(positive)
      ->capture_default_str();
  sub->add_option("--max-schema-nodes", o->limits.max_schema_nodes, "Subschemas in one JSON Schema")
      ->check(positive)
      ->capture_default_str();
  sub->add_option("--max-enum-values", o->limits.max_enum_values, "enum and const values in one JSON Schema")
      ->check(positive)
      ->capture_default_str();
  sub->add_option("--max-upstream-line", o->max_upstream_line,
                  "Longest line of a remote replica's event stream (bytes); longer ones end the answer with 502")
      ->check(positive)
      ->capture_default_str();
  sub->add_option("--max-stop-bytes", o->limits.max_stop_bytes, "Length of one stop string")->check(positive)->capture_default_str();
  sub->add_option("--grace", o->grace_seconds, "Seconds running requests get to finish on shutdown")
      ->capture_default_str();
  sub->callback([o, &runner] { runner = [o] { return run_serve(*o); }; });
}

} // namespace aio::cli
