#include "aio/status.h"

namespace aio {

const char *status_code_name(StatusCode code) {
  switch (code) {
  case StatusCode::ok: return "ok";
  case StatusCode::invalid_argument: return "invalid_argument";
  case StatusCode::not_found: return "not_found";
  case StatusCode::invalid_file: return "invalid_file";
  case StatusCode::context_overflow: return "context_overflow";
  case StatusCode::resource_exhausted: return "resource_exhausted";
  case StatusCode::aborted: return "aborted";
  case StatusCode::unavailable: return "unavailable";
  case StatusCode::deadline_exceeded: return "deadline_exceeded";
  case StatusCode::internal: return "internal";
  }
  return "unknown";
}

std::string Status::to_string() const {
  return ok() ? std::string("ok") : std::string(status_code_name(code_)) + ": " + message_;
}

void check_failed(const char *expr, const char *file, int line) {
  std::fprintf(stderr, "aio: internal invariant violated: %s (%s:%d). Please report this bug.\n", expr, file, line);
  std::abort();
}

} // namespace aio
