#include "eval/sandbox.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

namespace aio::eval {
namespace fs = std::filesystem;

const char *SandboxResult::outcome_name() const {
  switch (outcome) {
  case Outcome::ok: return "ok";
  case Outcome::failed: return "failed";
  case Outcome::timed_out: return "timeout";
  case Outcome::crashed: return "crashed";
  case Outcome::setup_error: return "setup-error";
  }
  return "?";
}

namespace {
// The end of a program's output is kept apart from the (head-truncated) output: a pass marker written last survives a
// program that printed more than output_bytes before it.
constexpr size_t kTailBytes = 256;
} // namespace

namespace {

constexpr int kSetupFailed = 125; // the child could not set the sandbox up (message on its output)

// Everything the child needs, prepared before fork: after fork in a threaded program only plain system calls are safe.
struct Plan {
  bool namespaces = false;
  std::string python, workdir, program;
  std::string uid_map, gid_map; // written by the child itself (unprivileged) ...
  bool parent_maps = false;     // ... or by us: as root we map the sandbox to nobody (see run_python)
  int sync_to_parent = -1, sync_from_parent = -1;
  struct Mount {
    std::string path;
    unsigned long locked_flags; // nosuid/nodev/noexec/atime flags a remount must keep
  };
  std::vector<Mount> mounts;
  std::string tmpfs_options;
  SandboxLimits limits;
  rlim_t nproc = 0;
};

std::vector<Plan::Mount> current_mounts() {
  std::vector<Plan::Mount> out;
  std::ifstream in("/proc/self/mountinfo");
  for (std::string line; std::getline(in, line);) {
    std::istringstream f(line);
    std::string id, parent, dev, root, point, options;
    f >> id >> parent >> dev >> root >> point >> options;
    unsigned long flags = 0;
    std::istringstream opts(options);
    for (std::string o; std::getline(opts, o, ',');) {
      if (o == "nosuid") flags |= MS_NOSUID;
      else if (o == "nodev") flags |= MS_NODEV;
      else if (o == "noexec") flags |= MS_NOEXEC;
      else if (o == "noatime") flags |= MS_NOATIME;
      else if (o == "nodiratime") flags |= MS_NODIRATIME;
      else if (o == "relatime") flags |= MS_RELATIME;
    }
    // mountinfo escapes spaces etc. as \040; such paths are left alone (none on a normal system).
    if (point.find('\\') == std::string::npos) out.push_back({point, flags});
  }
  return out;
}

rlim_t processes_of_user(uid_t me) {
  rlim_t n = 0;
  std::error_code ec;
  for (const auto &e : fs::directory_iterator("/proc", ec)) {
    const std::string name = e.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    struct stat st{};
    if (stat(e.path().c_str(), &st) == 0 && st.st_uid == me) ++n;
  }
  return n;
}

bool write_all(int fd, const char *s, size_t n) {
  while (n > 0) {
    const ssize_t w = write(fd, s, n);
    if (w <= 0) return false;
    s += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

[[noreturn]] void die(int out_fd, const char *what) {
  char buf[256];
  const int n = std::snprintf(buf, sizeof(buf), "sandbox setup failed: %s: %s\n", what, std::strerror(errno));
  write_all(out_fd, buf, static_cast<size_t>(std::max(0, n)));
  _exit(kSetupFailed);
}

bool write_file(const char *path, const std::string &text) {
  const int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  const bool written = write_all(fd, text.data(), text.size());
  return close(fd) == 0 && written;
}

void set_limits(const Plan &p, int out_fd) {
  auto limit = [&](int resource, rlim_t value, const char *name) {
    rlimit r{value, value};
    if (setrlimit(resource, &r) != 0) die(out_fd, name);
  };
  limit(RLIMIT_AS, p.limits.memory_bytes, "RLIMIT_AS");
  limit(RLIMIT_CPU, static_cast<rlim_t>(p.limits.timeout_seconds) + 1, "RLIMIT_CPU");
  limit(RLIMIT_FSIZE, p.limits.file_size_bytes, "RLIMIT_FSIZE");
  limit(RLIMIT_NPROC, p.nproc, "RLIMIT_NPROC");
  limit(RLIMIT_NOFILE, 256, "RLIMIT_NOFILE");
  limit(RLIMIT_CORE, 0, "RLIMIT_CORE");
}

[[noreturn]] void exec_python(const Plan &p, int out_fd) {
  if (dup2(out_fd, STDOUT_FILENO) < 0 || dup2(out_fd, STDERR_FILENO) < 0) die(out_fd, "dup2");
  const int null_fd = open("/dev/null", O_RDONLY);
  if (null_fd >= 0) dup2(null_fd, STDIN_FILENO);
  if (chdir(p.workdir.c_str()) != 0) die(out_fd, "chdir");
  const std::string home = "HOME=" + p.workdir, tmp = "TMPDIR=" + p.workdir;
  const char *argv[] = {p.python.c_str(), "-I", "-B", "program.py", nullptr};
  const char *envp[] = {"PATH=/usr/bin:/bin", home.c_str(), tmp.c_str(), "PYTHONDONTWRITEBYTECODE=1",
                        "PYTHONHASHSEED=0", "LANG=C.UTF-8", nullptr};
  execve(p.python.c_str(), const_cast<char *const *>(argv), const_cast<char *const *>(envp));
  die(out_fd, "execve");
}

// The process between us and the program: it enters the namespaces, then starts the program as PID 1 of its PID
// namespace (so everything the program starts dies with it) and reports how it ended.
[[noreturn]] void run_child(const Plan &p, int out_fd) {
  setpgid(0, 0);
  if (p.namespaces) {
    if (unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID) != 0) die(out_fd, "unshare");
    if (p.parent_maps) {
      char c = 'u';
      if (write(p.sync_to_parent, &c, 1) != 1 || read(p.sync_from_parent, &c, 1) != 1 || c != 'g')
        die(out_fd, "uid/gid map (written by the parent)");
      // Our credentials are still the host's root, which the new map does not cover: become the namespace's root
      // (= nobody on the host) for real.
      setgroups(0, nullptr);
      if (setresgid(0, 0, 0) != 0 || setresuid(0, 0, 0) != 0) die(out_fd, "becoming the namespace's root");
    } else if (!write_file("/proc/self/setgroups", "deny") || !write_file("/proc/self/uid_map", p.uid_map) ||
               !write_file("/proc/self/gid_map", p.gid_map)) {
      die(out_fd, "uid/gid map");
    }
    if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) die(out_fd, "make mounts private");
    for (const auto &m : p.mounts) {
      // Everything read-only; special filesystems that refuse a remount (proc, sysfs) are not writable by the
      // sandbox's unprivileged user anyway.
      if (mount(nullptr, m.path.c_str(), nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | m.locked_flags, nullptr) != 0 &&
          (m.path == "/" || m.path == "/tmp" || m.path == "/dev/shm"))
        die(out_fd, ("read-only remount of " + m.path).c_str());
    }
    if (mount("tmpfs", p.workdir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, p.tmpfs_options.c_str()) != 0)
      die(out_fd, "tmpfs for the work directory");
  } else {
    setsid();
  }
  if (!write_file((p.workdir + "/program.py").c_str(), p.program)) die(out_fd, "writing program.py");
  set_limits(p, out_fd);
  if (!p.namespaces) exec_python(p, out_fd);

  const pid_t init = fork();
  if (init < 0) die(out_fd, "fork");
  if (init == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL); // if we are killed (timeout), the namespace's init dies, and with it the rest
    exec_python(p, out_fd);
  }
  close(out_fd);
  int status = 0;
  while (waitpid(init, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status)) {
    signal(WTERMSIG(status), SIG_DFL);
    kill(getpid(), WTERMSIG(status)); // end the same way, so our parent sees the signal
  }
  _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
}

} // namespace

Expected<Sandbox> Sandbox::create(std::string python) {
  Sandbox s;
  if (python.empty()) {
    python = "/usr/bin/python3";
    if (access(python.c_str(), X_OK) != 0) {
      const char *path = std::getenv("PATH");
      std::istringstream dirs(path ? path : "");
      for (std::string d; std::getline(dirs, d, ':');)
        if (access((d + "/python3").c_str(), X_OK) == 0) {
          python = d + "/python3";
          break;
        }
    }
  }
  if (access(python.c_str(), X_OK) != 0)
    return not_found("no python3 interpreter found (looked for /usr/bin/python3 and python3 on PATH); install "
                     "python3 (scripts/install-deps.sh does) or pass --python PATH");
  s.python_ = python;
  // Probe: a trivial program inside full isolation. If the kernel refuses, fall back and say so.
  s.isolation_.namespaces = true;
  SandboxLimits quick;
  quick.timeout_seconds = 20;
  const SandboxResult probe = s.run_python("print('ok')\n", quick);
  if (probe.passed()) {
    s.isolation_.note = "isolated: read-only filesystem except a fresh tmpfs directory, no network, own PID "
                        "namespace, rlimits, timeout";
  } else {
    s.isolation_.namespaces = false;
    s.isolation_.note = "NOT isolated from the network or the filesystem (this machine refuses unprivileged "
                        "namespaces: " + probe.output.substr(0, 200) + "); runs are limited by rlimits, a process "
                        "group and a timeout only";
  }
  return s;
}

SandboxResult Sandbox::run_python(const std::string &program, const SandboxLimits &limits) const {
  using Clock = std::chrono::steady_clock;
  SandboxResult r;
  Plan p;
  p.namespaces = isolation_.namespaces;
  p.python = python_;
  p.program = program;
  p.limits = limits;
  // NOTE: run as root, the program's processes would belong to root's user accounting, which the kernel exempts from
  // RLIMIT_NPROC (a fork bomb would then be bounded only by the timeout). So as root we map the namespace's root to
  // the unprivileged `nobody` (65534): the process limit holds and the host's files are not the program's either.
  const bool as_root = geteuid() == 0;
  p.parent_maps = p.namespaces && as_root;
  const uid_t host_uid = p.parent_maps ? 65534 : geteuid();
  const gid_t host_gid = p.parent_maps ? 65534 : getegid();
  p.nproc = processes_of_user(host_uid) + static_cast<rlim_t>(limits.max_processes);
  p.uid_map = "0 " + std::to_string(host_uid) + " 1\n";
  p.gid_map = "0 " + std::to_string(host_gid) + " 1\n";
  p.tmpfs_options = "size=" + std::to_string(limits.scratch_bytes) + ",mode=0700";
  if (p.namespaces) p.mounts = current_mounts();
  char dir_template[] = "/tmp/aio-sandbox-XXXXXX";
  if (mkdtemp(dir_template) == nullptr) {
    r.output = std::string("cannot create a work directory under /tmp: ") + std::strerror(errno);
    return r;
  }
  p.workdir = dir_template;

  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    r.output = std::string("pipe: ") + std::strerror(errno);
    fs::remove_all(p.workdir);
    return r;
  }
  int to_parent[2] = {-1, -1}, from_parent[2] = {-1, -1};
  if (p.parent_maps && (pipe2(to_parent, O_CLOEXEC) != 0 || pipe2(from_parent, O_CLOEXEC) != 0)) {
    r.output = std::string("pipe: ") + std::strerror(errno);
    fs::remove_all(p.workdir);
    return r;
  }
  p.sync_to_parent = to_parent[1];
  p.sync_from_parent = from_parent[0];
  chmod(p.workdir.c_str(), 0755); // the mount point must be reachable by the sandbox's user
  const auto t0 = Clock::now();
  const pid_t child = fork();
  if (child == 0) {
    close(pipe_fds[0]);
    run_child(p, pipe_fds[1]);
  }
  close(pipe_fds[1]);
  if (p.parent_maps) {
    close(to_parent[1]);
    close(from_parent[0]);
    // The child has entered its user namespace: map its root to nobody, then let it go on.
    char c = 0;
    const std::string proc = "/proc/" + std::to_string(child);
    const bool mapped = read(to_parent[0], &c, 1) == 1 && write_file((proc + "/uid_map").c_str(), p.uid_map) &&
                        write_file((proc + "/gid_map").c_str(), p.gid_map);
    if (!mapped) std::fprintf(stderr, "aio: sandbox: mapping uid/gid: %s\n", std::strerror(errno));
    c = mapped ? 'g' : 'x';
    write_all(from_parent[1], &c, 1);
    close(to_parent[0]);
    close(from_parent[1]);
  }
  if (child < 0) {
    close(pipe_fds[0]);
    r.output = std::string("fork: ") + std::strerror(errno);
    fs::remove_all(p.workdir);
    return r;
  }

  // Read its output until every writer is gone or the time is up; keep the first output_bytes.
  const auto deadline = t0 + std::chrono::duration<double>(limits.timeout_seconds);
  bool timed_out = false;
  char buf[8192];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    pollfd pfd{pipe_fds[0], POLLIN, 0};
    const int ready = poll(&pfd, 1, static_cast<int>(std::min<int64_t>(left, 1000)));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;
    const ssize_t n = read(pipe_fds[0], buf, sizeof(buf));
    if (n <= 0) break; // EOF: the program and everything it started are gone
    const size_t room = limits.output_bytes - std::min(limits.output_bytes, r.output.size());
    r.output.append(buf, std::min(room, static_cast<size_t>(n)));
    if (static_cast<size_t>(n) > room) r.output_truncated = true;
    r.output_tail.append(buf, static_cast<size_t>(n));
    if (r.output_tail.size() > kTailBytes) r.output_tail.erase(0, r.output_tail.size() - kTailBytes);
  }
  // The output is closed: wait (until the deadline) for the process to report how it ended.
  int status = 0;
  bool reaped = false;
  while (!timed_out && !reaped) {
    const pid_t w = waitpid(child, &status, WNOHANG);
    if (w == child) reaped = true;
    else if (Clock::now() >= deadline) timed_out = true;
    else std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  // Whatever still runs in its process group goes now (with namespaces, killing the intermediate process kills the
  // namespace's init, which takes every other process in it along).
  kill(-child, SIGKILL);
  if (!reaped)
    while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
  close(pipe_fds[0]);
  r.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  std::error_code ec;
  fs::remove_all(p.workdir, ec);

  if (timed_out) {
    r.outcome = SandboxResult::Outcome::timed_out;
  } else if (WIFEXITED(status)) {
    r.exit_code = WEXITSTATUS(status);
    r.outcome = r.exit_code == 0            ? SandboxResult::Outcome::ok
                : r.exit_code == kSetupFailed ? SandboxResult::Outcome::setup_error
                                              : SandboxResult::Outcome::failed;
  } else if (WIFSIGNALED(status)) {
    r.signal = WTERMSIG(status);
    // SIGXCPU: the CPU-time limit; SIGKILL after EOF would be our own cleanup of a straggler group.
    r.outcome = r.signal == SIGXCPU ? SandboxResult::Outcome::timed_out : SandboxResult::Outcome::crashed;
  }
  return r;
}

} // namespace aio::eval
