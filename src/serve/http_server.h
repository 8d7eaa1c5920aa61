// The OpenAI-compatible HTTP front of A-IO. It only translates: HTTP + JSON in, AioService, JSON or server-sent events
// out, over the event-driven transport (http/transport.h: deadlines, caps, pipelining). It listens at once and
// answers /health with 503 until the models are loaded.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "http/transport.h"
#include "serve/service.h"

namespace aio::serve {

struct HttpParams {
  std::string host = "127.0.0.1";
  int port = 8080;                     // 0 = any free port (see bound_port())
  std::string api_key;                 // non-empty: every /v1 request needs "Authorization: Bearer <key>"; so do
                                       // /metrics and /health's details
  bool metrics_public = false;         // /metrics without the key (a scraper that cannot send one)
  http::ConnectionLimits connection;         // timeouts, connection caps, header and body size caps
  openai::RequestLimits limits;
  int retry_after_seconds = 1;         // sent with 429
};

class HttpServer {
public:
  explicit HttpServer(HttpParams params);
  ~HttpServer();

  // Binds the socket; false (with *error set) if the address is taken or invalid.
  bool bind(std::string *error);
  int bound_port() const { return port_; }
  // Serves until stop(); call on its own thread. Models are attached with set_service when loaded.
  void run();
  void set_service(std::shared_ptr<AioService> service) { std::atomic_store(&service_, std::move(service)); }
  void set_load_error(const std::string &message);
  // Shutting down: /health answers 503 at once and every new /v1 request gets 503 with Retry-After, while the
  // requests already running finish.
  void set_draining() { draining_ = true; }
  void stop();

private:
  void handle(const http::HttpRequest &req, http::HttpResponder &res);
  // nullopt when the request may use what the API key guards (or no key is set); else the 401 (400 for two
  // Authorization headers) to answer with.
  std::optional<openai::ApiError> check_key(const http::HttpRequest &req) const;
  void health(const http::HttpRequest &req, http::HttpResponder &res);
  void metrics(const http::HttpRequest &req, http::HttpResponder &res);
  // A chat or completion request: parsed, handed to the service, answered whole or streamed.
  void completion(openai::Endpoint endpoint, const http::HttpRequest &req, http::HttpResponder &res);
  void answer_streamed(const openai::ApiRequest &api, const std::string &id, StreamChannel &channel,
                       http::HttpResponder &res);
  std::shared_ptr<AioService> service() const { return std::atomic_load(&service_); }

  HttpParams params_;
  std::unique_ptr<http::HttpTransport> transport_;
  std::shared_ptr<AioService> service_;
  std::shared_ptr<std::string> load_error_;
  int port_ = 0;
  std::atomic<bool> draining_{false};
  std::mutex scrape_mu_;
};

} // namespace aio::serve
