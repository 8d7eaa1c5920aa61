#include "sandbox/cgroup.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

namespace aio::sandbox {
namespace fs = std::filesystem;
namespace {

constexpr const char *kRoot = "/sys/fs/cgroup";
constexpr const char *kPrefix = "aio-sandbox-";

bool write_text(const std::string &path, const std::string &text) {
  const int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  return close(fd) == 0 && ok;
}

std::string read_text(const std::string &path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Our own group in each hierarchy: "" for v2's unified one, else a controller name ("memory", "pids").
std::string own_group(const std::string &controller) {
  std::ifstream in("/proc/self/cgroup");
  for (std::string line; std::getline(in, line);) {
    const auto a = line.find(':'), b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    const std::string controllers = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
    if (controller.empty()) {
      if (line.compare(0, a, "0") == 0 && controllers.empty()) return path;
      continue;
    }
    std::istringstream list(controllers);
    for (std::string c; std::getline(list, c, ',');)
      if (c == controller) return path;
  }
  return "";
}

void kill_members(const std::string &dir) {
  std::istringstream procs(read_text(dir + "/cgroup.procs"));
  for (pid_t pid; procs >> pid;) kill(pid, SIGKILL);
}

bool empty_group(const std::string &dir) {
  std::istringstream procs(read_text(dir + "/cgroup.procs"));
  pid_t pid;
  return !(procs >> pid);
}

// Groups left by an aio that was killed before it could remove them (their owner's pid is gone): removed once per
// process, so a crashed run does not leave them behind for good.
void sweep_stale(const std::string &parent) {
  static std::mutex mu;
  static std::vector<std::string> swept;
  std::lock_guard lock(mu);
  if (std::find(swept.begin(), swept.end(), parent) != swept.end()) return;
  swept.push_back(parent);
  std::error_code ec;
  for (const auto &e : fs::directory_iterator(parent, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(kPrefix, 0) != 0) continue;
    const pid_t owner = static_cast<pid_t>(std::atol(name.c_str() + std::strlen(kPrefix)));
    if (owner <= 0 || (kill(owner, 0) != 0 && errno == ESRCH)) {
      kill_members(e.path().string());
      rmdir(e.path().c_str());
    }
  }
}

std::string unique_name() {
  static std::atomic<int> counter{0};
  return std::string(kPrefix) + std::to_string(getpid()) + "-" + std::to_string(counter++);
}

} // namespace

std::unique_ptr<RunCgroup> RunCgroup::create(size_t memory_bytes, int max_processes, std::string *why_not) {
  std::unique_ptr<RunCgroup> g(new RunCgroup());
  const std::string name = unique_name(), mem = std::to_string(memory_bytes), pids = std::to_string(max_processes);
  auto make = [&](const std::string &parent) {
    sweep_stale(parent);
    const std::string dir = parent + "/" + name;
    if (mkdir(dir.c_str(), 0755) != 0) return std::string();
    g->dirs_.push_back(dir);
    return dir;
  };
  auto fail = [&](const std::string &why) {
    if (why_not) *why_not = why;
    return nullptr;
  };

  if (access((std::string(kRoot) + "/cgroup.controllers").c_str(), F_OK) == 0) {
    // v2: a sub-group of ours, with the memory and pids controllers enabled for our children (which the kernel
    // allows only where our group delegates them to us).
    const std::string parent = kRoot + own_group("");
    write_text(parent + "/cgroup.subtree_control", "+memory +pids");
    const std::string dir = make(parent);
    if (dir.empty()) return fail("cannot create a cgroup under " + parent + ": " + std::strerror(errno));
    if (!write_text(dir + "/memory.max", mem) || !write_text(dir + "/pids.max", pids))
      return fail("the memory and pids controllers are not delegated to " + parent);
    write_text(dir + "/memory.swap.max", "0");
    g->kind_ = "cgroup v2";
    g->memory_dir_ = dir;
  } else {
    const std::string mem_dir = make(std::string(kRoot) + "/memory" + own_group("memory"));
    if (mem_dir.empty()) return fail("cannot create a v1 memory cgroup: " + std::string(std::strerror(errno)));
    const std::string pid_dir = make(std::string(kRoot) + "/pids" + own_group("pids"));
    if (pid_dir.empty()) return fail("cannot create a v1 pids cgroup: " + std::string(std::strerror(errno)));
    if (!write_text(mem_dir + "/memory.limit_in_bytes", mem) || !write_text(pid_dir + "/pids.max", pids))
      return fail("cannot set the limits of a v1 cgroup: " + std::string(std::strerror(errno)));
    write_text(mem_dir + "/memory.memsw.limit_in_bytes", mem); // counts swap too, where the kernel accounts it
    g->kind_ = "cgroup v1";
    g->memory_dir_ = mem_dir;
  }
  for (const auto &dir : g->dirs_) {
    const int fd = open((dir + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return fail("cannot open " + dir + "/cgroup.procs: " + std::strerror(errno));
    g->join_fds_.push_back(fd);
  }
  return g;
}

void RunCgroup::kill_all() {
  if (dirs_.empty()) return;
  const std::string &dir = dirs_.back(); // every hierarchy holds the same processes
  if (write_text(dir + "/cgroup.kill", "1")) { // v2 on kernels >= 5.14: one write kills the whole group
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  while (!empty_group(dir) && std::chrono::steady_clock::now() < deadline) {
    kill_members(dir);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

bool RunCgroup::memory_cap_hit() const {
  if (kind_ == "cgroup v1" && (std::atol(read_text(memory_dir_ + "/memory.failcnt").c_str()) > 0 ||
                               std::atol(read_text(memory_dir_ + "/memory.memsw.failcnt").c_str()) > 0))
    return true;
  std::istringstream events(read_text(memory_dir_ + (kind_ == "cgroup v1" ? "/memory.oom_control" : "/memory.events")));
  for (std::string key; events >> key;) {
    long n = 0;
    events >> n;
    if ((key == "max" || key == "oom_kill") && n > 0) return true;
  }
  return false;
}

RunCgroup::~RunCgroup() {
  kill_all();
  for (int fd : join_fds_) close(fd);
  for (const auto &dir : dirs_) {
    // A process just killed may hold the group a while longer (a PID namespace's processes are reaped after its
    // init): try for up to 5 s, so a killed run leaves no empty group behind.
    for (int i = 0; i < 2500 && rmdir(dir.c_str()) != 0 && errno == EBUSY; ++i) {
      if (i % 50 == 49) kill_members(dir);
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
}

} // namespace aio::sandbox
