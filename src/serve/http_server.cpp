#include "serve/http_server.h"

#include <sys/socket.h>

#include <chrono>
#include <ctime>
#include <random>
#include <thread>

#include <httplib.h>

#include "util/route_json.h"

namespace aio::serve {
namespace {
using nlohmann::json;

void send_json(httplib::Response &res, int status, const json &body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

void send_error(httplib::Response &res, const ApiError &e, int retry_after = 0) {
  if ((e.http_status == 429 || e.http_status == 503) && retry_after > 0)
    res.set_header("Retry-After", std::to_string(retry_after));
  send_json(res, e.http_status, e.to_json());
}

std::string new_id(const char *prefix) {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%s-%016llx", prefix, static_cast<unsigned long long>(rng()));
  return buf;
}

// The route record as headers, for clients that cannot read the body's `aio` object (e.g. while streaming).
void route_headers(httplib::Response &res, const RouteRecord &r) {
  res.set_header("x-aio-model", r.route.model);
  res.set_header("x-aio-policy", r.route.policy);
  res.set_header("x-aio-strategy", strategy_name(r.route.strategy));
  if (!r.probe.category().empty()) {
    res.set_header("x-aio-category", r.probe.category());
    char h[32];
    std::snprintf(h, sizeof(h), "%.4f", r.probe.entropy_bits);
    res.set_header("x-aio-entropy-bits", h);
  }
}

json aio_object(RouteRecord r, const engine::GenerationRecord &g) {
  r.generation = g;
  return route_record_json(r);
}

} // namespace

HttpServer::HttpServer(HttpParams params) : params_(std::move(params)), http_(std::make_unique<httplib::Server>()) {
  // Remember the listening socket (cpp-httplib's defaults are kept: address reuse) so bind() can raise its backlog.
  http_->set_socket_options([this](socket_t sock) {
    httplib::default_socket_options(sock);
    listen_socket_ = sock;
  });
  install_routes();
}

HttpServer::~HttpServer() { stop(); }

void HttpServer::set_load_error(const std::string &message) {
  std::atomic_store(&load_error_, std::make_shared<std::string>(message));
}

bool HttpServer::bind(std::string *error) {
  if (params_.port == 0) {
    port_ = http_->bind_to_any_port(params_.host);
  } else {
    port_ = http_->bind_to_port(params_.host, params_.port) ? params_.port : -1;
  }
  // cpp-httplib listens with a backlog of 5: a burst of new connections on a busy machine (the listener thread
  // competing with inference for the cores) can overflow it and reset a client's connection. Raise it (the kernel
  // caps it at net.core.somaxconn); listen() on a listening socket only updates the backlog.
  if (port_ > 0 && listen_socket_ >= 0) ::listen(listen_socket_, 1024);
  if (port_ <= 0 && error) *error = "cannot listen on " + params_.host + ":" + std::to_string(params_.port) +
                                    " (address in use, or not an address of this machine); pick another --port";
  return port_ > 0;
}

void HttpServer::run() {
  {
    std::lock_guard lock(run_mu_);
    if (stopped_) return; // stopped before it ever listened
    started_ = true;
  }
  http_->listen_after_bind();
  finished_ = true;
}

void HttpServer::stop() {
  if (!http_) return;
  bool started;
  {
    std::lock_guard lock(run_mu_);
    stopped_ = true;
    started = started_;
  }
  // cpp-httplib's stop() only reaches a server whose accept loop is running: one that came in the moment between
  // run() starting and that loop beginning would be lost, and run() would listen forever (aio serve hung on a model
  // that failed to load in some runs). Wait for that moment to pass.
  while (started && !http_->is_running() && !finished_) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  http_->stop();
}

void HttpServer::install_routes() {
  httplib::Server &s = *http_;
  s.set_payload_max_length(params_.max_body_bytes);

  // Every answer the server gives is an OpenAI-shaped JSON error when it is one: an unknown path (404), a body over
  // --max-body (413), a method not allowed, and - never for bad input - a handler that threw (500).
  s.set_error_handler([](const httplib::Request &req, httplib::Response &res) {
    if (!res.body.empty()) return; // a handler already wrote its error
    const int code = res.status;
    std::string message = "HTTP " + std::to_string(code);
    if (code == 404) message = "no such endpoint: " + req.method + " " + req.path + " (see GET /v1/models, POST "
                                                                                 "/v1/chat/completions, /v1/completions)";
    else if (code == 413) message = "the request body is larger than the server accepts (--max-body)";
    else if (code == 405) message = req.method + " is not allowed on " + req.path;
    const char *type = code >= 500 ? "server_error" : "invalid_request_error";
    send_json(res, code, ApiError{code, message, type, ""}.to_json());
  });
  s.set_exception_handler([](const httplib::Request &, httplib::Response &res, std::exception_ptr) {
    send_json(res, 500, ApiError{500, "internal error while handling the request", "server_error", ""}.to_json());
  });

  // Auth and readiness for every /v1 route.
  s.set_pre_routing_handler([this](const httplib::Request &req, httplib::Response &res) {
    if (req.path.rfind("/v1/", 0) != 0) return httplib::Server::HandlerResponse::Unhandled;
    if (!params_.api_key.empty() && req.get_header_value("Authorization") != "Bearer " + params_.api_key) {
      send_error(res, {401, "missing or wrong API key: send 'Authorization: Bearer <key>'", "authentication_error", ""});
      return httplib::Server::HandlerResponse::Handled;
    }
    if (draining_) {
      send_error(res, {503, "the server is shutting down and takes no new requests; retry on another instance",
                       "server_error", ""},
                 params_.retry_after_seconds);
      return httplib::Server::HandlerResponse::Handled;
    }
    if (!service()) {
      auto err = std::atomic_load(&load_error_);
      send_error(res, {503, err ? "the models failed to load: " + *err : "the models are still loading; retry shortly",
                       "server_error", ""});
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });

  s.Get("/health", [this](const httplib::Request &, httplib::Response &res) {
    auto err = std::atomic_load(&load_error_);
    if (draining_) send_json(res, 503, {{"status", "draining"}});
    else if (service()) send_json(res, 200, {{"status", "ok"}});
    else send_json(res, 503, {{"status", err ? "failed" : "loading"}, {"error", err ? *err : ""}});
  });

  s.Get("/metrics", [this](const httplib::Request &, httplib::Response &res) {
    auto svc = service();
    if (svc) svc->refresh_gauges(); // read at scrape time: a gauge is what holds now, not at the last event
    res.set_content(svc ? svc->metrics().render() : "", "text/plain; version=0.0.4");
  });

  s.Get("/v1/models", [this](const httplib::Request &, httplib::Response &res) {
    json data = json::array({{{"id", "aio"}, {"object", "model"}, {"owned_by", "aio"}, {"created", 0}}});
    for (const auto &name : service()->model_names())
      data.push_back({{"id", name}, {"object", "model"}, {"owned_by", "aio"}, {"created", 0}});
    send_json(res, 200, {{"object", "list"}, {"data", data}});
  });

  auto completion = [this](Endpoint endpoint) {
    return [this, endpoint](const httplib::Request &req, httplib::Response &res) {
      // cpp-httplib caps bodies sent with a Content-Length, not chunked ones: apply --max-body to those here, before
      // anything works on them.
      if (req.body.size() > params_.max_body_bytes)
        return send_error(res, {413,
                                "the request body (" + std::to_string(req.body.size()) + " bytes) is larger than the "
                                "server accepts (--max-body " + std::to_string(params_.max_body_bytes) + ")",
                                "invalid_request_error", ""});
      ApiRequest api;
      if (auto e = parse_request(req.body, endpoint, params_.limits, api)) return send_error(res, *e);
      auto channel = std::make_shared<StreamChannel>(api.stream);
      service()->submit(api, channel);
      const std::string id = new_id(endpoint == Endpoint::chat_completions ? "chatcmpl" : "cmpl");
      const int64_t created = std::time(nullptr);
      const std::string model = api.model;
      if (!api.stream) {
        // The record carries the whole text: wait for the outcome alone.
        channel->wait_finished();
        auto result = channel->result();
        if (!result) return send_error(res, error_from_status(result.status()), params_.retry_after_seconds);
        const RouteRecord route = channel->route().value_or(RouteRecord{});
        route_headers(res, route);
        send_json(res, 200,
                  completion_response(api, id, created, model, result->text, result->finish_reason,
                                      {result->n_prompt_tokens, result->n_generated}, aio_object(route, *result)));
        return;
      }
      // Commit to a 200 only once the answer has begun: a request that fails before its first token (an upstream
      // that is down, a prompt refused at admission) gets its real status code instead of an error event.
      while (!channel->wait_output(std::chrono::milliseconds(200))) {
      }
      if (channel->done())
        if (auto result = channel->result(); !result)
          return send_error(res, error_from_status(result.status()), params_.retry_after_seconds);
      // The route is decided before the first text: its headers go out with the 200.
      const RouteRecord route = channel->route().value_or(RouteRecord{});
      route_headers(res, route);
      res.set_header("Cache-Control", "no-cache");
      res.set_chunked_content_provider(
          "text/event-stream", [api, channel, route, id, created, model](size_t, httplib::DataSink &sink) {
            auto send = [&](const json &j) {
              const std::string line = "data: " + j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n\n";
              return sink.write(line.data(), line.size());
            };
            for (;;) {
              if (auto piece = channel->next(std::chrono::milliseconds(100))) {
                if (!send(stream_chunk(api, id, created, model, *piece, std::nullopt))) break;
                continue;
              }
              if (!sink.is_writable()) break;
              if (!channel->done()) continue;
              auto result = channel->result();
              if (result) {
                json last = stream_chunk(api, id, created, model, "", result->finish_reason);
                last["aio"] = aio_object(route, *result);
                if (api.include_usage) last["usage"] = Usage{result->n_prompt_tokens, result->n_generated}.to_json();
                send(last);
              } else {
                send(error_from_status(result.status()).to_json());
              }
              static const std::string kDone = "data: [DONE]\n\n";
              sink.write(kDone.data(), kDone.size());
              sink.done();
              return true;
            }
            channel->cancel(); // the client went away: stop generating and free the slot
            return false;
          });
    };
  };
  s.Post("/v1/chat/completions", completion(Endpoint::chat_completions));
  s.Post("/v1/completions", completion(Endpoint::completions));
}

} // namespace aio::serve
