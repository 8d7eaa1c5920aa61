#include "http/transport.h"

#include <poll.h>
#include <sys/resource.h>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace aio::http {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

std::string HttpRequest::header(std::string_view name) const {
  for (const auto &[k, v] : headers)
    if (beast::iequals(k, beast::string_view(name.data(), name.size()))) return v;
  return "";
}

namespace {

Clock::duration seconds(double s) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

// Threads for handlers, started on demand up to a cap; a thread idle for a while retires. Handlers block (they wait
// for a model's tokens), so each running request holds one thread - and only running requests do.
class HandlerPool : public std::enable_shared_from_this<HandlerPool> {
public:
  explicit HandlerPool(size_t max_threads) : max_threads_(max_threads) {}

  // False when every thread is busy and the cap is reached, or after close().
  bool submit(std::function<void()> job) {
    std::lock_guard lock(mu_);
    if (closed_) return false;
    if (jobs_.size() + 1 > idle_) {
      if (threads_ >= max_threads_) return false;
      ++threads_;
      std::thread([self = shared_from_this()] { self->loop(); }).detach();
    }
    jobs_.push_back(std::move(job));
    wake_.notify_one();
    return true;
  }

  // No new jobs; waits up to `timeout` for the running ones to return.
  void close(Clock::duration timeout) {
    std::unique_lock lock(mu_);
    closed_ = true;
    wake_.notify_all();
    finished_.wait_for(lock, timeout, [&] { return threads_ == 0; });
  }

  size_t busy() const {
    std::lock_guard lock(mu_);
    return busy_;
  }

private:
  void loop() {
    std::unique_lock lock(mu_);
    for (;;) {
      ++idle_;
      const bool woken = wake_.wait_for(lock, std::chrono::seconds(30), [&] { return closed_ || !jobs_.empty(); });
      --idle_;
      if (!jobs_.empty()) {
        auto job = std::move(jobs_.front());
        jobs_.pop_front();
        ++busy_;
        lock.unlock();
        job();
        job = nullptr; // release what it holds (the connection) before we count it done
        lock.lock();
        --busy_;
        continue;
      }
      if (closed_ || !woken) break;
    }
    --threads_;
    finished_.notify_all();
  }

  const size_t max_threads_;
  mutable std::mutex mu_;
  std::condition_variable wake_, finished_;
  std::deque<std::function<void()>> jobs_;
  size_t threads_ = 0, idle_ = 0, busy_ = 0;
  bool closed_ = false;
};

class Connection;

} // namespace

struct HttpTransport::Impl {
  ConnectionLimits limits;
  HttpHandler handler;
  HttpErrorBody error_body;
  std::shared_ptr<HandlerPool> pool;

  std::mutex mu; // the registry below
  std::map<Connection *, std::weak_ptr<Connection>> connections;
  std::map<std::string, size_t> per_client;
  std::atomic<size_t> refused{0}, timed_out{0};
  std::atomic<bool> stopping{false};
  std::mutex run_mu;
  bool started = false, stopped = false;

  // Declared last, destroyed first: destroying the loop destroys the connections its pending operations hold, and
  // their destructors still use the registry above.
  net::io_context io;
  tcp::acceptor acceptor{io};
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;

  void accept_next();
  void on_accept(tcp::socket socket);
  void forget(Connection *c, const std::string &client) {
    std::lock_guard lock(mu);
    connections.erase(c);
    if (auto it = per_client.find(client); it != per_client.end() && --it->second == 0) per_client.erase(it);
  }
};

namespace {

http::response<http::string_body> error_response(HttpTransport::Impl &t, int status, const std::string &message) {
  http::response<http::string_body> res{static_cast<http::status>(status), 11};
  res.set(http::field::content_type, "application/json");
  res.body() = t.error_body ? t.error_body(status, message) : message;
  res.keep_alive(false);
  res.prepare_payload();
  return res;
}

// One client connection. Reading (idle wait, headers, body) runs on the event loop; a complete request goes to a
// handler thread, whose writes are posted back to the loop and awaited; then the loop reads the next request.
class Connection : public std::enable_shared_from_this<Connection>, public HttpResponder {
public:
  Connection(tcp::socket socket, HttpTransport::Impl &t, std::string client)
      : socket_(std::move(socket)), deadline_(socket_.get_executor()), t_(t), client_(std::move(client)) {}
  ~Connection() override { t_.forget(this, client_); }

  void start() { read_next(); }
  bool handling() const { return handling_; }

  // From stop(): end whatever the connection is doing.
  void close_now() {
    net::post(socket_.get_executor(), [self = shared_from_this()] { self->close(); });
  }

  bool send(int status, const std::string &content_type, std::string body, const HttpHeaders &headers) override {
    responded_ = true;
    if (head_only_) {
      // HEAD: the GET answer's headers, its length included, and no body (RFC 9110 9.3.2).
      auto res = std::make_shared<http::response<http::empty_body>>(static_cast<http::status>(status), 11);
      res->set(http::field::content_type, content_type);
      for (const auto &[k, v] : headers) res->set(k, v);
      res->keep_alive(keep_alive_);
      res->content_length(body.size());
      auto sr = std::make_shared<http::response_serializer<http::empty_body>>(*res);
      return blocking(
          [this, res, sr](auto done) { http::async_write_header(socket_, *sr, [res, sr, done](auto ec, auto) { done(ec); }); });
    }
    auto res = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(status), 11);
    res->set(http::field::content_type, content_type);
    for (const auto &[k, v] : headers) res->set(k, v);
    res->keep_alive(keep_alive_);
    res->body() = std::move(body);
    res->prepare_payload();
    return blocking([this, res](auto done) { http::async_write(socket_, *res, [res, done](auto ec, auto) { done(ec); }); });
  }

  bool begin_stream(int status, const std::string &content_type, const HttpHeaders &headers) override {
    responded_ = true;
    head_ = std::make_shared<http::response<http::empty_body>>(static_cast<http::status>(status), 11);
    head_->set(http::field::content_type, content_type);
    for (const auto &[k, v] : headers) head_->set(k, v);
    head_->keep_alive(keep_alive_);
    head_->chunked(true);
    auto sr = std::make_shared<http::response_serializer<http::empty_body>>(*head_);
    return blocking([this, sr](auto done) { http::async_write_header(socket_, *sr, [sr, done](auto ec, auto) { done(ec); }); });
  }

  bool write_chunk(std::string_view data) override {
    if (data.empty()) return !broken_;
    auto bytes = std::make_shared<std::string>(data);
    return blocking([this, bytes](auto done) {
      net::async_write(socket_, http::make_chunk(net::buffer(*bytes)), [bytes, done](auto ec, auto) { done(ec); });
    });
  }

  bool end_stream() override {
    return blocking([this](auto done) { net::async_write(socket_, http::make_chunk_last(), [done](auto ec, auto) { done(ec); }); });
  }

  bool client_gone() override {
    if (broken_) return true;
    pollfd p{socket_.native_handle(), POLLRDHUP, 0};
    if (poll(&p, 1, 0) <= 0) return false;
    if ((p.revents & (POLLHUP | POLLERR | POLLNVAL)) != 0) return true; // closed both ways, or reset
    if ((p.revents & POLLRDHUP) == 0 || responded_ || probed_) return false;
    // The client has stopped sending. It may have closed the socket (gone) or only half-closed it (still reading):
    // TCP cannot tell the two apart until we write. So write an interim "100 Continue" - a response every HTTP/1.1
    // client must be able to skip (RFC 9110 15.2) - and a closed socket answers it with a reset, which the next call
    // sees as POLLERR. Only ever sent before the answer has begun, and once.
    probed_ = true;
    auto interim = std::make_shared<std::string>("HTTP/1.1 100 Continue\r\n\r\n");
    return !blocking([this, interim](auto done) {
      net::async_write(socket_, net::buffer(*interim), [interim, done](auto ec, auto) { done(ec); });
    });
  }

private:
  void arm(double seconds_from_now) {
    expired_ = false;
    deadline_.expires_after(seconds(seconds_from_now));
    deadline_.async_wait([self = shared_from_this(), generation = ++deadline_generation_](beast::error_code ec) {
      if (ec || generation != self->deadline_generation_) return;
      self->expired_ = true;
      beast::error_code ignored;
      self->socket_.cancel(ignored);
    });
  }
  void disarm() {
    ++deadline_generation_;
    deadline_.cancel();
  }

  // Wait for the next request's first bytes (keep-alive idle deadline); bytes already read (pipelining) go on at once.
  void read_next() {
    if (t_.stopping) return close();
    if (buffer_.size() > 0) return read_header();
    arm(t_.limits.idle_timeout_seconds);
    socket_.async_read_some(buffer_.prepare(8192), [self = shared_from_this()](beast::error_code ec, size_t n) {
      self->disarm();
      if (ec) {
        if (self->expired_) ++self->t_.timed_out;
        return self->close(); // idle too long, or the client closed: nothing to answer
      }
      self->buffer_.commit(n);
      self->read_header();
    });
  }

  void read_header() {
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(t_.limits.max_header_bytes));
    parser_->body_limit(t_.limits.max_body_bytes);
    arm(t_.limits.header_timeout_seconds);
    http::async_read_header(socket_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, size_t) {
      self->disarm();
      self->on_header(ec);
    });
  }

  void on_header(beast::error_code ec) {
    if (ec) return on_read_error(ec, "headers");
    const auto &req = parser_->get();
    if (const auto length = parser_->content_length(); length && *length > t_.limits.max_body_bytes)
      return reply_error(413, "the request body (" + std::to_string(*length) + " bytes) is larger than the server "
                              "accepts (--max-body " + std::to_string(t_.limits.max_body_bytes) + ")");
    if (beast::iequals(req[http::field::expect], "100-continue")) {
      auto cont = std::make_shared<http::response<http::empty_body>>(http::status::continue_, 11);
      arm(t_.limits.write_timeout_seconds);
      http::async_write(socket_, *cont, [self = shared_from_this(), cont](beast::error_code ec, size_t) {
        self->disarm();
        if (ec) return self->close();
        self->read_body();
      });
      return;
    }
    read_body();
  }

  void read_body() {
    arm(t_.limits.body_timeout_seconds);
    http::async_read(socket_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, size_t) {
      self->disarm();
      if (ec) return self->on_read_error(ec, "body");
      self->dispatch();
    });
  }

  void on_read_error(beast::error_code ec, const char *part) {
    if (expired_) {
      ++t_.timed_out;
      const double limit = std::string(part) == "headers" ? t_.limits.header_timeout_seconds : t_.limits.body_timeout_seconds;
      return reply_error(408, std::string("the request's ") + part + " did not arrive within " +
                                  std::to_string(static_cast<int>(limit)) + " s");
    }
    if (ec == http::error::body_limit)
      return reply_error(413, "the request body is larger than the server accepts (--max-body " +
                                  std::to_string(t_.limits.max_body_bytes) + ")");
    if (ec == http::error::header_limit)
      return reply_error(431, "the request's headers are larger than " + std::to_string(t_.limits.max_header_bytes) +
                                  " bytes");
    if (ec == http::error::end_of_stream || ec == net::error::eof || ec == net::error::connection_reset ||
        ec == net::error::operation_aborted)
      return close(); // the client left mid-request
    reply_error(400, "malformed HTTP request (" + ec.message() + ")");
  }

  void dispatch() {
    auto &msg = parser_->get();
    auto req = std::make_shared<HttpRequest>();
    req->method = std::string(msg.method_string());
    req->target = std::string(msg.target());
    req->path = req->target.substr(0, req->target.find('?'));
    for (const auto &f : msg) req->headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    req->body = std::move(msg.body());
    req->client = client_;
    keep_alive_ = msg.keep_alive();
    head_only_ = msg.method() == http::verb::head;
    parser_.reset();
    responded_ = false;
    probed_ = false;
    handling_ = true;
    const bool taken = t_.pool->submit([self = shared_from_this(), req] { self->handle(*req); });
    if (!taken) handling_ = false;
    if (!taken) reply_error(503, "the server is handling as many requests as it can (" +
                                     std::to_string(t_.limits.max_handlers) + "); retry shortly");
  }

  // On a handler thread.
  void handle(const HttpRequest &req) {
    try {
      t_.handler(req, *this);
    } catch (...) {
      if (!responded_) {
        auto res = error_response(t_, 500, "internal error while handling the request");
        send(500, "application/json", res.body(), {});
      }
      broken_ = true; // a half-written stream cannot go on
    }
    if (!responded_) send(500, "application/json", error_response(t_, 500, "the handler gave no answer").body(), {});
    net::post(socket_.get_executor(), [self = shared_from_this()] {
      self->handling_ = false;
      if (self->keep_alive_ && !self->broken_) self->read_next();
      else self->close();
    });
  }

  // Runs an asynchronous write on the loop and waits for it (the write deadline ends it; a loop that stopped, too).
  template <class Start> bool blocking(Start start) {
    if (broken_) return false;
    auto result = std::make_shared<std::promise<beast::error_code>>();
    auto done = result->get_future();
    net::post(socket_.get_executor(), [self = shared_from_this(), start, result]() mutable {
      self->arm(self->t_.limits.write_timeout_seconds);
      start([self, result](beast::error_code ec) {
        self->disarm();
        result->set_value(ec);
      });
    });
    try {
      if (done.wait_for(seconds(t_.limits.write_timeout_seconds + 5)) != std::future_status::ready || done.get())
        broken_ = true;
    } catch (const std::future_error &) {
      broken_ = true; // the loop stopped before the write ran
    }
    return !broken_;
  }

  // An error the transport answers itself; the connection closes after it (the request's framing may be unknown).
  void reply_error(int status, const std::string &message) {
    auto res = std::make_shared<http::response<http::string_body>>(error_response(t_, status, message));
    arm(std::min(5.0, t_.limits.write_timeout_seconds));
    http::async_write(socket_, *res, [self = shared_from_this(), res](beast::error_code ec, size_t) {
      if (ec) return self->close();
      self->linger();
    });
  }

  // After an error reply to a request whose rest was not read: stop sending, then read and drop what the client still
  // sends for a moment before closing - closing with unread bytes would reset the connection and could destroy the
  // reply before the client reads it (nginx's lingering close).
  void linger() {
    beast::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_send, ec);
    arm(2);
    auto sink = std::make_shared<std::array<char, 16384>>();
    linger_read(sink, 0);
  }

  void linger_read(std::shared_ptr<std::array<char, 16384>> sink, size_t dropped) {
    socket_.async_read_some(net::buffer(*sink), [self = shared_from_this(), sink, dropped](beast::error_code ec, size_t n) {
      if (ec || dropped + n > (8u << 20)) return self->close();
      self->linger_read(sink, dropped + n);
    });
  }

  void close() {
    disarm();
    beast::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_send, ec);
    socket_.close(ec);
  }

  tcp::socket socket_;
  // One deadline at a time (idle, headers, body, a write): on expiry it cancels the socket's operations - it does not
  // close the socket, so a 408 can still be written.
  net::steady_timer deadline_;
  uint64_t deadline_generation_ = 0;
  bool expired_ = false;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<http::response<http::empty_body>> head_;
  HttpTransport::Impl &t_;
  std::string client_;
  bool keep_alive_ = false;
  bool head_only_ = false; // the request is a HEAD: answers carry headers only
  std::atomic<bool> broken_{false};
  bool responded_ = false;
  bool probed_ = false; // an interim 100 went out to learn whether a client that stopped sending is still there
  std::atomic<bool> handling_{false}; // a request is with a handler (stop() lets it finish)
};

// Refused over a cap: a short 503 and close, from the loop (never blocking it).
void refuse(HttpTransport::Impl &t, tcp::socket socket, const std::string &why) {
  struct Refusal {
    tcp::socket socket;
    http::response<http::string_body> res;
  };
  auto r = std::make_shared<Refusal>(Refusal{std::move(socket), error_response(t, 503, why)});
  r->res.set(http::field::retry_after, "1");
  http::async_write(r->socket, r->res, [r](beast::error_code, size_t) {
    beast::error_code ec;
    r->socket.shutdown(tcp::socket::shutdown_both, ec);
    r->socket.close(ec);
  });
}

} // namespace

void HttpTransport::Impl::accept_next() {
  acceptor.async_accept(net::make_strand(io), [this](beast::error_code ec, tcp::socket socket) {
    if (!acceptor.is_open()) return;
    if (ec) {
      // Out of descriptors (or another transient failure): try again shortly instead of spinning.
      auto timer = std::make_shared<net::steady_timer>(io, std::chrono::milliseconds(20));
      timer->async_wait([this, timer](beast::error_code) { accept_next(); });
      return;
    }
    on_accept(std::move(socket));
    accept_next();
  });
}

void HttpTransport::Impl::on_accept(tcp::socket socket) {
  beast::error_code ec;
  const auto peer = socket.remote_endpoint(ec);
  const std::string client = ec ? "?" : peer.address().to_string();
  std::shared_ptr<Connection> c;
  {
    std::lock_guard lock(mu);
    if (connections.size() >= limits.max_connections) {
      ++refused;
      return refuse(*this, std::move(socket), "the server has as many connections open as it takes (" +
                                                   std::to_string(limits.max_connections) + "); retry shortly");
    }
    if (per_client[client] >= limits.max_connections_per_client) {
      ++refused;
      return refuse(*this, std::move(socket), "too many connections from " + client + " (" +
                                                   std::to_string(limits.max_connections_per_client) + ")");
    }
    socket.set_option(tcp::no_delay(true), ec); // streamed tokens go out at once
    c = std::make_shared<Connection>(std::move(socket), *this, client);
    connections[c.get()] = c;
    ++per_client[client];
  }
  c->start();
}

HttpTransport::HttpTransport(ConnectionLimits limits, HttpHandler handler, HttpErrorBody error_body)
    : impl_(std::make_shared<Impl>()) {
  // Every connection is a descriptor: take the hard limit, and keep the connection cap under it.
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    setrlimit(RLIMIT_NOFILE, &r);
  }
  if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur != RLIM_INFINITY && r.rlim_cur > 128)
    limits.max_connections = std::min<size_t>(limits.max_connections, static_cast<size_t>(r.rlim_cur) - 128);
  impl_->limits = limits;
  impl_->handler = std::move(handler);
  impl_->error_body = std::move(error_body);
  impl_->pool = std::make_shared<HandlerPool>(limits.max_handlers);
}

HttpTransport::~HttpTransport() {
  stop();
  // A handler that outlived stop()'s wait still holds its connection, which refers to this state: keep the state
  // for the rest of the process rather than free it under the handler.
  if (impl_->pool->busy() > 0) new std::shared_ptr<Impl>(impl_);
}

bool HttpTransport::bind(const std::string &host, int port, std::string *error) {
  beast::error_code ec;
  tcp::resolver resolver(impl_->io);
  const auto results = resolver.resolve(host, std::to_string(port), tcp::resolver::passive, ec);
  if (!ec && !results.empty()) {
    const tcp::endpoint ep = *results.begin();
    auto &a = impl_->acceptor;
    if (!a.open(ep.protocol(), ec) && !a.set_option(net::socket_base::reuse_address(true), ec) && !a.bind(ep, ec) &&
        !a.listen(1024, ec))
      return true;
    a.close();
  }
  if (error)
    *error = "cannot listen on " + host + ":" + std::to_string(port) + " (" + ec.message() +
             "; address in use, or not an address of this machine); pick another --port";
  return false;
}

int HttpTransport::port() const {
  beast::error_code ec;
  const auto ep = impl_->acceptor.local_endpoint(ec);
  return ec ? -1 : ep.port();
}

void HttpTransport::run() {
  {
    std::lock_guard lock(impl_->run_mu);
    if (impl_->stopped) return;
    impl_->started = true;
    impl_->work.emplace(impl_->io.get_executor());
  }
  impl_->accept_next();
  std::vector<std::thread> extra;
  for (int i = 1; i < impl_->limits.io_threads; ++i) extra.emplace_back([this] { impl_->io.run(); });
  impl_->io.run();
  for (auto &t : extra) t.join();
}

void HttpTransport::stop() {
  {
    std::lock_guard lock(impl_->run_mu);
    if (impl_->stopped) return;
    impl_->stopped = true;
    if (!impl_->started) return;
  }
  impl_->stopping = true;
  net::post(impl_->io, [impl = impl_] {
    beast::error_code ec;
    impl->acceptor.close(ec);
  });
  // Connections waiting for a request close now; those with a request in hand finish it first (a drained request's
  // answer is written whole), within a bound, then close too.
  auto close_connections = [&](bool busy_ones_too) {
    std::vector<std::shared_ptr<Connection>> open; // taken out of the lock: a last owner's destructor takes it too
    {
      std::lock_guard lock(impl_->mu);
      for (auto &[raw, weak] : impl_->connections)
        if (auto c = weak.lock(); c && (busy_ones_too || !c->handling())) open.push_back(std::move(c));
    }
    for (auto &c : open) c->close_now();
  };
  close_connections(false);
  impl_->pool->close(std::chrono::seconds(5));
  close_connections(true); // handlers still writing to a client that does not read see their writes fail
  impl_->pool->close(std::chrono::seconds(1));
  impl_->work.reset();
  impl_->io.stop();
}

TransportStats HttpTransport::stats() const {
  TransportStats s;
  {
    std::lock_guard lock(impl_->mu);
    s.open_connections = impl_->connections.size();
  }
  s.refused_connections = impl_->refused;
  s.timed_out = impl_->timed_out;
  s.active_handlers = impl_->pool->busy();
  return s;
}

} // namespace aio::http
