#include "serve/http_server.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <random>
#include <thread>

#include "observe/dashboard_html.h" // generated from src/observe/dashboard/dashboard.html
#include "aio/route_json.h"

namespace aio::serve {
// The OpenAI wire format, read and written here.
using openai::ApiError;
using openai::ApiRequest;
using openai::Endpoint;
using openai::Usage;
using openai::completion_response;
using openai::error_from_status;
using openai::finish_chunk;
using openai::openai_finish_reason;
using openai::parse_request;
using openai::role_chunk;
using openai::stream_chunk;
using openai::tool_delta_chunk;
using openai::usage_chunk;

namespace {
using nlohmann::json;

std::string dump(const json &j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

void send_json(http::HttpResponder &res, int status, const json &body, const http::HttpHeaders &headers = {}) {
  res.send(status, "application/json", dump(body), headers);
}

void send_error(http::HttpResponder &res, const ApiError &e, int retry_after = 0) {
  http::HttpHeaders headers;
  if (e.retry_after_seconds > 0) retry_after = e.retry_after_seconds; // the refusing part's own estimate
  if ((e.http_status == 429 || e.http_status == 503) && retry_after > 0)
    headers.emplace_back("Retry-After", std::to_string(retry_after));
  send_json(res, e.http_status, e.to_json(), headers);
}

ApiError client_error(int status, const std::string &message) {
  return ApiError{status, message, status >= 500 ? "server_error" : "invalid_request_error", ""};
}

std::string new_id(const char *prefix) {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%s-%016llx", prefix, static_cast<unsigned long long>(rng()));
  return buf;
}

// A whole answer read into content and tool calls. An answer that does not fit the format (a model that began a
// call and broke it) is returned as its text, as content: never dropped.
chat::ParsedOutput read_answer(const chat::OutputFormat &format, const std::string &text, FinishReason finish) {
  chat::OutputParser parser(format);
  const bool complete = finish == FinishReason::end_of_generation || finish == FinishReason::stop_string;
  if (auto ok = parser.update(text, complete); ok) return parser.parsed();
  return {text, {}};
}

json aio_object(RouteRecord r, const engine::GenerationRecord &g) {
  r.generation = g;
  return route_record_json(r);
}

} // namespace

HttpServer::HttpServer(HttpParams params) : params_(std::move(params)) {
  transport_ = std::make_unique<http::HttpTransport>(
      params_.connection, [this](const http::HttpRequest &req, http::HttpResponder &res) { handle(req, res); },
      [](int status, const std::string &message) { return dump(client_error(status, message).to_json()); });
}

HttpServer::~HttpServer() { stop(); }

void HttpServer::set_load_error(const std::string &message) {
  std::atomic_store(&load_error_, std::make_shared<std::string>(message));
}

bool HttpServer::bind(std::string *error) {
  if (!transport_->bind(params_.host, params_.port, error)) return false;
  port_ = transport_->port();
  return true;
}

void HttpServer::run() { transport_->run(); }

void HttpServer::stop() { transport_->stop(); }

namespace {
bool iequals(std::string_view a, std::string_view lower) {
  return a.size() == lower.size() && std::equal(a.begin(), a.end(), lower.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == y;
         });
}
} // namespace

std::optional<ApiError> HttpServer::check_key(const http::HttpRequest &req) const {
  if (params_.api_key.empty()) return std::nullopt;
  const ApiError refused{401, "missing or wrong API key: send 'Authorization: Bearer <key>'", "authentication_error", ""};
  const std::string *value = nullptr;
  for (const auto &[name, v] : req.headers) {
    if (!iequals(name, "authorization")) continue;
    // Two credentials for one request: which one a proxy in front checked is anyone's guess, so neither is taken.
    if (value != nullptr)
      return ApiError{400, "the request carries more than one Authorization header; send exactly one",
                      "invalid_request_error", ""};
    value = &v;
  }
  if (value == nullptr) return refused;
  // RFC 9110 11.1: the scheme is case-insensitive; one or more spaces before the credentials.
  const std::string &h = *value;
  size_t at = 0;
  while (at < h.size() && h[at] != ' ') ++at;
  const std::string_view scheme(h.data(), at);
  while (at < h.size() && h[at] == ' ') ++at;
  if (!iequals(scheme, "bearer")) return refused;
  // Compared in time that does not depend on where the first difference is.
  const std::string_view key(h.data() + at, h.size() - at);
  unsigned char diff = key.size() == params_.api_key.size() ? 0 : 1;
  for (size_t i = 0; i < params_.api_key.size(); ++i)
    diff |= static_cast<unsigned char>(params_.api_key[i] ^ (i < key.size() ? key[i] : 0));
  if (diff != 0) return refused;
  return std::nullopt;
}

void HttpServer::handle(const http::HttpRequest &req, http::HttpResponder &res) {
  // Known paths and the methods they take; anything else is a JSON 404, a wrong method a JSON 405.
  static const std::vector<std::pair<std::string, std::string>> routes = {
      {"/health", "GET"}, {"/metrics", "GET"}, {"/v1/models", "GET"}, {"/dashboard", "GET"}, {"/v1/aio/stats", "GET"},
      {"/v1/chat/completions", "POST"}, {"/v1/completions", "POST"}};
  const auto route = std::find_if(routes.begin(), routes.end(), [&](const auto &r) { return r.first == req.path; });
  const bool v1 = req.path.rfind("/v1/", 0) == 0;
  if (v1) {
    // Auth and readiness first, for every /v1 path (an unknown one too: its 404 is for clients that may ask).
    if (auto refused = check_key(req)) return send_error(res, *refused);
    if (draining_)
      return send_error(res, {503, "the server is shutting down and takes no new requests; retry on another instance",
                              "server_error", ""},
                        params_.retry_after_seconds);
    if (!service()) {
      auto err = std::atomic_load(&load_error_);
      return send_error(res, {503, err ? "the models failed to load: " + *err : "the models are still loading; retry shortly",
                              "server_error", ""});
    }
  }
  if (route == routes.end())
    return send_error(res, client_error(404, "no such endpoint: " + req.method + " " + req.path +
                                                 " (see GET /v1/models, POST /v1/chat/completions, /v1/completions)"));
  // HEAD is a GET without the body (the transport drops it).
  const bool head_of_get = req.method == "HEAD" && route->second == "GET";
  if (req.method != route->second && !head_of_get)
    return send_json(res, 405, client_error(405, req.method + " is not allowed on " + req.path).to_json(),
                     {{"Allow", route->second == "GET" ? "GET, HEAD" : route->second}});

  if (req.path == "/health") return health(req, res);
  if (req.path == "/metrics") return metrics(req, res);
  if (req.path == "/dashboard") {
    // The page holds no data (it reads /v1/aio/stats, behind the API key); it must not be framed by another site.
    res.send(200, "text/html; charset=utf-8", kDashboardHtml,
             {{"Cache-Control", "no-cache"}, {"X-Frame-Options", "DENY"},
              {"Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                                          "img-src 'self' data:; frame-ancestors 'none'"}});
    return;
  }
  if (req.path == "/v1/aio/stats") return send_json(res, 200, service()->live_stats(), {{"Cache-Control", "no-store"}});
  if (req.path == "/v1/models") {
    json data = json::array({{{"id", "aio"}, {"object", "model"}, {"owned_by", "aio"}, {"created", 0}}});
    for (const auto &name : service()->model_names())
      data.push_back({{"id", name}, {"object", "model"}, {"owned_by", "aio"}, {"created", 0}});
    return send_json(res, 200, {{"object", "list"}, {"data", data}});
  }
  completion(req.path == "/v1/chat/completions" ? Endpoint::chat_completions : Endpoint::completions, req, res);
}

void HttpServer::health(const http::HttpRequest &req, http::HttpResponder &res) {
  auto err = std::atomic_load(&load_error_);
  if (draining_) return send_json(res, 503, {{"status", "draining"}});
  // Without the key (when one is set) only the state: the pools' URLs and their last errors are the operator's.
  const bool details = !check_key(req);
  auto svc = service();
  if (!svc) {
    json body = {{"status", err ? "failed" : "loading"}};
    if (details) body["error"] = err ? *err : "";
    return send_json(res, 503, body);
  }
  json body = {{"status", "ok"}};
  if (!details) return send_json(res, 200, body);
  // Remote models' pools: each replica's state, so a fleet's health is one GET away.
  for (const auto &[model, replicas] : svc->replica_states()) {
    json list = json::array();
    size_t healthy = 0;
    for (const backend::ReplicaState &r : replicas) {
      healthy += r.healthy;
      json one = {{"name", r.name},          {"url", r.url},
                  {"state", r.healthy ? "healthy" : "ejected"},
                  {"in_flight", r.in_flight}, {"requests", r.n_requests},
                  {"failures", r.n_failures}, {"ejections", r.n_ejections}};
      if (!r.last_error.empty()) one["last_error"] = r.last_error;
      list.push_back(std::move(one));
    }
    body["pools"][model] = {{"healthy", healthy}, {"replicas", std::move(list)}};
  }
  send_json(res, 200, body);
}

void HttpServer::metrics(const http::HttpRequest &req, http::HttpResponder &res) {
  // The same figures /v1/aio/stats guards: behind the key unless the operator opened it (--metrics-public).
  if (!params_.metrics_public)
    if (auto refused = check_key(req)) return send_error(res, *refused);
  auto svc = service();
  if (svc) {
    svc->refresh_gauges(); // read at scrape time: a gauge is what holds now, not at the last event
    const http::TransportStats st = transport_->stats();
    observe::Metrics &m = svc->metrics();
    m.set("aio_http_open_connections", {}, static_cast<double>(st.open_connections));
    m.set("aio_http_active_requests", {}, static_cast<double>(st.active_handlers));
    std::lock_guard lock(scrape_mu_); // counters move by what changed since the last scrape
    m.inc("aio_http_refused_connections_total", {},
          static_cast<double>(st.refused_connections) - m.value("aio_http_refused_connections_total"));
    m.inc("aio_http_timeouts_total", {}, static_cast<double>(st.timed_out) - m.value("aio_http_timeouts_total"));
  }
  res.send(200, "text/plain; version=0.0.4", svc ? svc->metrics().render() : "");
}

namespace {
// One answer streamed as server-sent events in the API's chunk shapes: the opening chunk, each piece (text, or for a
// request with tools the content and tool-call deltas read out of it), then the closing chunk with the route record,
// usage when asked for, and [DONE].
class EventStream {
public:
  EventStream(const ApiRequest &api, const std::string &id, http::HttpResponder &res,
              std::optional<chat::OutputFormat> format)
      : api_(api), id_(id), created_(std::time(nullptr)), res_(res),
        offset_(api.echo ? api.prompt.size() : 0) { // completions' logprobs count text offsets from here
    if (format) parser_.emplace(*format);
  }
  // The API's order: the role first (chat), the prompt first (completions with echo). False: the client is gone.
  bool open() {
    if (api_.endpoint == Endpoint::chat_completions) return send(role_chunk(id_, created_, api_.model));
    return !api_.echo || send(stream_chunk(api_, id_, created_, api_.model, api_.prompt, std::nullopt));
  }
  bool piece(const StreamPiece &p) {
    if (p.tool_call) return send_deltas({*p.tool_call}); // relayed from a remote model as its upstream streamed it
    if (parser_) {
      auto deltas = parser_->update(p.text, /*final=*/false);
      return !deltas || send_deltas(*deltas);
    }
    const bool sent = send(stream_chunk(api_, id_, created_, api_.model, p.text, std::nullopt, p.logprobs, offset_));
    offset_ += p.text.size();
    return sent;
  }
  void close(const Expected<engine::GenerationRecord> &result, const RouteRecord &route) {
    if (!result) {
      send(error_from_status(result.status()).to_json());
    } else {
      if (parser_) {
        // The last parse is final only when the answer ended on its own; a cut one is read as far as it goes.
        const bool complete = result->finish_reason == FinishReason::end_of_generation ||
                              result->finish_reason == FinishReason::stop_string;
        if (auto deltas = parser_->update("", complete); deltas) send_deltas(*deltas);
      }
      json last = parser_ || tool_calls_
                      ? finish_chunk(id_, created_, api_.model, openai_finish_reason(result->finish_reason, tool_calls_))
                      : stream_chunk(api_, id_, created_, api_.model, "", result->finish_reason);
      last["aio"] = aio_object(route, *result);
      send(last);
      if (api_.include_usage)
        send(usage_chunk(api_, id_, created_, api_.model,
                         Usage{result->n_prompt_tokens, result->n_generated, result->n_prompt_tokens_cached}));
    }
    res_.write_chunk("data: [DONE]\n\n");
    res_.end_stream();
  }

private:
  bool send(const json &j) { return res_.write_chunk("data: " + dump(j) + "\n\n"); }
  bool send_deltas(const std::vector<chat::OutputDelta> &deltas) {
    for (const auto &d : deltas) {
      tool_calls_ = tool_calls_ || d.tool_index >= 0;
      if (!send(tool_delta_chunk(id_, created_, api_.model, d))) return false;
    }
    return true;
  }

  const ApiRequest &api_;
  const std::string &id_;
  const int64_t created_;
  http::HttpResponder &res_;
  size_t offset_;
  std::optional<chat::OutputParser> parser_; // a request with tools answered locally: its text read as it grows
  bool tool_calls_ = false;
};
} // namespace

void HttpServer::completion(Endpoint endpoint, const http::HttpRequest &req, http::HttpResponder &res) {
  // The body is within --max-body however it was framed: the transport refused larger ones before reading them.
  ApiRequest api;
  if (auto e = parse_request(req.body, endpoint, params_.limits, api)) return send_error(res, *e);
  auto channel = std::make_shared<StreamChannel>(api.stream);
  service()->submit(api, channel);
  const std::string id = new_id(endpoint == Endpoint::chat_completions ? "chatcmpl" : "cmpl");
  // Wait for the answer to begin (streamed) or end (whole) - and for the client, who may leave meanwhile: then the
  // request is cancelled, which frees its slot within a step.
  while (!channel->wait_output(std::chrono::milliseconds(200)))
    if (res.client_gone()) return channel->cancel();
  if (api.stream) return answer_streamed(api, id, *channel, res);
  auto result = channel->result();
  if (!result) return send_error(res, error_from_status(result.status()), params_.retry_after_seconds);
  const RouteRecord route = channel->route().value_or(RouteRecord{});
  std::optional<chat::ParsedOutput> parsed;
  if (auto format = channel->output_format()) parsed = read_answer(*format, result->text, result->finish_reason);
  else if (auto calls = channel->tool_calls(); !calls.empty()) parsed = chat::ParsedOutput{result->text, calls};
  send_json(res, 200,
            completion_response(api, id, std::time(nullptr), api.model, result->text, result->finish_reason,
                                {result->n_prompt_tokens, result->n_generated, result->n_prompt_tokens_cached},
                                aio_object(route, *result),
                                result->logprobs, parsed ? &*parsed : nullptr),
            route_record_headers(route));
}

void HttpServer::answer_streamed(const ApiRequest &api, const std::string &id, StreamChannel &channel,
                                 http::HttpResponder &res) {
  // Commit to a 200 only once the answer has begun: a request that fails before its first token (an upstream that is
  // down, a prompt refused at admission) gets its real status code instead of an error event.
  if (channel.done())
    if (auto result = channel.result(); !result)
      return send_error(res, error_from_status(result.status()), params_.retry_after_seconds);
  // The route is decided before the first text: its headers go out with the 200.
  const RouteRecord route = channel.route().value_or(RouteRecord{});
  http::HttpHeaders headers = route_record_headers(route);
  headers.emplace_back("Cache-Control", "no-cache");
  if (res.begin_stream(200, "text/event-stream", headers)) {
    EventStream events(api, id, res, channel.output_format());
    for (bool open = events.open(); open;) {
      if (auto piece = channel.next(std::chrono::milliseconds(100))) {
        open = events.piece(*piece);
        continue;
      }
      if (res.client_gone()) break;
      if (!channel.done()) continue;
      return events.close(channel.result(), route);
    }
  }
  channel.cancel(); // the client went away: stop generating and free the slot
}

} // namespace aio::serve
