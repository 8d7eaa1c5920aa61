#include "support/aio_server.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "support/paths.h"
#include "support/tiny_models.h"

namespace aio::test {
using nlohmann::json;

std::string serve_config(const std::string &extra_yaml, const std::string &models_yaml) {
  const std::string path = make_temp_dir("serve") + "/aio.yaml";
  std::ofstream(path) << "models:\n  small: {path: " << tiny_pair().small_path << ", n_ctx: 512}\n"
                      << "  large: {path: " << tiny_pair().large_path << ", n_ctx: 512}\n"
                      << models_yaml << "probe: {kind: fasttext, fasttext_model: builtin}\nthreads: 1\n"
                      << extra_yaml;
  return path;
}

AioServer::AioServer(std::vector<std::string> extra, std::string config) {
  if (config.empty()) config = serve_config();
  std::vector<std::string> argv = {aio_binary(), "serve", "--port", "0"};
  if (config != kNoConfig) argv.insert(argv.end(), {"--config", config});
  if (std::find(extra.begin(), extra.end(), "--slots") == extra.end()) argv.insert(argv.end(), {"--slots", "2"});
  argv.insert(argv.end(), extra.begin(), extra.end());
  proc = std::make_unique<BackgroundProcess>(argv, /*merge_stderr=*/true); // its log lines (a pool's) are on stderr
  const std::string line = proc->wait_for_line("listening on http://127.0.0.1:");
  if (line.empty()) return;
  port = std::stoi(line.substr(line.rfind(':') + 1));
  client = std::make_unique<httplib::Client>("127.0.0.1", port);
  client->set_read_timeout(60, 0);
  proc->wait_for_line("ready");
}

httplib::Result AioServer::chat(const json &body, const httplib::Headers &headers) {
  return client->Post("/v1/chat/completions", headers, body.dump(), "application/json");
}

json chat_body(const std::string &content, bool stream) {
  return {{"model", "aio"},
          {"messages", {{{"role", "user"}, {"content", content}}}},
          {"max_tokens", 12},
          {"temperature", 0},
          {"stream", stream}};
}

std::string streamed_text(const std::string &sse_body, bool *done, json *closing) {
  std::string text;
  if (done) *done = false;
  std::istringstream lines(sse_body);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("data: ", 0) != 0) continue;
    if (line == "data: [DONE]") {
      if (done) *done = true;
      continue;
    }
    const json chunk = json::parse(line.substr(6));
    // An error event (a stream cut by its upstream) or a usage chunk has no choice to read: callers look for those.
    if (!chunk.contains("choices") || !chunk["choices"].is_array() || chunk["choices"].empty()) continue;
    const json &choice = chunk["choices"][0];
    if (choice.contains("delta") && choice["delta"].contains("content"))
      text += choice["delta"]["content"].get<std::string>();
    if (choice.contains("text")) text += choice["text"].get<std::string>();
    if (closing && !choice["finish_reason"].is_null()) *closing = chunk;
  }
  return text;
}

int free_loopback_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr *>(&addr), &len) == 0)
    port = ntohs(addr.sin_port);
  close(fd);
  return port;
}

std::string LlamaServer::binary() {
  const auto path = std::filesystem::path(aio_binary()).parent_path() / "llama-server";
  return std::filesystem::exists(path) ? path.string() : "";
}

LlamaServer::LlamaServer(const std::string &model_path, int n_ctx, int port_, int n_parallel) {
  port = port_ != 0 ? port_ : free_loopback_port();
  proc = std::make_unique<BackgroundProcess>(std::vector<std::string>{
      binary(), "-m", model_path, "--host", "127.0.0.1", "--port", std::to_string(port), "-t", "1", "-c",
      std::to_string(n_ctx * n_parallel), "--parallel", std::to_string(n_parallel)});
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(1, 0);
  for (int i = 0; i < 600 && !ready; ++i) { // up to 60 s: it loads the model after it starts listening
    auto r = client.Get("/health");
    ready = r && r->status == 200;
    if (!ready) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

} // namespace aio::test

namespace aio::test {
void answer_model_list(httplib::Server &server) {
  server.Get("/v1/models", [](const httplib::Request &, httplib::Response &res) {
    res.set_content(R"({"object": "list", "data": [{"id": "large", "object": "model"}]})", "application/json");
  });
}
} // namespace aio::test
