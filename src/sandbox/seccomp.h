// The seccomp filter every sandboxed process runs under (built with libseccomp, handed to bubblewrap as BPF): the
// system calls that could undo the sandbox or reach past it - mounts, new namespaces, ptrace and other processes'
// memory, kernel keyrings, BPF, modules, io_uring (which bypasses seccomp) - fail with EPERM.
#pragma once

#include <string>
#include <vector>

#include "aio/status.h"

namespace aio::sandbox {

struct SeccompFilter {
  std::vector<char> bpf;       // the compiled program (struct sock_filter[]), for bwrap --seccomp FD
  std::vector<std::string> denied; // the calls it refuses, for the isolation note
};

Expected<SeccompFilter> build_seccomp_filter();

} // namespace aio::sandbox
