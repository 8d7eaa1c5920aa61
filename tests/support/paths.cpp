#include "support/paths.h"

#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <vector>

namespace aio::test {
namespace fs = std::filesystem;

std::string aio_binary() { return AIO_BINARY; }

std::string llama3_tokenizer_dir() {
  const std::string dir = AIO_DEFAULT_TOKENIZER_DIR;
  return !dir.empty() && fs::exists(fs::path(dir) / "models" / "tokenizer.json") ? dir : "";
}

std::optional<std::string> shared_data_dir() {
  if (const char *env = std::getenv("AIO_SHARED_DATA"); env && *env)
    return fs::is_directory(env) ? std::optional<std::string>(env) : std::nullopt;
  const fs::path p = fs::path(AIO_SOURCE_DIR) / ".." / "shared" / "data";
  if (fs::is_directory(p)) return fs::weakly_canonical(p).string();
  return std::nullopt;
}

namespace {
// Deliberately never destroyed: the atexit handler below runs after static destructors may have.
std::vector<std::string> &temp_dirs() {
  static auto *dirs = new std::vector<std::string>();
  return *dirs;
}
void remove_temp_dirs() {
  for (const auto &d : temp_dirs()) {
    std::error_code ec;
    fs::remove_all(d, ec);
  }
}
} // namespace

std::string make_temp_dir(const std::string &tag) {
  static std::once_flag once;
  std::call_once(once, [] { std::atexit(remove_temp_dirs); });
  std::string templ = (fs::temp_directory_path() / ("aio-test-" + tag + "-XXXXXX")).string();
  char *made = mkdtemp(templ.data());
  if (made == nullptr) std::abort();
  temp_dirs().push_back(made);
  return made;
}

} // namespace aio::test
