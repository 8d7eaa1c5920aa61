#include "observe/step_trace.h"

#include <cerrno>
#include <cstring>

#include <nlohmann/json.hpp>

namespace aio::observe {

Expected<std::unique_ptr<StepTrace>> StepTrace::open(const std::string &path, uint64_t max_bytes) {
  if (path.empty()) return invalid_argument("the step trace needs a file name: --trace-steps FILE");
  std::FILE *f = std::fopen(path.c_str(), "w");
  if (!f)
    return invalid_argument("cannot write the step trace to " + path + ": " + std::strerror(errno) +
                            "; give --trace-steps a file in a directory this user can write");
  return std::unique_ptr<StepTrace>(new StepTrace(path, f, max_bytes));
}

StepTrace::StepTrace(std::string path, std::FILE *file, uint64_t max_bytes)
    : path_(std::move(path)), max_bytes_(max_bytes), t0_(std::chrono::steady_clock::now()), file_(file) {}

StepTrace::~StepTrace() {
  if (file_) std::fclose(file_);
}

void StepTrace::record(const std::string &model, const exec::StepEvent &step) {
  char head[64], tail[256];
  std::snprintf(head, sizeof(head), "{\"t\":%.6f,\"model\":", std::chrono::duration<double>(step.start - t0_).count());
  std::snprintf(tail, sizeof(tail),
                ",\"ms\":%.3f,\"forward_ms\":%.3f,\"decode\":%d,\"prefill\":%d,\"active\":%zu,\"queued\":%zu,"
                "\"others_waiting\":%s}\n",
                step.ms, step.tokens.forward_ms, step.tokens.decode, step.tokens.prefill, step.active, step.queued,
                step.others_waiting ? "true" : "false");
  // The model's name comes from the config: quoted by the JSON library, whatever characters it has.
  const std::string line = head + nlohmann::json(model).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
                           tail;
  std::lock_guard lock(mu_);
  if (!file_) return;
  if (written_ + line.size() > max_bytes_)
    return stop("it reached its limit of " + std::to_string(max_bytes_) + " bytes");
  if (std::fwrite(line.data(), 1, line.size(), file_) != line.size() || std::fflush(file_) != 0)
    return stop(std::string("a write failed (") + std::strerror(errno) + ")");
  written_ += line.size();
}

void StepTrace::stop(const std::string &why) {
  std::fprintf(stderr, "aio: the step trace to %s stopped: %s; serving goes on without it\n", path_.c_str(),
               why.c_str());
  std::fclose(file_);
  file_ = nullptr;
}

bool StepTrace::writing() const {
  std::lock_guard lock(mu_);
  return file_ != nullptr;
}

uint64_t StepTrace::bytes_written() const {
  std::lock_guard lock(mu_);
  return written_;
}

} // namespace aio::observe
