#include "sandbox/sandbox.h"
#include "sandbox/cgroup.h"
#include "sandbox/seccomp.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <limits.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

namespace aio::sandbox {
namespace fs = std::filesystem;

const char *SandboxResult::outcome_name() const {
  switch (outcome) {
  case Outcome::ok: return "ok";
  case Outcome::failed: return "failed";
  case Outcome::timed_out: return "timeout";
  case Outcome::crashed: return "crashed";
  case Outcome::setup_error: return "setup-error";
  case Outcome::memory_exceeded: return "memory-cap";
  case Outcome::stopped: return "stopped";
  }
  return "?";
}

namespace {

constexpr int kSetupFailed = 125; // the child could not set the sandbox up (message on its output)
// As root, each run takes a uid of its own that no account uses: 2^30 + (our pid << 8) + a per-process counter. Two
// runs at once then share no per-user budget - above all RLIMIT_NPROC's count, where one run's fork bomb would leave
// the other's bwrap unable to fork ("Resource temporarily unavailable") - and no file or signal is the other's. Pids
// are unique among live processes and runs die with us, so live runs of two aio processes never meet; within one,
// only 256 runs started while an older one still runs could.
constexpr uid_t kRunUidBase = uid_t{1} << 30;
uid_t fresh_run_uid() {
  static std::atomic<unsigned> next{0};
  const auto pid = static_cast<uid_t>(getpid()) & 0x3fffff; // pid_max is at most 2^22
  return kRunUidBase + (pid << 8) + (next.fetch_add(1, std::memory_order_relaxed) & 0xff);
}
constexpr const char *kWorkDir = "/work"; // the run's directory inside the sandbox

// Everything the child needs, prepared before fork: after fork in a threaded program only plain system calls are safe.
struct Plan {
  std::vector<std::string> argv;  // bwrap ... -- python ..., or python itself
  std::vector<std::string> env;
  std::string host_workdir;       // without bubblewrap: the directory it runs in
  int program_fd = -1, seccomp_fd = -1; // handed to bwrap as descriptors 3 and 4
  std::array<int, 2> channel = {-1, -1}; // a pair's pipes, handed to the program as descriptors 5 (read), 6 (write)
  std::vector<int> cgroup_fds;    // cgroup.procs files to join
  uid_t run_uid = 0;               // as root: the run's own uid and gid (0 = keep ours)
  pid_t parent = 0;
  SandboxLimits limits;
  rlim_t nproc = RLIM_INFINITY;   // RLIMIT_NPROC: where no cgroup caps the run's processes
};

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

void set_limits(const Plan &p, int out_fd) {
  auto limit = [&](int resource, rlim_t value, const char *name) {
    rlimit r{value, value};
    if (setrlimit(resource, &r) != 0) die(out_fd, name);
  };
  limit(RLIMIT_AS, p.limits.memory_bytes, "RLIMIT_AS");
  limit(RLIMIT_CPU, static_cast<rlim_t>(p.limits.timeout_seconds) + 1, "RLIMIT_CPU");
  limit(RLIMIT_FSIZE, p.limits.file_size_bytes, "RLIMIT_FSIZE");
  if (p.nproc != RLIM_INFINITY) limit(RLIMIT_NPROC, p.nproc, "RLIMIT_NPROC");
  limit(RLIMIT_NOFILE, 256, "RLIMIT_NOFILE");
  limit(RLIMIT_CORE, 0, "RLIMIT_CORE");
}

// Closes every descriptor from `from` up (close_range where the kernel has it).
void close_from(int from) {
  if (syscall(SYS_close_range, static_cast<unsigned>(from), ~0U, 0) == 0) return;
  rlimit r{};
  getrlimit(RLIMIT_NOFILE, &r);
  for (rlim_t fd = static_cast<rlim_t>(from); fd < std::min<rlim_t>(r.rlim_cur, 1 << 20); ++fd) close(static_cast<int>(fd));
}

// In the forked child: join the run's cgroup, take the run's own uid (as root), die with us, take the limits, and exec bwrap
// (or, not contained, python) with exactly stdin=/dev/null, stdout=stderr=the output pipe, 3=program, 4=filter.
[[noreturn]] void run_child(const Plan &p, int out_fd) {
  setpgid(0, 0);
  const pid_t me = getpid();
  char pid_text[24];
  const int pid_len = std::snprintf(pid_text, sizeof(pid_text), "%d", me);
  for (int fd : p.cgroup_fds)
    if (!write_all(fd, pid_text, static_cast<size_t>(pid_len))) die(out_fd, "joining the run's cgroup");
  if (p.run_uid != 0) {
    if (setgroups(0, nullptr) != 0 || setresgid(p.run_uid, p.run_uid, p.run_uid) != 0 ||
        setresuid(p.run_uid, p.run_uid, p.run_uid) != 0)
      die(out_fd, "taking the run's own uid");
  }
  // After the uid change (which clears it): when aio dies, so does the run.
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) die(out_fd, "PR_SET_PDEATHSIG");
  if (getppid() != p.parent) _exit(kSetupFailed); // aio died before the line above took effect
  set_limits(p, out_fd);

  // Lift every descriptor we keep above the ones we assign, then assign them and close the rest.
  auto lift = [](int fd) { return fd >= 0 ? fcntl(fd, F_DUPFD, 100) : -1; };
  const int out = lift(out_fd), prog = lift(p.program_fd), filter = lift(p.seccomp_fd), in = lift(p.channel[0]),
            back = lift(p.channel[1]), null_fd = open("/dev/null", O_RDONLY);
  if (out < 0 || null_fd < 0 || (p.program_fd >= 0 && prog < 0) || (p.seccomp_fd >= 0 && filter < 0) ||
      (p.channel[0] >= 0 && (in < 0 || back < 0)))
    die(out_fd, "descriptors");
  if (dup2(null_fd, STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0 || dup2(out, STDERR_FILENO) < 0 ||
      (prog >= 0 && dup2(prog, 3) < 0) || (filter >= 0 && dup2(filter, 4) < 0) || (in >= 0 && dup2(in, 5) < 0) ||
      (back >= 0 && dup2(back, 6) < 0))
    die(out, "dup2");
  close_from(in >= 0 ? 7 : prog >= 0 || filter >= 0 ? 5 : 3);
  if (!p.host_workdir.empty() && chdir(p.host_workdir.c_str()) != 0) die(STDOUT_FILENO, "chdir");
  if (p.host_workdir.empty()) setsid(); // bwrap's own session; the program gets another (--new-session)

  std::vector<const char *> argv, envp;
  for (const auto &a : p.argv) argv.push_back(a.c_str());
  argv.push_back(nullptr);
  for (const auto &e : p.env) envp.push_back(e.c_str());
  envp.push_back(nullptr);
  execve(argv[0], const_cast<char *const *>(argv.data()), const_cast<char *const *>(envp.data()));
  die(STDOUT_FILENO, "execve");
}

std::string find_program(const std::string &preferred, const char *name) {
  if (access(preferred.c_str(), X_OK) == 0) return preferred;
  const char *path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "");
  for (std::string d; std::getline(dirs, d, ':');)
    if (!d.empty() && access((d + "/" + name).c_str(), X_OK) == 0) return d + "/" + name;
  return "";
}

// A memory file holding `bytes`, read from its start (bwrap reads --file and --seccomp descriptors to the end).
int memory_file(const char *name, const char *data, size_t size) {
  const int fd = memfd_create(name, MFD_CLOEXEC);
  if (fd < 0) return -1;
  if (!write_all(fd, data, size) || lseek(fd, 0, SEEK_SET) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// bwrap's arguments up to the program: what the interpreter needs, read-only, and nothing else of the host.
std::vector<std::string> bwrap_arguments(const std::string &bwrap, const std::string &python, size_t scratch_bytes) {
  std::vector<std::string> a = {bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
                                "--hostname", "sandbox", "--ro-bind", "/usr", "/usr"};
  // Merged-/usr systems link /bin, /lib... into /usr; elsewhere they are directories of their own.
  for (const char *dir : {"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"}) {
    struct stat st{};
    if (lstat(dir, &st) != 0) continue;
    if (S_ISLNK(st.st_mode)) {
      char target[PATH_MAX];
      const ssize_t n = readlink(dir, target, sizeof(target) - 1);
      if (n <= 0) continue;
      a.insert(a.end(), {"--symlink", std::string(target, static_cast<size_t>(n)), dir});
    } else if (S_ISDIR(st.st_mode)) {
      a.insert(a.end(), {"--ro-bind", dir, dir});
    }
  }
  // An interpreter installed outside /usr (pyenv, conda): its prefix, read-only.
  std::error_code ec;
  const fs::path real = fs::canonical(python, ec);
  if (!ec && real.string().rfind("/usr/", 0) != 0) {
    const std::string prefix = real.parent_path().parent_path().string();
    a.insert(a.end(), {"--ro-bind", prefix, prefix});
  }
  const std::string size = std::to_string(scratch_bytes);
  a.insert(a.end(), {"--proc", "/proc", "--dev", "/dev", "--size", size, "--tmpfs", "/tmp", "--size", size, "--tmpfs",
                     kWorkDir, "--file", "3", std::string(kWorkDir) + "/program.py", "--remount-ro", "/", "--remount-ro", "/dev",
                     "--chdir", kWorkDir, "--seccomp", "4", "--"});
  return a;
}

// What a probe run prints about itself, and what it means.
constexpr const char *kProbeProgram = R"(import os
status = dict(l.split(':', 1) for l in open('/proc/self/status').read().splitlines() if ':' in l)
pids = [p for p in os.listdir('/proc') if p.isdigit()]
print('nnp', status['NoNewPrivs'].strip())
print('seccomp', status['Seccomp'].strip())
print('caps', status['CapEff'].strip(), status['CapPrm'].strip(), status['CapBnd'].strip())
print('pids', len(pids))
print('tmp', len(os.listdir('/tmp')))
)";

} // namespace

Expected<Sandbox> Sandbox::create(std::string python, bool allow_uncontained) {
  Sandbox s;
  s.allow_uncontained_ = allow_uncontained;
  if (python.empty()) python = find_program("/usr/bin/python3", "python3");
  if (python.empty() || access(python.c_str(), X_OK) != 0)
    return not_found("no python3 interpreter found (looked for /usr/bin/python3 and python3 on PATH); install "
                     "python3 (scripts/install-deps.sh does) or pass --python PATH");
  s.python_ = python;

  std::string cgroup_why;
  if (auto g = RunCgroup::create(64u << 20, 8, &cgroup_why)) {
    s.cgroups_ = true;
    s.isolation_.cgroup = g->kind();
  }
  std::string why_not_contained;
  const std::string bwrap = find_program("/usr/bin/bwrap", "bwrap");
  if (bwrap.empty()) {
    why_not_contained = "bubblewrap (bwrap) is not installed; scripts/install-deps.sh installs it";
  } else if (auto filter = build_seccomp_filter(); !filter.ok()) {
    why_not_contained = filter.status().to_string();
  } else {
    s.bwrap_ = bwrap;
    s.seccomp_bpf_ = std::make_shared<const std::vector<char>>(std::move(filter->bpf));
    SandboxLimits quick;
    quick.timeout_seconds = 20;
    const SandboxResult probe = s.run_python(kProbeProgram, quick);
    std::istringstream out(probe.output);
    for (std::string key; out >> key;) {
      std::string v1, v2, v3;
      if (key == "caps") {
        out >> v1 >> v2 >> v3;
        s.isolation_.no_capabilities = std::strtoull(v1.c_str(), nullptr, 16) == 0 &&
                                       std::strtoull(v2.c_str(), nullptr, 16) == 0 &&
                                       std::strtoull(v3.c_str(), nullptr, 16) == 0;
        continue;
      }
      out >> v1;
      if (key == "nnp") s.isolation_.no_new_privs = v1 == "1";
      else if (key == "seccomp") s.isolation_.seccomp = v1 == "2";
      else if (key == "pids") s.isolation_.namespaces = std::atoi(v1.c_str()) <= 3; // bwrap's init, python
    }
    if (!probe.passed() || !s.isolation_.namespaces) {
      why_not_contained = "bubblewrap refused to start a sandbox here: " + probe.output.substr(0, 200);
      s.bwrap_.clear();
      s.isolation_ = SandboxIsolation{{}, {}, {}, {}, s.isolation_.cgroup, {}};
    }
  }

  std::string note;
  if (s.isolation_.namespaces) {
    note = "isolated by bubblewrap: own mount/PID/network/IPC/UTS/user namespaces, /usr read-only, fresh /proc, "
           "tmpfs /work and /tmp (no host /tmp, sockets or network)";
    note += s.isolation_.no_capabilities ? "; all capabilities dropped (bounding set too)" : "; CAPABILITIES KEPT";
    note += s.isolation_.no_new_privs ? "; no_new_privs" : "; no_new_privs NOT set";
    note += s.isolation_.seccomp ? "; seccomp denies mount/unshare/ptrace/keyctl/bpf/io_uring and the like"
                                 : "; NO seccomp filter";
  } else {
    note = "NOT isolated from the filesystem or the network (" + why_not_contained + "); own process group";
  }
  note += s.cgroups_ ? "; " + s.isolation_.cgroup + " caps the whole run's memory and processes"
                     : "; memory and processes capped per process only (no cgroup: " + cgroup_why + ")";
  note += "; rlimits; timeout; killed with aio";
  s.isolation_.note = note;
  // Fail closed: code that cannot be contained is not run, unless the user said so in as many words.
  if (!s.isolation_.namespaces && !allow_uncontained)
    return unavailable("the sandbox cannot start here, so no generated code will run: " + why_not_contained +
                               ". Fix that (scripts/install-deps.sh installs bubblewrap; an interpreter must live "
                               "where the sandbox can see it, e.g. /usr/bin/python3, not /tmp), or pass --no-sandbox "
                               "to run the code UNISOLATED on this machine (dangerous)");
  return s;
}

// One program started in its own sandbox: its process, output pipe, cgroup and files, until it is collected.
struct Sandbox::Run {
  using Clock = std::chrono::steady_clock;
  SandboxResult r;
  pid_t child = -1;
  int out_fd = -1; // read end of its stdout + stderr
  bool eof = false, reaped = false;
  int status = 0;
  Clock::time_point t0;
  std::unique_ptr<RunCgroup> cgroup;
  int program_fd = -1, seccomp_fd = -1;
  std::string dir; // not contained: its host directory
  ~Run() {
    if (child > 0 && !reaped) {
      kill(-child, SIGKILL);
      while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
      }
    }
    cgroup.reset(); // kills what is left and removes the group
    if (out_fd >= 0) close(out_fd);
    if (program_fd >= 0) close(program_fd);
    if (seccomp_fd >= 0) close(seccomp_fd);
    std::error_code ec;
    if (!dir.empty()) fs::remove_all(dir, ec);
  }
};

std::unique_ptr<Sandbox::Run> Sandbox::start(const std::string &program, const SandboxLimits &limits,
                                             std::array<int, 2> channel) const {
  auto run = std::make_unique<Run>();
  SandboxResult &r = run->r;
  if (bwrap_.empty() && !allow_uncontained_) { // never reached through create(), which refuses; kept closed anyway
    r.output = "the sandbox is not available and running unisolated was not allowed";
    return run;
  }
  Plan p;
  p.limits = limits;
  p.parent = getpid();
  p.channel = channel;
  // As root, the run is a uid of its own (fresh_run_uid): the host's files are not its own, and the per-user
  // budgets (RLIMIT_NPROC, from which root is exempt) are its alone.
  p.run_uid = geteuid() == 0 ? fresh_run_uid() : 0;
  // bwrap and its PID-namespace init count as processes of the run too.
  const int processes = limits.max_processes + 3;
  if (cgroups_) {
    std::string why;
    run->cgroup = RunCgroup::create(limits.memory_bytes, processes, &why);
    if (!run->cgroup) {
      r.output = "cannot create the run's cgroup: " + why;
      return run;
    }
    p.cgroup_fds = run->cgroup->join_fds();
  }
  // RLIMIT_NPROC counts every process of the uid: exact for a run's own uid, and the cap where no cgroup gives one.
  // Not root and without a cgroup it is the only cap, shared with the user's other processes and runs.
  if (p.run_uid != 0 || !cgroups_)
    p.nproc = processes_of_user(p.run_uid != 0 ? p.run_uid : geteuid()) + static_cast<rlim_t>(processes);
  const bool contained = !bwrap_.empty();
  p.env = {"PATH=/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE=1", "PYTHONHASHSEED=0", "LANG=C.UTF-8"};
  if (contained) {
    p.argv = bwrap_arguments(bwrap_, python_, limits.scratch_bytes);
    p.env.insert(p.env.end(), {std::string("HOME=") + kWorkDir, "TMPDIR=/tmp"});
    run->program_fd = p.program_fd = memory_file("program.py", program.data(), program.size());
    run->seccomp_fd = p.seccomp_fd = memory_file("seccomp", seccomp_bpf_->data(), seccomp_bpf_->size());
    if (p.program_fd < 0 || p.seccomp_fd < 0) {
      r.output = std::string("memfd_create: ") + std::strerror(errno);
      return run;
    }
  } else {
    // Not contained (--no-sandbox): a fresh host directory, the run's (its own uid's, as root) and removed afterwards.
    char dir_template[] = "/tmp/aio-sandbox-XXXXXX";
    if (mkdtemp(dir_template) == nullptr) {
      r.output = std::string("cannot create a work directory under /tmp: ") + std::strerror(errno);
      return run;
    }
    run->dir = p.host_workdir = dir_template;
    std::ofstream(p.host_workdir + "/program.py", std::ios::binary) << program;
    if (p.run_uid != 0 && (chown(p.host_workdir.c_str(), p.run_uid, p.run_uid) != 0 ||
                           chown((p.host_workdir + "/program.py").c_str(), p.run_uid, p.run_uid) != 0)) {
      r.output = std::string("chown of the work directory: ") + std::strerror(errno);
      return run;
    }
    p.env.insert(p.env.end(), {"HOME=" + p.host_workdir, "TMPDIR=" + p.host_workdir});
  }
  p.argv.insert(p.argv.end(), {python_, "-I", "-B", "program.py"});

  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    r.output = std::string("pipe: ") + std::strerror(errno);
    return run;
  }
  run->t0 = Run::Clock::now();
  run->child = fork();
  if (run->child == 0) run_child(p, pipe_fds[1]);
  close(pipe_fds[1]);
  if (run->child < 0) {
    close(pipe_fds[0]);
    r.output = std::string("fork: ") + std::strerror(errno);
    return run;
  }
  run->out_fd = pipe_fds[0];
  return run;
}

namespace {
// How a collected run ended, from its wait status.
void classify(SandboxResult &r, int status, bool timed_out, bool contained) {
  if (timed_out) {
    r.outcome = SandboxResult::Outcome::timed_out;
  } else if (WIFEXITED(status)) {
    r.exit_code = WEXITSTATUS(status);
    // bwrap reports its own setup failures as "bwrap: ..." with exit 1, before the program has run.
    const bool bwrap_failed = contained && r.exit_code == 1 && r.output.rfind("bwrap: ", 0) == 0;
    r.outcome = r.exit_code == 0                                      ? SandboxResult::Outcome::ok
                : r.exit_code == kSetupFailed || bwrap_failed         ? SandboxResult::Outcome::setup_error
                : contained && r.exit_code > 128 && r.exit_code < 160 ? SandboxResult::Outcome::crashed
                                                                      : SandboxResult::Outcome::failed;
    if (r.outcome == SandboxResult::Outcome::crashed) r.signal = r.exit_code - 128; // bwrap: 128 + the signal
  } else if (WIFSIGNALED(status)) {
    r.signal = WTERMSIG(status);
    r.outcome = SandboxResult::Outcome::crashed;
  }
  // SIGXCPU: the CPU-time limit.
  if (r.outcome == SandboxResult::Outcome::crashed && r.signal == SIGXCPU) r.outcome = SandboxResult::Outcome::timed_out;
  // Whatever else it looked like, a run that reached its memory cap and did not pass was ended by it.
  if (r.memory_cap_hit && r.outcome != SandboxResult::Outcome::ok && r.outcome != SandboxResult::Outcome::setup_error)
    r.outcome = SandboxResult::Outcome::memory_exceeded;
}
} // namespace

namespace {
// Whether `child` ended (reaped, its wait status in `status`) by `until`; checked at least once.
template <class TimePoint> bool reaped_by(pid_t child, int &status, TimePoint until) {
  for (;;) {
    if (waitpid(child, &status, WNOHANG) == child) return true;
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

// Appends up to `limit` bytes of what `fd` has now to `r`'s output; false at EOF.
bool read_into(int fd, SandboxResult &r, size_t limit) {
  char buf[8192];
  for (;;) {
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n == 0) return false;
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    const size_t room = limit - std::min(limit, r.output.size());
    r.output.append(buf, std::min(room, static_cast<size_t>(n)));
    if (static_cast<size_t>(n) > room) r.output_truncated = true;
  }
}
} // namespace

void Sandbox::collect(Run &run, const SandboxLimits &limits) const {
  using Clock = Run::Clock;
  const auto deadline = run.t0 + std::chrono::duration<double>(limits.timeout_seconds);
  bool timed_out = false;
  // Read its output until every writer is gone or the time is up; keep the first output_bytes.
  fcntl(run.out_fd, F_SETFL, fcntl(run.out_fd, F_GETFL) | O_NONBLOCK);
  while (!run.eof) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{run.out_fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(std::min<int64_t>(left, 1000))) > 0 && !read_into(run.out_fd, run.r, limits.output_bytes))
      run.eof = true; // the program and everything it started are gone
  }
  // The output is closed: wait (until the deadline) for the process to report how it ended.
  if (!timed_out && !run.reaped) run.reaped = reaped_by(run.child, run.status, deadline);
  const bool late = timed_out || !run.reaped;
  // Whatever still runs goes now: bwrap's death takes its namespace along (--die-with-parent, the namespace's init),
  // and the cgroup is emptied for good measure; not contained, its process group.
  kill(-run.child, SIGKILL);
  if (run.cgroup) run.cgroup->kill_all();
  if (!run.reaped)
    while (waitpid(run.child, &run.status, 0) < 0 && errno == EINTR) {
    }
  run.reaped = true;
  run.r.seconds = std::chrono::duration<double>(Clock::now() - run.t0).count();
  run.r.memory_cap_hit = run.cgroup && run.cgroup->memory_cap_hit();
  classify(run.r, run.status, late, !bwrap_.empty());
}

SandboxResult Sandbox::run_python(const std::string &program, const SandboxLimits &limits) const {
  auto run = start(program, limits);
  if (run->child > 0) collect(*run, limits);
  return std::move(run->r);
}


std::unique_ptr<SandboxProcess> Sandbox::spawn(const std::string &program, const SandboxLimits &limits) const {
  int in[2] = {-1, -1}, out[2] = {-1, -1};
  std::unique_ptr<Run> run;
  if (pipe2(in, O_CLOEXEC) == 0 && pipe2(out, O_CLOEXEC) == 0) {
    run = start(program, limits, {in[0], out[1]});
  } else {
    run = std::make_unique<Run>();
    run->r.output = std::string("pipe: ") + std::strerror(errno);
  }
  for (int fd : {in[0], out[1]})
    if (fd >= 0) close(fd);
  for (int fd : {in[1], out[0], run->out_fd})
    if (fd >= 0) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  return std::unique_ptr<SandboxProcess>(new SandboxProcess(*this, std::move(run), limits, in[1], out[0]));
}

SandboxProcess::SandboxProcess(const Sandbox &sandbox, std::unique_ptr<Sandbox::Run> run, SandboxLimits limits,
                               int to, int from)
    : sandbox_(sandbox), run_(std::move(run)), limits_(limits), to_(to), from_(from) {}

SandboxProcess::~SandboxProcess() {
  if (to_ >= 0) close(to_);
  if (from_ >= 0) close(from_);
  // run_'s own destructor kills and reaps what still runs.
}

bool SandboxProcess::running() const { return run_->child > 0 && !run_->reaped; }
const std::string &SandboxProcess::setup_error() const {
  static const std::string none;
  return run_->child > 0 ? none : run_->r.output;
}
int SandboxProcess::output() const { return run_->out_fd; }

bool SandboxProcess::read_output() {
  if (output_closed_ || run_->out_fd < 0) return false;
  if (!read_into(run_->out_fd, run_->r, limits_.output_bytes)) output_closed_ = true;
  return !output_closed_;
}

SandboxResult SandboxProcess::finish(bool timed_out, double grace_seconds) {
  Sandbox::Run &run = *run_;
  if (run.child <= 0 || run.reaped) return run.r;
  if (to_ >= 0) close(to_); // a program reading its channel sees the end
  to_ = -1;
  int status = 0;
  const bool ended = reaped_by(run.child, status,
                               Sandbox::Run::Clock::now() + std::chrono::duration<double>(grace_seconds));
  kill(-run.child, SIGKILL);
  if (run.cgroup) run.cgroup->kill_all();
  if (!ended)
    while (waitpid(run.child, &status, 0) < 0 && errno == EINTR) {
    }
  run.reaped = true;
  // What it wrote before it went (the pipe's writers are gone now: this ends).
  // Bounded: unisolated (--no-sandbox), a daemon that left the process group could hold the pipe open.
  const auto until = Sandbox::Run::Clock::now() + std::chrono::seconds(1);
  while (!output_closed_ && run.out_fd >= 0 && Sandbox::Run::Clock::now() < until) {
    pollfd p{run.out_fd, POLLIN, 0};
    if (poll(&p, 1, 100) > 0 && !read_into(run.out_fd, run.r, limits_.output_bytes)) output_closed_ = true;
  }
  run.r.seconds = std::chrono::duration<double>(Sandbox::Run::Clock::now() - run.t0).count();
  run.r.memory_cap_hit = run.cgroup && run.cgroup->memory_cap_hit();
  classify(run.r, status, timed_out, sandbox_.contained());
  if (!ended && !timed_out && run.r.outcome != SandboxResult::Outcome::memory_exceeded)
    run.r.outcome = SandboxResult::Outcome::stopped;
  return run.r;
}

} // namespace aio::sandbox
