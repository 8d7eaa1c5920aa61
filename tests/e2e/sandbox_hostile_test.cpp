// Hostile completions, scored by `aio score` as a user runs it. Each completion tries one way out of the sandbox and
// returns the right answer only if the attempt failed: a PASS means "contained", a FAIL names the escape. What the
// attempts could have touched on the host (files, a listening Unix socket, processes) is checked from outside too.
// Cheats that must not pass (early exits, hooks, objects equal to everything) are expected to FAIL.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "support/paths.h"
#include "support/process.h"

namespace aio::test {
namespace {
namespace fs = std::filesystem;

// A one-task benchmark per attack: f(1) must be 2.
void write_dataset(const std::string &path, const std::vector<std::string> &names) {
  std::ofstream out(path);
  for (const auto &n : names)
    out << nlohmann::json{{"task_id", "Hostile/" + n},
                          {"prompt", "def f(x):\n"},
                          {"entry_point", "f"},
                          {"canonical_solution", "    return x + 1\n"},
                          {"test", "def check(candidate):\n    assert candidate(1) == 2\n"}}
               .dump()
        << "\n";
}

// A Unix socket on the host, world-connectable, that counts who connected.
struct HostSocket {
  std::string path;
  int fd = -1;
  explicit HostSocket(std::string p) : path(std::move(p)) {
    unlink(path.c_str());
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
    EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr *>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(listen(fd, 4), 0);
    chmod(path.c_str(), 0777);
  }
  bool anyone_connected() { return accept(fd, nullptr, nullptr) >= 0; }
  ~HostSocket() {
    close(fd);
    unlink(path.c_str());
  }
};

std::map<std::string, std::string> verdicts(const std::string &scored_path) {
  std::map<std::string, std::string> out;
  std::ifstream in(scored_path);
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line);
    out[j["id"].get<std::string>().substr(8)] =
        std::string(j["correct"].get<bool>() ? "PASS" : "FAIL") + " " + j["detail"].get<std::string>();
  }
  return out;
}

TEST(SandboxHostile, EscapesAreContainedAndCheatsFail) {
  const std::string dir = make_temp_dir("hostile");
  const std::string tag = std::to_string(getpid());
  const std::string secret = "aio-secret-" + tag;
  HostSocket host_socket("/tmp/aio-hostile-" + tag + ".sock");
  // A host process whose command line holds a secret (as an --api-key on a command line would).
  BackgroundProcess secret_holder({"/usr/bin/python3", "-c", "import time; time.sleep(120)", secret});

  const std::map<std::string, std::string> attacks = {
      {"write-anywhere", R"(    import os
    try:
        open('/tmp/aio-hostile-TAG', 'w').write('x')  # the sandbox's own /tmp: must not reach the host's
    except OSError:
        pass
    for p in ['/var/tmp/aio-hostile-TAG', '/usr/aio-hostile-TAG', '/aio-hostile-TAG', '/dev/aio-hostile-TAG',
              '/root/aio-hostile-TAG']:
        try:
            open(p, 'w').write('x')
            return -1
        except OSError:
            pass
    return x + 1
)"},
      {"remount", R"(    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.mount(None, b'/', None, ctypes.c_ulong(32 | 4096), None) == 0:  # MS_REMOUNT | MS_BIND, read-write
        return -1
    if libc.mount(b'none', b'/usr', b'tmpfs', 0, None) == 0:
        return -1
    if libc.unshare(0x10000000 | 0x00020000) == 0:  # a new user + mount namespace, to get capabilities back
        return -1
    try:
        open('/var/tmp/aio-hostile-TAG-remount', 'w').write('x')
        return -1
    except OSError:
        return x + 1
)"},
      {"host-sockets", R"(    import socket
    s = socket.socket(socket.AF_UNIX)
    for path in ['/tmp/aio-hostile-TAG.sock', '/run/systemd/private', '/var/run/docker.sock']:
        try:
            s.connect(path)
            return -1
        except OSError:
            pass
    try:
        socket.create_connection(('127.0.0.1', 22), timeout=1)
        return -1
    except OSError:
        return x + 1
)"},
      {"proc", R"(    import os
    pids = [p for p in os.listdir('/proc') if p.isdigit()]
    if len(pids) > 3:
        return -1
    for p in pids:
        if b'SECRET' in open('/proc/%s/cmdline' % p, 'rb').read():
            return -1
    if 'cgroup' in open('/proc/self/mounts').read():  # the host's mounts
        return -1
    return x + 1
)"},
      {"privileges", R"(    import ctypes, platform
    st = dict(l.split(':', 1) for l in open('/proc/self/status').read().splitlines() if ':' in l)
    if int(st['CapEff'], 16) or int(st['CapPrm'], 16) or int(st['CapBnd'], 16):
        return -1
    if st['NoNewPrivs'].strip() != '1' or st['Seccomp'].strip() != '2':
        return -1
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.ptrace(16, 1, 0, 0) == 0:  # PTRACE_ATTACH to the namespace's init
        return -1
    if platform.machine() == 'x86_64':
        for nr, args in [(321, (0, 0, 0)), (250, (0, -3, 0)), (425, (1, 0))]:  # bpf, keyctl, io_uring_setup
            if libc.syscall(nr, *args) >= 0:
                return -1
    return x + 1
)"},
      {"fork-storm", R"(    import os, time
    kids = 0
    for _ in range(400):
        try:
            pid = os.fork()
        except OSError:
            break
        if pid == 0:
            time.sleep(60)
            os._exit(0)
        kids += 1
    return x + 1 if kids < 100 else -1
)"},
      {"memory-storm", R"(    import os, time
    kids = []
    for _ in range(6):
        pid = os.fork()
        if pid == 0:
            b = b'x' * (300 << 20)  # 6 x 300 MB: each under the per-process cap, together over the run's
            time.sleep(2)
            os._exit(0)
        kids.append(pid)
    survivors = sum(1 for k in kids if os.waitpid(k, 0)[1] == 0)
    return x + 1 if survivors < 6 else -1
)"},
  };
  // The cheats issue 19 found in a one-process harness, and the older ones: each prints what a forged pass would
  // print and exits 0, or shadows what the test uses. The verdict is a separate checker's, so all of them fail.
  const std::string forge = "print('all tests passed'); import os; os._exit(0)\n";
  const std::map<std::string, std::string> cheats = {
      {"cheat-sys-exit", "    return -1\nimport sys\nsys.exit(0)\n"},
      {"cheat-atexit", "    return -1\nimport atexit, os\natexit.register(lambda: os._exit(0))\n"},
      {"cheat-excepthook", "    return -1\nimport sys, os\nsys.excepthook = lambda *a: os._exit(0)\n"},
      {"cheat-always-equal", "    class E:\n        def __eq__(self, o): return True\n    return E()\n"},
      {"cheat-own-file", "    return -1\nimport glob\nfor p in glob.glob('/work/*'): print(open(p).read())\n" + forge},
      {"cheat-code-constants", "    return -1\nimport sys\nprint(sys._getframe().f_code.co_consts)\n" + forge},
      {"cheat-frames", "    return -1\nimport sys\nf = sys._getframe()\nwhile f:\n    print(f.f_globals.keys())\n"
                       "    f = f.f_back\n" + forge},
      {"cheat-inspect-stack", "    return -1\nimport inspect\nprint([fr.frame.f_locals for fr in inspect.stack()])\n" +
                                  forge},
      {"cheat-shadow-builtin", "    return -1\nabs = lambda v: 0\nint = lambda *a: 2\nlen = lambda v: 0\n"},
      {"cheat-snapshot-update", "    return -1\nimport builtins\nbuiltins.AssertionError = Warning\n"
                                "for k, v in list(globals().items()):\n    if isinstance(v, dict): v.update(vars(builtins))\n"},
      {"cheat-patched-builtin", "    return -1\nimport builtins\nbuiltins.print = lambda *a, **k: None\n"},
  };
  std::vector<std::string> names;
  std::ofstream completions(dir + "/completions.jsonl");
  auto add = [&](const std::string &name, std::string body) {
    for (const auto &[from, to] : {std::pair<std::string, std::string>{"TAG", tag}, {"SECRET", secret}})
      for (size_t at; (at = body.find(from)) != std::string::npos;) body.replace(at, from.size(), to);
    names.push_back(name);
    completions << nlohmann::json{{"task_id", "Hostile/" + name}, {"completion", body}}.dump() << "\n";
  };
  for (const auto &[name, body] : attacks) add(name, body);
  for (const auto &[name, body] : cheats) add(name, body);
  completions.close();
  write_dataset(dir + "/hostile.jsonl", names);

  auto r = run_aio({"score", "--task", "humaneval", "--data", dir + "/hostile.jsonl", "--completions",
                    dir + "/completions.jsonl", "--timeout", "20", "-o", dir + "/scored.jsonl"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const bool contained = r.err.find("isolated by bubblewrap") != std::string::npos;
  const bool whole_run_cap = r.err.find("caps the whole run's memory") != std::string::npos;
  if (!contained) GTEST_SKIP() << "this machine gives no sandbox: " << r.err;
  const auto v = verdicts(dir + "/scored.jsonl");
  for (const auto &[name, body] : attacks) {
    if (name == "memory-storm" && !whole_run_cap) continue;
    EXPECT_EQ(v.at(name).substr(0, 4), "PASS") << name << " escaped: " << v.at(name);
  }
  for (const auto &[name, body] : cheats) EXPECT_EQ(v.at(name).substr(0, 4), "FAIL") << name << ": " << v.at(name);

  // From the host's side: nothing written, nobody connected.
  for (const std::string &path : {"/tmp/aio-hostile-" + tag, "/var/tmp/aio-hostile-" + tag,
                                 "/var/tmp/aio-hostile-" + tag + "-remount", "/aio-hostile-" + tag})
    EXPECT_FALSE(fs::exists(path)) << path << " was written on the host";
  EXPECT_FALSE(host_socket.anyone_connected());
}

// The pids of every process below `root` (its children, theirs, ...).
// A /proc file's text, or "" when its process has exited meanwhile (reading then fails with ESRCH, which libstdc++'s
// filebuf reports by throwing).
std::string read_proc(const fs::path &path) {
  try {
    std::ifstream in(path);
    return std::string((std::istreambuf_iterator<char>(in)), {});
  } catch (const std::exception &) {
    return "";
  }
}

std::set<int> descendants(int root) {
  std::map<int, std::vector<int>> children;
  for (const auto &e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::string text = read_proc(e.path() / "stat");
    const auto close_paren = text.rfind(')');
    if (close_paren == std::string::npos) continue;
    std::istringstream rest(text.substr(close_paren + 2));
    char state;
    int ppid = 0;
    rest >> state >> ppid;
    children[ppid].push_back(std::stoi(name));
  }
  std::set<int> out;
  std::vector<int> todo = {root};
  while (!todo.empty()) {
    const int p = todo.back();
    todo.pop_back();
    for (int c : children[p])
      if (out.insert(c).second) todo.push_back(c);
  }
  return out;
}

bool alive(int pid) {
  const std::string text = read_proc("/proc/" + std::to_string(pid) + "/stat");
  const auto close_paren = text.rfind(')');
  return close_paren != std::string::npos && text.size() > close_paren + 2 && text[close_paren + 2] != 'Z';
}

// However `aio score` ends - SIGKILL, SIGTERM, Ctrl-C - the code it was running ends with it, children included,
// and nothing of the run stays behind.
TEST(SandboxHostile, KillingAioKillsTheRun) {
  const std::string dir = make_temp_dir("hostile-kill");
  write_dataset(dir + "/one.jsonl", {"sleeper"});
  std::ofstream(dir + "/c.jsonl") << nlohmann::json{{"task_id", "Hostile/sleeper"},
                                                    {"completion", "    import os, time\n    os.fork()\n"
                                                                   "    time.sleep(120)\n    return x + 1\n"}}
                                         .dump()
                                  << "\n";
  std::set<uid_t> run_uids;
  for (int sig : {SIGKILL, SIGTERM, SIGINT}) {
    BackgroundProcess aio({aio_binary(), "score", "--task", "humaneval", "--data", dir + "/one.jsonl",
                           "--completions", dir + "/c.jsonl", "--timeout", "120"});
    // Wait until the program runs (python, and its forked child, below aio).
    std::set<int> run;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      run = descendants(aio.pid());
      int pythons = 0;
      for (int p : run) {
        pythons += read_proc("/proc/" + std::to_string(p) + "/cmdline").find("program.py") != std::string::npos;
      }
      if (pythons >= 2) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_GE(run.size(), 2u) << "the sandboxed program never started";
    for (int p : run) { // the run's uids (its own, as root): what it left behind is owned by them
      struct stat st{};
      if (stat(("/proc/" + std::to_string(p)).c_str(), &st) == 0 && st.st_uid != getuid()) run_uids.insert(st.st_uid);
    }
    aio.send_signal(sig);
    aio.wait(10);
    std::set<int> left = run;
    const auto gone_by = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!left.empty() && std::chrono::steady_clock::now() < gone_by) {
      for (auto it = left.begin(); it != left.end();) it = alive(*it) ? std::next(it) : left.erase(it);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_TRUE(left.empty()) << "signal " << sig << ": " << left.size() << " processes of the run outlived aio";
    for (int p : left) kill(p, SIGKILL);
  }
  if (fs::exists("/usr/bin/bwrap")) { // contained runs have no host directory at all
    // Only this test's runs' (another test may be running code unisolated at this moment, in a directory of its own).
    for (const auto &e : fs::directory_iterator("/tmp")) {
      struct stat st{};
      const bool ours = run_uids.empty() || (stat(e.path().c_str(), &st) == 0 && run_uids.count(st.st_uid) > 0);
      EXPECT_FALSE(ours && e.path().filename().string().rfind("aio-sandbox-", 0) == 0) << e.path() << " left behind";
    }
  }
}

} // namespace
} // namespace aio::test
