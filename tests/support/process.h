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

// Runs the `aio` binary under test with these arguments.
ProcessResult run_aio(std::vector<std::string> args, int timeout_s = 120);

} // namespace aio::test
