#include "util/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
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

Expected<std::string> read_file(const std::string &path, const std::string &what) {
  auto fd = open_regular(path, what);
  if (!fd) return fd.status();
  std::string out;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(*fd, buf, sizeof(buf));
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
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
