#include "util/data_dir.h"

#include <cstdlib>
#include <filesystem>
#include <system_error>

#ifndef AIO_INSTALL_DATA_DIR
#error "AIO_INSTALL_DATA_DIR (the installed share/aio) is set by src/CMakeLists.txt"
#endif

namespace aio {
namespace fs = std::filesystem;

std::string data_dir() {
  if (const char *env = std::getenv("AIO_DATA_DIR"); env && *env) return env;
  std::error_code ec;
  // /proc/self/exe: the binary itself, whatever the current directory or PATH it was started from.
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path beside = exe.parent_path().parent_path() / "share" / "aio";
    if (fs::is_directory(beside, ec)) return beside.string();
  }
  return AIO_INSTALL_DATA_DIR;
}

Expected<std::string> find_data_file(const std::string &relative, const std::string &what) {
  const std::string dir = data_dir();
  const fs::path path = fs::path(dir) / relative;
  std::error_code ec;
  if (fs::exists(path, ec)) return path.string();
  return not_found(what + " is not at " + path.string() + " (aio's data directory is " + dir +
                   "): reinstall aio, or set AIO_DATA_DIR to the directory that holds " + relative);
}

Expected<std::string> builtin_probe_path() {
  return find_data_file("probe/aio-probe.bin", "the built-in fastText probe");
}

} // namespace aio
