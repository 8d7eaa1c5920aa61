// Process-wide llama.cpp set-up: backend initialisation and where llama.cpp's log lines go.
#pragma once

#include <string>

namespace aio::engine {

// Initialises the llama.cpp backend once per process (thread-safe, idempotent) and routes its log: warnings and
// errors are kept (see last_backend_error) and printed only when AIO_LLAMA_LOG=1 (then everything is printed).
void ensure_backend();

// The last error/warning lines llama.cpp logged on this thread, joined; used to explain a failed load.
std::string last_backend_error();
void clear_backend_error();

} // namespace aio::engine
