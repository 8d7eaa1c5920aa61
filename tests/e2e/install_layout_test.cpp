// What an installed aio relies on: its data beside the binary (<prefix>/share/aio, or $AIO_DATA_DIR), its version
// naming the commit, and the readiness it reports to systemd (the sd_notify protocol, read here by a real socket).
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <regex>

#include <httplib.h>

#include "support/aio_server.h"
#include "support/paths.h"
#include "support/process.h"
#include "support/tiny_models.h"

namespace aio::test {
namespace {
namespace fs = std::filesystem;

std::vector<std::string> route_pair(const std::string &aio) {
  return {aio, "route", "-p", "Why is the sky blue?", "--small", tiny_pair().small_path, "--large",
          tiny_pair().large_path};
}

// The build tree: bin/aio beside share/aio (what `make install` lays out under the prefix).
fs::path build_share() { return fs::path(aio_binary()).parent_path().parent_path() / "share" / "aio"; }

TEST(InstallLayout, ACopiedBinaryReadsTheDataBesideIt) {
  // <dir>/bin/aio with <dir>/share/aio: found without any setting, as /usr/bin/aio finds /usr/share/aio.
  const fs::path root = make_temp_dir("layout");
  fs::create_directories(root / "bin");
  fs::copy_file(aio_binary(), root / "bin" / "aio");
  fs::create_directories(root / "share" / "aio");
  fs::copy(build_share() / "probe", root / "share" / "aio" / "probe", fs::copy_options::recursive);
  auto ok = run_process(route_pair((root / "bin" / "aio").string()));
  EXPECT_EQ(ok.exit_code, 0) << ok.err;

  // Without it: the error names the file, where it looked and the variable that points aio at it.
  fs::remove_all(root / "share");
  if (!fs::exists("/usr/share/aio/probe")) { // (an aio installed on this machine would be found, rightly)
    auto missing = run_process(route_pair((root / "bin" / "aio").string()));
    EXPECT_NE(missing.exit_code, 0);
    EXPECT_NE(missing.err.find("built-in fastText probe"), std::string::npos) << missing.err;
    EXPECT_NE(missing.err.find("AIO_DATA_DIR"), std::string::npos) << missing.err;
  }

  // $AIO_DATA_DIR wins over the directory beside the binary.
  ::setenv("AIO_DATA_DIR", build_share().c_str(), 1);
  auto via_env = run_process(route_pair((root / "bin" / "aio").string()));
  ::setenv("AIO_DATA_DIR", (root / "nowhere").c_str(), 1);
  auto wrong_env = run_process(route_pair(aio_binary()));
  ::unsetenv("AIO_DATA_DIR");
  EXPECT_EQ(via_env.exit_code, 0) << via_env.err;
  EXPECT_NE(wrong_env.exit_code, 0);
  EXPECT_NE(wrong_env.err.find((root / "nowhere").string()), std::string::npos) << wrong_env.err;
}

TEST(InstallLayout, SynthEmbedsTheShippedTokenizer) {
  if (!fs::exists(build_share() / "tokenizer" / "tokenizer.json")) GTEST_SKIP() << "the Llama-3 tokenizer was not fetched";
  const std::string out = make_temp_dir("synth-tok") + "/m.gguf";
  auto r = run_aio({"synth", "--preset", "tiny-small", "-o", out});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto info = run_aio({"info", "--json", out});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  EXPECT_NE(info.out.find("\"n_vocab\": 128256"), std::string::npos) << info.out;
}

TEST(InstallLayout, VersionNamesTheReleaseAndTheCommit) {
  auto r = run_aio({"--version"});
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_TRUE(std::regex_search(r.out, std::regex(R"(^aio [0-9]+\.[0-9]+\.[0-9]+ \(commit [0-9a-f]{7,}(-dirty)?\))")))
      << r.out;
}

// A systemd-style notify socket: the datagrams `aio serve` sends to $NOTIFY_SOCKET.
class NotifySocket {
public:
  NotifySocket() : path_(make_temp_dir("notify") + "/notify.sock") {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path_.c_str());
    bound_ = bind(fd_, reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) == 0;
    timeval tv{.tv_sec = 60, .tv_usec = 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  ~NotifySocket() { close(fd_); }
  bool bound() const { return bound_; }
  const std::string &path() const { return path_; }
  // The next datagram containing `needle` (earlier ones are kept in seen()); "" after a minute without one.
  std::string wait_for(const std::string &needle) {
    char buf[4096];
    for (;;) {
      const ssize_t n = recv(fd_, buf, sizeof(buf), 0);
      if (n < 0) return "";
      seen_.emplace_back(buf, static_cast<size_t>(n));
      if (seen_.back().find(needle) != std::string::npos) return seen_.back();
    }
  }
  const std::vector<std::string> &seen() const { return seen_; }

private:
  std::string path_;
  int fd_ = -1;
  bool bound_ = false;
  std::vector<std::string> seen_;
};

TEST(InstallLayout, ServeTellsSystemdWhenItIsReadyAndWhenItStops) {
  NotifySocket notify;
  ASSERT_TRUE(notify.bound());
  ::setenv("NOTIFY_SOCKET", notify.path().c_str(), 1);
  AioServer server({"--slots", "1"});
  ::unsetenv("NOTIFY_SOCKET");
  ASSERT_GT(server.port, 0) << server.proc->output();
  const std::string ready = notify.wait_for("READY=1");
  ASSERT_FALSE(ready.empty()) << server.proc->output();
  EXPECT_NE(ready.find("STATUS=serving on 127.0.0.1:" + std::to_string(server.port)), std::string::npos) << ready;
  ASSERT_GE(notify.seen().size(), 2u);
  EXPECT_NE(notify.seen().front().find("STATUS=loading models"), std::string::npos) << notify.seen().front();
  // READY=1 means what systemd takes it to mean: the models are loaded and requests are answered.
  auto health = server.client->Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200) << health->body;

  server.proc->send_signal(SIGTERM);
  EXPECT_FALSE(notify.wait_for("STOPPING=1").empty());
  EXPECT_EQ(server.proc->wait(), 0) << server.proc->output();
}

} // namespace
} // namespace aio::test
