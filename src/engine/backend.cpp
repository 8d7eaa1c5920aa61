#include "engine/backend.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "llama.h"

namespace aio::engine {
namespace {

thread_local std::string t_errors;
bool g_verbose = false;

void log_callback(ggml_log_level level, const char *text, void * /*user*/) {
  if (g_verbose) std::fputs(text, stderr);
  if (level == GGML_LOG_LEVEL_ERROR || level == GGML_LOG_LEVEL_WARN) {
    // Keep a bounded tail: enough to explain a failure, never unbounded growth in a long-running server.
    if (t_errors.size() > 4096) t_errors.erase(0, t_errors.size() - 2048);
    t_errors += text;
  }
}

} // namespace

void ensure_backend() {
  static std::once_flag once;
  std::call_once(once, [] {
    const char *env = std::getenv("AIO_LLAMA_LOG");
    g_verbose = env != nullptr && std::strcmp(env, "0") != 0;
    llama_log_set(log_callback, nullptr);
    llama_backend_init();
  });
}

std::string last_backend_error() {
  std::string s = t_errors;
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

void clear_backend_error() { t_errors.clear(); }

} // namespace aio::engine
