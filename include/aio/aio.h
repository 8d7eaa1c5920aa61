// A-IO embedded in a program: load a config (its models, probe and policies), then route and answer requests in this
// process - the same path `aio serve`, `aio generate` and `aio bench` take. This header and the ones it includes
// (include/aio/) are the library's whole face; examples/embed/ is a program that uses nothing else.
//
//   auto aio = aio::Orchestrator::open("configs/aio.yaml");
//   if (!aio) { std::fprintf(stderr, "%s\n", aio.status().message().c_str()); return 1; }
//   aio::Request request;
//   request.messages = {aio::Message::user("Write a function that reverses a list.")};
//   auto answer = (*aio)->generate(request, aio::GenerateParams{});
//   // answer->text, answer->record.route.model ("small"), answer->record.route.reason ...
//
// Thread-safety: route() and generate() may be called from any number of threads at once (requests are batched on
// each model's engine).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "aio/generate_params.h"
#include "aio/request.h"
#include "aio/route.h"
#include "aio/route_json.h"
#include "aio/status.h"

namespace aio {

// One request's answer: its text and the route record (what the probe read, where the policy sent it and why, and
// what generating it took: record.generation).
struct Answer {
  std::string text;
  RouteRecord record;
};

struct OpenOptions {
  int32_t slots = 1;  // requests each model decodes together (batched); more wait in its queue
  size_t queue = 64;  // requests that may wait per model before it refuses more
};

class Orchestrator {
public:
  // Loads the config at `config_path` and every model it names (local GGUFs, remote endpoints), the probe and the
  // policies. Errors say which file or config key is wrong and what to do about it.
  static Expected<std::unique_ptr<Orchestrator>> open(const std::string &config_path, const OpenOptions &options = {});
  ~Orchestrator();
  Orchestrator(const Orchestrator &) = delete;
  Orchestrator &operator=(const Orchestrator &) = delete;

  // Probe and policy only: where `request` would go and why. Blocks.
  Expected<RouteRecord> route(const Request &request);
  // Probe, policy, then the answer from the chosen model with the chosen strategy. Blocks; `on_text` (optional)
  // receives the answer's pieces as they are generated (return false to stop).
  Expected<Answer> generate(const Request &request, const GenerateParams &params,
                            const std::function<bool(std::string_view piece)> &on_text = {});
  // The configured models' names, and the serving policy's.
  std::vector<std::string> models() const;
  const std::string &policy() const;

private:
  struct Impl;
  explicit Orchestrator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

} // namespace aio
