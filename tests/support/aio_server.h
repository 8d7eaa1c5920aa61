// `aio serve` under test: the real binary on a free loopback port with the tiny pair, and an HTTP client for it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "support/process.h"

namespace aio::test {

// A config over the tiny pair (fastText probe, one thread) plus `extra_yaml` appended (e.g. more model entries).
std::string serve_config(const std::string &extra_yaml = "", const std::string &models_yaml = "");

struct AioServer {
  std::unique_ptr<BackgroundProcess> proc;
  int port = 0;
  std::unique_ptr<httplib::Client> client;

  // Starts `aio serve --config CONFIG --port 0 [--slots 2] EXTRA...` and waits until it is ready (port stays 0 when
  // it never listened: the test then reports proc->output()). CONFIG kNoConfig: no --config (EXTRA names the models,
  // e.g. --small A --large B).
  static constexpr const char *kNoConfig = "(none)";
  explicit AioServer(std::vector<std::string> extra = {}, std::string config = "");
  httplib::Result chat(const nlohmann::json &body, const httplib::Headers &headers = {});
};

// A chat request for model "aio": one user message, greedy, 12 tokens.
nlohmann::json chat_body(const std::string &content, bool stream = false);

// The text of a streamed chat response (server-sent events); *done is set when `data: [DONE]` came, *closing gets the
// last chunk that had a finish_reason.
std::string streamed_text(const std::string &sse_body, bool *done = nullptr, nlohmann::json *closing = nullptr);

// A TCP port on 127.0.0.1 that was free a moment ago.
int free_loopback_port();

// What a pool's health check asks of an upstream (GET /v1/models): a scripted upstream answers it as a real one does.
void answer_model_list(httplib::Server &server);

// llama.cpp's llama-server (built from the pinned source next to the aio binary) serving one GGUF on loopback.
struct LlamaServer {
  std::unique_ptr<BackgroundProcess> proc;
  int port = 0;
  bool ready = false;
  // Where the binary is expected; "" when this build has no llama.cpp tools (e.g. the asan preset).
  static std::string binary();
  // port 0: a free one; else that port (a replica restarted where it was). n_parallel: its slots.
  explicit LlamaServer(const std::string &model_path, int n_ctx = 1024, int port = 0, int n_parallel = 1);
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port) + "/v1"; }
};

} // namespace aio::test
