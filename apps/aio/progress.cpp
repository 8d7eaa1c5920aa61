#include "progress.h"

#include <cstdio>
#include <unistd.h>

namespace aio::cli {

Progress::Progress(std::string what, std::string unit, double unit_scale)
    : what_(std::move(what)), unit_(std::move(unit)), scale_(unit_scale), tty_(isatty(STDERR_FILENO)),
      t0_(std::chrono::steady_clock::now()) {}

Progress::~Progress() {
  if (drew_) std::fputc('\n', stderr);
}

void Progress::update(uint64_t done, uint64_t total, const std::string &note) {
  const double frac = total ? static_cast<double>(done) / static_cast<double>(total) : 1.0;
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
  const double eta = frac > 0 ? secs * (1 - frac) / frac : 0;
  if (tty_) {
    std::fprintf(stderr, "\r  %s: %5.1f%%  %.0f / %.0f %s  ETA %4.0fs  %s ", what_.c_str(), 100 * frac, done / scale_,
                 total / scale_, unit_.c_str(), eta, note.c_str());
    drew_ = true;
  } else if (static_cast<int>(frac * 10) > last_decile_) {
    last_decile_ = static_cast<int>(frac * 10);
    std::fprintf(stderr, "  %s: %3d%% (%.0f of %.0f %s, %.0fs) %s\n", what_.c_str(), last_decile_ * 10, done / scale_,
                 total / scale_, unit_.c_str(), secs, note.c_str());
  }
}

} // namespace aio::cli
