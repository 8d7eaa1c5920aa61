#include "fuzz_target.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace aio::fuzz {

std::string write_input(const uint8_t *data, size_t size, const std::string &suffix) {
  static const std::string dir = [] {
    const auto d = std::filesystem::temp_directory_path() / ("aio-fuzz-" + std::to_string(getpid()));
    std::filesystem::create_directories(d);
    return d.string();
  }();
  const std::string path = dir + "/input" + suffix;
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(reinterpret_cast<const char *>(data),
                                                               static_cast<std::streamsize>(size));
  return path;
}

} // namespace aio::fuzz
