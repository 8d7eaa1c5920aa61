// `aio plan` on the paper's profile and `aio profile` measuring one here, then planned from.
#include <gtest/gtest.h>

#include <fstream>

#include "support/aio_server.h"
#include "support/paths.h"
#include "support/process.h"

namespace aio::test {
namespace {

TEST(PlanCli, ThePapersProfileReproducesTable4AndFlagsItsInconsistencies) {
  auto r = run_aio({"plan", "--profile", std::string(AIO_SOURCE_DIR) + "/profiles/paper-ascend910b.yaml"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Static rows agree with Table 4 (computed from Table 3).
  EXPECT_NE(r.out.find("| static-small | 67.41 | 21.29 | 21.28 | small/plain 100.0% | 67.41 (=) | 21.28 (=) |"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("| static-large | 75.30 | 16.86"), std::string::npos);
  // The paper's A-IO aggregate does not follow from its own per-task row.
  EXPECT_NE(r.out.find("implies 71.05% / 20.29 tps for scenario A; Table 4 publishes 70.85% / 19.80 tps - the "
                       "paper's published numbers disagree"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("## Scenario C"), std::string::npos);
  // The load-aware policy: as aio while idle, its accuracy cost past its first stage and with the large model saturated.
  EXPECT_NE(r.out.find("| aio-load (idle) | 70.50 |"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("| aio-load (wait > 2 s) | 67.70 |"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("| aio-load (saturated) | 65.77 |"), std::string::npos) << r.out;
}

TEST(PlanCli, AProfileMeasuredHereFeedsThePlanner) {
  const std::string dir = make_temp_dir("profile");
  auto prof = run_aio({"profile", "--config", serve_config(), "--data", std::string(AIO_SOURCE_DIR) + "/data/sample",
                       "--per-task", "2", "--configs", "small/plain,large/pld", "-o", dir + "/p.yaml"},
                      300);
  ASSERT_EQ(prof.exit_code, 0) << prof.err;
  EXPECT_NE(prof.out.find("small/plain: {ceval: {acc:"), std::string::npos) << prof.out;
  EXPECT_NE(prof.out.find("probe_confusion:"), std::string::npos);
  auto plan = run_aio({"plan", "--profile", dir + "/p.yaml", "--scenarios", "A", "--policies", "static-small,aio",
                       "--optimize", "--write-policy", dir + "/planned.yaml"});
  ASSERT_EQ(plan.exit_code, 0) << plan.err;
  EXPECT_NE(plan.out.find("| static-small | "), std::string::npos) << plan.out;
  EXPECT_NE(plan.out.find("Fastest with accuracy >= 0.00%"), std::string::npos) << plan.out;
  EXPECT_TRUE(std::ifstream(dir + "/planned.yaml").good());
  auto bad = run_aio({"profile", "--config", serve_config(), "--data", std::string(AIO_SOURCE_DIR) + "/data/sample",
                      "--configs", "small/draft", "-o", dir + "/x.yaml"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("MODEL/plain or MODEL/pld"), std::string::npos) << bad.err;
}

} // namespace
} // namespace aio::test
