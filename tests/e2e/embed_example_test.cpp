// The embedding example (examples/embed): a program built against include/aio alone loads a config, routes a request
// and answers it - the test that the public face is enough to use A-IO as a library.
#include <gtest/gtest.h>

#include "support/aio_server.h"
#include "support/process.h"

namespace aio::test {
namespace {

TEST(EmbedExample, RoutesAndAnswersThroughThePublicFace) {
  const auto r = run_process({AIO_EMBED_EXAMPLE, serve_config(), "Write a Python function that reverses a list."}, 120);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("route: code -> small"), std::string::npos) << r.out;
  const size_t at = r.out.find("record: ");
  ASSERT_NE(at, std::string::npos) << r.out;
  const auto record = nlohmann::json::parse(r.out.substr(at + 8), nullptr, false);
  ASSERT_TRUE(record.is_object()) << r.out;
  EXPECT_EQ(record["route"]["model"], "small");
  EXPECT_EQ(record["tokens"]["generated"].get<int>() > 0, true);

  // A config that is not there: a clear error and a failing exit, not a crash.
  const auto missing = run_process({AIO_EMBED_EXAMPLE, "/nonexistent/aio.yaml", "hi"}, 60);
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("/nonexistent/aio.yaml"), std::string::npos) << missing.err;
}

} // namespace
} // namespace aio::test
