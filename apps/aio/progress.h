// Progress of a long command on stderr: a self-updating line with ETA on a terminal, a line every 10% otherwise
// (logs stay readable).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace aio::cli {

class Progress {
public:
  // `what` names the work ("probing", "writing models/x.gguf"); `unit` the things counted ("prompts", "MiB").
  Progress(std::string what, std::string unit, double unit_scale = 1.0);
  ~Progress();
  // `note` is shown after the counts (e.g. live tokens/s).
  void update(uint64_t done, uint64_t total, const std::string &note = "");

private:
  std::string what_, unit_;
  double scale_;
  bool tty_;
  int last_decile_ = -1;
  bool drew_ = false;
  std::chrono::steady_clock::time_point t0_;
};

} // namespace aio::cli
