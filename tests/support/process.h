// Runs a program the way a user's shell would, capturing its exit code and output (for end-to-end tests).
#pragma once

#include <string>
#include <vector>

namespace aio::test {

struct ProcessResult {
  int exit_code = -1;   // the exit status, or 128 + signal number if it was killed by a signal
  bool timed_out = false;
  std::string out;
  std::string err;
};

// Runs argv[0] with the arguments, killing it after timeout_s seconds.
ProcessResult run_process(const std::vector<std::string> &argv, int timeout_s = 120);

// A program left running (a server): its stdout (and with merge_stderr its stderr too, as one stream) is read line by
// line; it is killed when this object goes away.
class BackgroundProcess {
public:
  explicit BackgroundProcess(const std::vector<std::string> &argv, bool merge_stderr = false);
  ~BackgroundProcess();
  // Reads the output until a line contains `needle`; returns that line, or "" on timeout or exit.
  std::string wait_for_line(const std::string &needle, int timeout_s = 60);
  void send_signal(int sig);
  // Waits for the exit; returns the exit code (128 + signal if killed), or -1 on timeout.
  int wait(int timeout_s = 60);
  const std::string &output() const { return out_; }
  int pid() const { return pid_; }

private:
  int pid_ = -1;
  int out_fd_ = -1;
  std::string out_;
  size_t scanned_ = 0;
};

// Runs the `aio` binary under test with these arguments.
ProcessResult run_aio(std::vector<std::string> args, int timeout_s = 120);

} // namespace aio::test
