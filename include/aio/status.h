// Status and Expected<T>: how errors cross module boundaries in A-IO.
// A failed operation returns a Status that says what went wrong and what the user can do about it; exceptions never
// cross a module boundary. (std::expected is C++23; this is the small subset we need on C++20.)
#pragma once

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace aio {

enum class StatusCode {
  ok = 0,
  invalid_argument,   // the caller passed something unusable (bad flag, bad request field)
  not_found,          // a file or named thing does not exist
  invalid_file,       // a file exists but is truncated, corrupt or of the wrong kind
  context_overflow,   // a prompt or generation does not fit the context window
  resource_exhausted, // no KV slot / out of memory; retrying with less may succeed
  aborted,            // cancelled by the caller
  unavailable,        // a remote backend could not be reached or failed (HTTP 502)
  deadline_exceeded,  // a remote backend did not answer in time (HTTP 504)
  internal,           // a bug or an unexpected backend failure
};

const char *status_code_name(StatusCode code);

class [[nodiscard]] Status {
public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status ok_status() { return {}; }

  bool ok() const { return code_ == StatusCode::ok; }
  StatusCode code() const { return code_; }
  const std::string &message() const { return message_; }
  std::string to_string() const;
  // For a refusal that may be retried (a full queue, a pool with no replica up): when to try again, in seconds (0 =
  // the server's default). The HTTP layer sends it as Retry-After.
  int retry_after_seconds() const { return retry_after_seconds_; }
  Status &set_retry_after(int seconds) {
    retry_after_seconds_ = seconds;
    return *this;
  }

private:
  StatusCode code_ = StatusCode::ok;
  std::string message_;
  int retry_after_seconds_ = 0;
};

inline Status invalid_argument(std::string m) { return {StatusCode::invalid_argument, std::move(m)}; }
inline Status not_found(std::string m) { return {StatusCode::not_found, std::move(m)}; }
inline Status invalid_file(std::string m) { return {StatusCode::invalid_file, std::move(m)}; }
inline Status context_overflow(std::string m) { return {StatusCode::context_overflow, std::move(m)}; }
inline Status resource_exhausted(std::string m) { return {StatusCode::resource_exhausted, std::move(m)}; }
inline Status aborted(std::string m) { return {StatusCode::aborted, std::move(m)}; }
inline Status unavailable(std::string m) { return {StatusCode::unavailable, std::move(m)}; }
inline Status deadline_exceeded(std::string m) { return {StatusCode::deadline_exceeded, std::move(m)}; }
inline Status internal_error(std::string m) { return {StatusCode::internal, std::move(m)}; }

// A value or the Status that explains why there is none.
template <typename T> class [[nodiscard]] Expected {
public:
  Expected(T value) : v_(std::move(value)) {}
  Expected(Status status) : v_(std::move(status)) {}

  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }
  const Status &status() const {
    static const Status ok_status;
    return ok() ? ok_status : std::get<Status>(v_);
  }
  T &value() & { return std::get<T>(v_); }
  const T &value() const & { return std::get<T>(v_); }
  T &&value() && { return std::get<T>(std::move(v_)); }
  T &operator*() & { return value(); }
  const T &operator*() const & { return value(); }
  T &&operator*() && { return std::move(*this).value(); }
  T *operator->() { return &value(); }
  const T *operator->() const { return &value(); }

private:
  std::variant<T, Status> v_;
};

[[noreturn]] void check_failed(const char *expr, const char *file, int line);

} // namespace aio

// An invariant of our own code (never user input): a violation is a bug, so stop loudly.
#define AIO_CHECK(cond)                                                                                                \
  do {                                                                                                                 \
    if (!(cond)) ::aio::check_failed(#cond, __FILE__, __LINE__);                                                      \
  } while (0)

// Propagate a failed Status from an expression returning Status.
#define AIO_RETURN_IF_ERROR(expr)                                                                                      \
  do {                                                                                                                 \
    ::aio::Status aio_status_ = (expr);                                                                                \
    if (!aio_status_.ok()) return aio_status_;                                                                         \
  } while (0)
