#include "util/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace aio {
namespace {

// Opens `path` for reading after checking what it is; returns the descriptor or why it cannot be read.
Expected<int> open_regular(const std::string &path, const std::string &what) {
  if (path.empty()) return invalid_argument("no " + what + " given (the path is empty)");
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int e = errno;
    if (e == ENOENT) return not_found(what + " not found: " + path);
    if (e == ELOOP) return invalid_argument(what + " " + path + " is a symbolic-link loop; point it at a real file");
    if (e == EACCES) return invalid_argument(what + " " + path + " cannot be reached (permission denied on a folder)");
    return invalid_argument("cannot read " + what + " " + path + ": " + std::strerror(e));
  }
  if (S_ISDIR(st.st_mode)) return invalid_argument(what + " " + path + " is a folder; give the path of a file in it");
  if (!S_ISREG(st.st_mode)) return invalid_argument(what + " " + path + " is not a regular file (a pipe or a device)");
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int e = errno;
    if (e == EACCES) return invalid_argument(what + " " + path + " is not readable (permission denied)");
    return invalid_argument("cannot open " + what + " " + path + ": " + std::strerror(e));
  }
  return fd;
}

} // namespace

Status check_readable_file(const std::string &path, const std::string &what) {
  auto fd = open_regular(path, what);
  if (!fd) return fd.status();
  ::close(*fd);
  return {};
}

namespace {
std::atomic<size_t> g_max_file_bytes{0};
} // namespace

void set_max_file_bytes(size_t bytes) { g_max_file_bytes = bytes; }

size_t max_file_bytes(size_t kind_default) {
  const size_t set = g_max_file_bytes;
  return set != 0 ? set : kind_default;
}

std::string format_bytes(size_t bytes) {
  char buf[32];
  if (bytes >= (size_t{1} << 30)) std::snprintf(buf, sizeof(buf), "%.1f GiB", static_cast<double>(bytes) / (1 << 30));
  else if (bytes >= (size_t{1} << 20)) std::snprintf(buf, sizeof(buf), "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  else std::snprintf(buf, sizeof(buf), "%zu bytes", bytes);
  return buf;
}

Expected<std::string> read_file(const std::string &path, const std::string &what, size_t max_bytes) {
  max_bytes = max_file_bytes(max_bytes);
  auto fd = open_regular(path, what);
  if (!fd) return fd.status();
  const auto too_large = [&](const std::string &size) {
    return invalid_argument(what + " " + path + " is " + size + "; files over " + format_bytes(max_bytes) +
                            " are refused (aio --max-file-size BYTES raises the limit)");
  };
  struct stat st {};
  if (::fstat(*fd, &st) == 0 && static_cast<size_t>(st.st_size) > max_bytes) {
    ::close(*fd);
    return too_large(format_bytes(static_cast<size_t>(st.st_size)));
  }
  std::string out;
  out.reserve(static_cast<size_t>(std::max<off_t>(st.st_size, 0)));
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(*fd, buf, sizeof(buf));
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
      if (out.size() > max_bytes) { // it grew while we read it
        ::close(*fd);
        return too_large("larger than its size said");
      }
      continue;
    }
    if (n == 0) break;
    if (errno == EINTR) continue;
    const int e = errno;
    ::close(*fd);
    return invalid_file("reading " + what + " " + path + " failed: " + std::strerror(e));
  }
  ::close(*fd);
  return out;
}

} // namespace aio
