// A cgroup for one sandbox run: caps the memory and the number of processes of the whole run (every process it
// starts, together), and kills all of them at the end. cgroup v2 (a sub-group of our own group, where the kernel lets
// us create one) or v1 (the memory and pids hierarchies). Where neither is writable, create() says why and the
// sandbox falls back to per-process rlimits.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace aio::sandbox {

class RunCgroup {
public:
  // A fresh group capping memory (bytes, swap included where the kernel accounts it) and processes; null with
  // *why_not set when this machine gives us none.
  static std::unique_ptr<RunCgroup> create(size_t memory_bytes, int max_processes, std::string *why_not);
  ~RunCgroup(); // kills what is left in it and removes it

  RunCgroup(const RunCgroup &) = delete;
  RunCgroup &operator=(const RunCgroup &) = delete;

  // The files a process writes its pid to, to join (opened before fork: the child only writes to them).
  const std::vector<int> &join_fds() const { return join_fds_; }
  // SIGKILL every process in the group, until it is empty (or a second has passed).
  void kill_all();
  // The memory cap was hit at some point (the kernel refused or reclaimed an allocation, or OOM-killed a process).
  bool memory_cap_hit() const;
  // "cgroup v1" or "cgroup v2".
  const std::string &kind() const { return kind_; }

private:
  RunCgroup() = default;
  std::string kind_;
  std::vector<std::string> dirs_; // one per hierarchy (v1: memory, pids; v2: one)
  std::vector<int> join_fds_;
  std::string memory_dir_;
};

} // namespace aio::sandbox
