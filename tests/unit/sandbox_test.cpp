// The sandbox that runs model-written code: ordinary programs pass or fail by their exit status; hostile ones
// (infinite loops, fork bombs, floods of output, writes outside their directory, sockets) are contained.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>

#include <fstream>
#include <thread>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sandbox/sandbox.h"

namespace aio::sandbox {
namespace {

const Sandbox &shared_sandbox() {
  static const Sandbox s = [] {
    auto made = Sandbox::create();
    if (!made.ok()) ADD_FAILURE() << made.status().to_string();
    return made.ok() ? *made : Sandbox{};
  }();
  return s;
}

SandboxLimits quick(double seconds = 5) {
  SandboxLimits l;
  l.timeout_seconds = seconds;
  return l;
}

TEST(Sandbox, ExitStatusDecides) {
  std::printf("isolation: %s\n", shared_sandbox().isolation().note.c_str());
  auto ok = shared_sandbox().run_python("print(sum(range(10)))\n", quick());
  EXPECT_TRUE(ok.passed()) << ok.output;
  EXPECT_EQ(ok.output, "45\n");
  auto bad = shared_sandbox().run_python("assert 1 + 1 == 3, 'arithmetic'\n", quick());
  EXPECT_EQ(bad.outcome, SandboxResult::Outcome::failed);
  EXPECT_NE(bad.output.find("AssertionError: arithmetic"), std::string::npos) << bad.output;
  auto syntax = shared_sandbox().run_python("def f(:\n", quick());
  EXPECT_EQ(syntax.outcome, SandboxResult::Outcome::failed);
}

TEST(Sandbox, AnInfiniteLoopTimesOut) {
  auto r = shared_sandbox().run_python("while True:\n    pass\n", quick(1));
  EXPECT_EQ(r.outcome, SandboxResult::Outcome::timed_out);
  EXPECT_LT(r.seconds, 5);
  auto sleeper = shared_sandbox().run_python("import time\ntime.sleep(60)\n", quick(1));
  EXPECT_EQ(sleeper.outcome, SandboxResult::Outcome::timed_out);
  EXPECT_LT(sleeper.seconds, 5);
}

TEST(Sandbox, AForkBombIsContainedAndCleanedUp) {
  auto r = shared_sandbox().run_python("import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
                                quick(2));
  EXPECT_FALSE(r.passed());
  EXPECT_LT(r.seconds, 10);
  // Nothing it started survives it: a quick program still runs at once afterwards.
  auto after = shared_sandbox().run_python("print('still here')\n", quick());
  EXPECT_TRUE(after.passed()) << after.output;
  // And no cgroup of any run of ours is left behind, killed or not.
  const std::string mine = "aio-sandbox-" + std::to_string(getpid()) + "-";
  std::vector<std::string> left;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator("/sys/fs/cgroup", ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (it->path().filename().string().rfind(mine, 0) == 0) left.push_back(it->path().string());
    if (it.depth() > 4) it.disable_recursion_pending();
  }
  EXPECT_TRUE(left.empty()) << left.size() << " left, e.g. " << (left.empty() ? "" : left.front());
}

// Runs at once take nothing from each other: a run that forks after a fork bomb has filled its own cap still can
// (CI saw a scoring run's bwrap refused a fork - "Resource temporarily unavailable" - while another test's bomb ran,
// when every run as root was `nobody` and RLIMIT_NPROC counted them all together). As root, each run is a uid of its own.
TEST(Sandbox, AForkBombTakesNothingFromOtherRuns) {
  SandboxResult patient;
  std::thread t([&] {
    patient = shared_sandbox().run_python(R"(import os, time
time.sleep(1.5)
for _ in range(4):
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
print('forked 4 as', os.getuid())
)",
                                          quick(15));
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto bomb = shared_sandbox().run_python("import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
                                          quick(4));
  t.join();
  EXPECT_FALSE(bomb.passed());
  ASSERT_TRUE(patient.passed()) << patient.outcome_name() << ": " << patient.output;
  EXPECT_NE(patient.output.find("forked 4 as"), std::string::npos) << patient.output;
  if (geteuid() == 0) {
    auto again = shared_sandbox().run_python("import os\nprint(os.getuid())\n", quick());
    ASSERT_TRUE(again.passed()) << again.output;
    const std::string uid = again.output.substr(0, again.output.find('\n'));
    EXPECT_NE(uid, "0");
    EXPECT_NE(uid, "65534") << "not a uid any account or other run uses";
    EXPECT_EQ(patient.output.find("forked 4 as " + uid + "\n"), std::string::npos) << "two runs, one uid: " << uid;
  }
}

TEST(Sandbox, BackgroundChildrenDieWithTheRun) {
  // A child that detaches (new session) and would outlive the program.
  auto r = shared_sandbox().run_python("import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(30)\n"
                                "print('parent done')\n",
                                quick(3));
  if (shared_sandbox().isolation().namespaces) {
    EXPECT_TRUE(r.passed()) << r.outcome_name() << r.output;
    EXPECT_LT(r.seconds, 3) << "the detached child died with the namespace's init";
  } else {
    EXPECT_FALSE(r.outcome == SandboxResult::Outcome::setup_error);
  }
}

TEST(Sandbox, HugeOutputIsCappedNotBuffered) {
  SandboxLimits l = quick(5);
  l.output_bytes = 1000;
  auto r = shared_sandbox().run_python("import sys\nfor _ in range(200000):\n    sys.stdout.write('x' * 100)\n", l);
  EXPECT_TRUE(r.passed()) << r.outcome_name();
  EXPECT_EQ(r.output.size(), 1000u);
  EXPECT_TRUE(r.output_truncated);
}

TEST(Sandbox, MemoryAndFileSizeAreLimited) {
  SandboxLimits l = quick(5);
  l.memory_bytes = 256u << 20;
  auto mem = shared_sandbox().run_python("x = bytearray(1 << 30)\n", l);
  EXPECT_EQ(mem.outcome, SandboxResult::Outcome::failed);
  EXPECT_NE(mem.output.find("MemoryError"), std::string::npos) << mem.output;
  l.file_size_bytes = 1 << 20;
  auto big = shared_sandbox().run_python("open('big', 'wb').write(b'x' * (4 << 20))\n", l);
  EXPECT_FALSE(big.passed());
}

TEST(Sandbox, WritesNeverReachTheHost) {
  if (!shared_sandbox().isolation().namespaces) GTEST_SKIP() << shared_sandbox().isolation().note;
  const std::string name = "aio-sandbox-escape-" + std::to_string(getpid());
  // Its /tmp is a tmpfs of its own: a write there succeeds and stays inside.
  auto tmp = shared_sandbox().run_python("open('/tmp/" + name + "', 'w').write('inside')\n", quick());
  EXPECT_TRUE(tmp.passed()) << tmp.output;
  EXPECT_FALSE(std::ifstream("/tmp/" + name).good()) << "the sandbox's /tmp is not the host's";
  // Everything else is read-only or absent.
  for (const std::string &path : {"/usr/" + name, "/" + name, "/dev/" + name, "/var/tmp/" + name}) {
    auto r = shared_sandbox().run_python("open('" + path + "', 'w').write('escaped')\n", quick());
    EXPECT_EQ(r.outcome, SandboxResult::Outcome::failed) << path;
    EXPECT_TRUE(r.output.find("Read-only file system") != std::string::npos ||
                r.output.find("No such file or directory") != std::string::npos)
        << r.output;
  }
  EXPECT_FALSE(std::ifstream("/var/tmp/" + name).good());
  // Its own directory is writable.
  auto own = shared_sandbox().run_python("open('scratch.txt', 'w').write('fine')\nprint(open('scratch.txt').read())\n", quick());
  EXPECT_TRUE(own.passed()) << own.output;
}

// What the probe found is what a run sees: no capabilities in any set, no_new_privs, a seccomp filter that refuses
// mount and new namespaces, and a /proc that shows the run's processes only.
TEST(Sandbox, RunsHoldNoPrivilegeAndSeeOnlyThemselves) {
  if (!shared_sandbox().isolation().namespaces) GTEST_SKIP() << shared_sandbox().isolation().note;
  EXPECT_TRUE(shared_sandbox().isolation().no_capabilities);
  EXPECT_TRUE(shared_sandbox().isolation().no_new_privs);
  EXPECT_TRUE(shared_sandbox().isolation().seccomp);
  auto r = shared_sandbox().run_python(R"(import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
print('mount', libc.mount(None, b'/', None, ctypes.c_ulong(32 | 4096), None), ctypes.get_errno())
print('unshare', libc.unshare(0x10000000), ctypes.get_errno())
print('pids', sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))
print('cgroup-visible', 'cgroup' in open('/proc/self/mounts').read())
)",
                                quick());
  ASSERT_TRUE(r.passed()) << r.output;
  EXPECT_NE(r.output.find("mount -1 1\n"), std::string::npos) << r.output; // EPERM
  EXPECT_NE(r.output.find("unshare -1 1\n"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("pids [1, 2]"), std::string::npos) << r.output; // bwrap's init and the program
  EXPECT_NE(r.output.find("cgroup-visible False"), std::string::npos) << r.output;
}

// The cap holds for the run as a whole, not per process: children that each stay under the per-process limit
// together exceed the run's memory, and some of them are killed.
TEST(Sandbox, MemoryIsCappedForTheWholeRun) {
  if (shared_sandbox().isolation().cgroup.empty()) GTEST_SKIP() << shared_sandbox().isolation().note;
  SandboxLimits l = quick(20);
  l.memory_bytes = 256u << 20;
  auto r = shared_sandbox().run_python(R"(import os, time
kids = []
for _ in range(4):
    pid = os.fork()
    if pid == 0:
        b = b'x' * (120 << 20)
        time.sleep(2)
        os._exit(0)
    kids.append(pid)
ok = sum(1 for k in kids if os.waitpid(k, 0)[1] == 0)
print('survivors', ok)
)",
                                l);
  ASSERT_TRUE(r.passed()) << r.outcome_name() << r.output;
  EXPECT_EQ(r.output.find("survivors 4"), std::string::npos) << "4 x 120 MB under a 256 MB cap: " << r.output;
  EXPECT_TRUE(r.memory_cap_hit) << r.output;
}

TEST(Sandbox, ThereIsNoNetwork) {
  if (!shared_sandbox().isolation().namespaces) GTEST_SKIP() << shared_sandbox().isolation().note;
  // A port that IS listening on the host's loopback: the sandbox still cannot reach it.
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr *>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr *>(&addr), &len), 0);
  const int port = ntohs(addr.sin_port);
  auto r = shared_sandbox().run_python("import socket\ns = socket.create_connection(('127.0.0.1', " + std::to_string(port) +
                                    "), timeout=2)\nprint('connected')\n",
                                quick());
  close(fd);
  EXPECT_EQ(r.outcome, SandboxResult::Outcome::failed);
  EXPECT_EQ(r.output.find("connected"), std::string::npos) << r.output;
}

} // namespace
} // namespace aio::sandbox
