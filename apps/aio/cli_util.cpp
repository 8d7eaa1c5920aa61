#include <cstdio>
#include <fstream>
#include <thread>

#include <sys/resource.h>
#include <sys/utsname.h>

#include "commands.h"

namespace aio::cli {

int report_error(const Status &status) {
  std::fprintf(stderr, "aio: error: %s\n", status.message().c_str());
  return status.code() == StatusCode::invalid_argument ? kExitUsage : kExitFailure;
}

nlohmann::json model_info_json(const engine::ModelInfo &info) {
  nlohmann::json j = {
      {"path", info.path},           {"name", info.name},           {"arch", info.arch},
      {"description", info.description}, {"file_type", info.file_type}, {"n_params", info.n_params},
      {"n_bytes", info.n_bytes},     {"n_vocab", info.n_vocab},     {"n_ctx_train", info.n_ctx_train},
      {"n_layer", info.n_layer},     {"n_embd", info.n_embd},       {"n_head", info.n_head},
      {"n_head_kv", info.n_head_kv}, {"has_chat_template", info.has_chat_template},
      {"synthetic", info.synthetic},
  };
  if (info.synthetic) j["synthetic_preset"] = info.synthetic_preset;
  return j;
}

Expected<std::unique_ptr<core::Router>> load_router(const ConfigSource &source, int32_t n_slots) {
  auto cfg = load_config_source(source);
  if (!cfg) return cfg.status();
  return core::Router::create(std::move(*cfg), {.n_slots = n_slots});
}

Request make_request(const std::string &text, bool chat) {
  Request r;
  if (chat) r.messages = {Message::user(text)};
  else r.prompt = text;
  return r;
}

std::string machine_description() {
  std::string cpu;
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; cpu.empty() && std::getline(cpuinfo, line);)
    if (line.rfind("model name", 0) == 0 && line.find(':') != std::string::npos) cpu = line.substr(line.find(':') + 2);
  double mem_gib = 0;
  std::ifstream meminfo("/proc/meminfo");
  for (std::string key; meminfo >> key;) {
    if (key == "MemTotal:") {
      double kib = 0;
      meminfo >> kib;
      mem_gib = kib / (1024.0 * 1024.0);
      break;
    }
    meminfo.ignore(256, '\n');
  }
  utsname u{};
  uname(&u);
  char out[512];
  std::snprintf(out, sizeof(out), "%s, %u hardware threads, %.1f GiB RAM, %s %s %s", cpu.empty() ? "unknown CPU" : cpu.c_str(),
                std::thread::hardware_concurrency(), mem_gib, u.sysname, u.release, u.machine);
  return out;
}

uint64_t peak_rss_bytes() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<uint64_t>(ru.ru_maxrss) * 1024; // Linux reports KiB
}

} // namespace aio::cli
