// The fuzz targets (fuzz/) over their seed corpus and every input a fuzzer found (fuzz/regressions): each target's
// properties hold for all of them in the normal build too, so a crash once found stays fixed under `make test`.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include "fuzz_targets.h"
#include "support/paths.h"


namespace aio::test {
namespace {
namespace fs = std::filesystem;

size_t run_inputs(const std::string &target, int (*fn)(const uint8_t *, size_t)) {
  size_t n = 0;
  for (const char *set : {"corpus", "regressions"}) {
    const fs::path dir = fs::path(AIO_SOURCE_DIR) / "fuzz" / set / target;
    if (!fs::is_directory(dir)) continue;
    for (const auto &e : fs::directory_iterator(dir)) {
      std::ifstream in(e.path(), std::ios::binary);
      const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), {});
      SCOPED_TRACE(e.path().string());
      fn(reinterpret_cast<const uint8_t *>(bytes.data()), bytes.size()); // aborts when a property fails
      ++n;
    }
  }
  return n;
}

TEST(FuzzCorpus, EveryTargetHoldsOnItsSeedsAndRegressions) {
  EXPECT_GT(run_inputs("fuzz_openai_request", fuzz_openai_request), 0u);
  EXPECT_GT(run_inputs("fuzz_upstream_sse", fuzz_upstream_sse), 0u);
  EXPECT_GT(run_inputs("fuzz_yaml_loaders", fuzz_yaml_loaders), 0u);
  EXPECT_GT(run_inputs("fuzz_dataset_loaders", fuzz_dataset_loaders), 0u);
  EXPECT_GT(run_inputs("fuzz_results_log", fuzz_results_log), 0u);
  EXPECT_GT(run_inputs("fuzz_probe_text", fuzz_probe_text), 0u);
}

} // namespace
} // namespace aio::test
