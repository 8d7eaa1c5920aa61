// The HTTP/1.1 transport under `aio serve`: event-driven connection handling on Boost.Beast (Asio), so slow or idle
// clients cost a socket and a few buffers, never a thread. Reading is asynchronous with deadlines (idle between
// requests, headers, body), bodies are capped however they are framed (Content-Length or chunked), connections are
// capped in all and per client address, pipelined requests are answered in order, and a client that half-closes after
// sending still gets its answer. A complete request is handed to a handler on a thread of its own (handlers block:
// they wait for tokens); its writes go back through the connection's executor with a write deadline.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace aio::http {

struct ConnectionLimits {
  size_t max_connections = 4096;            // open connections in all (kept below the process's file limit)
  size_t max_connections_per_client = 1024; // open connections from one address
  double idle_timeout_seconds = 60;         // keep-alive: waiting for the next request
  double header_timeout_seconds = 10;       // from a request's first byte to the end of its headers
  double body_timeout_seconds = 30;         // reading the whole body
  double write_timeout_seconds = 30;        // one write to a client that does not read
  size_t max_header_bytes = 64 << 10;       // request line + headers (431 above)
  size_t max_body_bytes = 1 << 20;          // body, however framed (413 above)
  size_t max_handlers = 512;                // requests handled at once (503 above)
  int io_threads = 1;                       // threads running the event loop (parsing is cheap)
};

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method;
  std::string target; // as sent: path and query
  std::string path;   // without the query
  HttpHeaders headers;
  std::string body;
  std::string client; // the peer's address
  // The value of a header ("" when absent); names compare case-insensitively.
  std::string header(std::string_view name) const;
};

// How a handler answers: once with send(), or as a chunked stream (begin_stream, write_chunk..., end_stream). Each
// call blocks until the bytes are with the kernel or the write deadline passes; false means the client is gone.
class HttpResponder {
public:
  virtual ~HttpResponder() = default;
  virtual bool send(int status, const std::string &content_type, std::string body, const HttpHeaders &headers = {}) = 0;
  virtual bool begin_stream(int status, const std::string &content_type, const HttpHeaders &headers = {}) = 0;
  virtual bool write_chunk(std::string_view data) = 0;
  virtual bool end_stream() = 0;
  // A write failed or the peer has closed the connection both ways.
  virtual bool client_gone() = 0;
};

using HttpHandler = std::function<void(const HttpRequest &, HttpResponder &)>;
// The body of an error the transport answers itself (400, 408, 413, 431, 503), from its status and message.
using HttpErrorBody = std::function<std::string(int status, const std::string &message)>;

struct TransportStats {
  size_t open_connections = 0;
  size_t refused_connections = 0; // over a connection cap
  size_t timed_out = 0;           // closed by an idle, header or body deadline
  size_t active_handlers = 0;
};

class HttpTransport {
public:
  HttpTransport(ConnectionLimits limits, HttpHandler handler, HttpErrorBody error_body);
  ~HttpTransport();
  HttpTransport(const HttpTransport &) = delete;
  HttpTransport &operator=(const HttpTransport &) = delete;

  // Binds and listens; false (with *error set) if the address is taken or invalid. port 0 = any free port.
  bool bind(const std::string &host, int port, std::string *error);
  int port() const;
  // Serves until stop(); call on its own thread.
  void run();
  // Stops accepting, closes every connection, waits (briefly) for handlers to return, ends run(). Any thread, any
  // time (also before run()).
  void stop();
  TransportStats stats() const;

  struct Impl; // the event loop, the connection registry and the handler threads (defined with the connections)

private:
  std::shared_ptr<Impl> impl_;
};

} // namespace aio::http
