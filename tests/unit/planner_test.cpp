// The planner against hand-computed values from the paper's tables.
#include <gtest/gtest.h>

#include <fstream>

#include "config/config.h"
#include "plan/planner.h"
#include "policy/policy_config.h"
#include "support/paths.h"

namespace aio::plan {
namespace {

Profile paper() {
  auto p = load_profile(std::string(AIO_SOURCE_DIR) + "/profiles/paper-ascend910b.yaml");
  EXPECT_TRUE(p.ok()) << p.status().to_string();
  return p.ok() ? *p : Profile{};
}

const policy::Policy &builtin(const std::string &name) { return policy::builtin_policies().at(name); }

TEST(Planner, StaticRowsOfTable4FollowFromTable3) {
  const Profile p = paper();
  // Scenario A = 70% HumanEval, 20% C-Eval, 10% GSM8K.
  //   1B: 0.7 * 67.68 + 0.2 * 63.20 + 0.1 * 73.92 = 67.408;  0.7 * 21.18 + 0.2 * 21.58 + 0.1 * 21.44 = 21.286
  //   7B: 0.7 * 62.80 + 0.2 * 78.89 + 0.1 * 83.02 = 68.040;  0.7 * 16.65 + 0.2 * 17.18 + 0.1 * 16.65 = 16.756
  const auto a = *eval::load_scenario("A");
  const Expectation small = plan_policy(p, a, builtin("static-small"));
  EXPECT_NEAR(small.acc, 67.408, 1e-9);
  EXPECT_NEAR(small.tps_weighted, 21.286, 1e-9);
  const Expectation large = plan_policy(p, a, builtin("static-large"));
  EXPECT_NEAR(large.acc, 68.040, 1e-9);
  EXPECT_NEAR(large.tps_weighted, 16.756, 1e-9);
  // Equal-length requests: total tokens / total time = 1 / sum(w / tps).
  EXPECT_NEAR(large.tps_aggregate, 1.0 / (0.7 / 16.65 + 0.2 / 17.18 + 0.1 / 16.65), 1e-9);
  // Scenario B = 30 / 40 / 30: 1B 67.76 / 21.418, 7B 75.302 / 16.862.
  const auto b = *eval::load_scenario("B");
  EXPECT_NEAR(plan_policy(p, b, builtin("static-small")).acc, 67.76, 1e-9);
  EXPECT_NEAR(plan_policy(p, b, builtin("static-large")).tps_weighted, 16.862, 1e-9);
}

TEST(Planner, MisroutesAreTheExpectationOverTheConfusionMatrix) {
  const Profile p = paper();
  const auto a = *eval::load_scenario("A");
  // aio: code -> 1B plain, qa/math -> 7B PLD. Table 2 rows: code 94/4/2, qa 8/89/3, math 1/6/93.
  //   HumanEval: 0.94 * 67.68 + 0.06 * 41.46 = 66.1068     tps 0.94 * 21.18 + 0.06 * 18.25 = 21.0042
  //   C-Eval:    0.08 * 63.20 + 0.92 * 80.92 = 79.5024     tps 0.08 * 21.58 + 0.92 * 20.15 = 20.2644
  //   GSM8K:     0.01 * 73.92 + 0.99 * 83.32 = 83.226      tps 0.01 * 21.44 + 0.99 * 17.69 = 17.7275
  const double acc = 0.7 * 66.1068 + 0.2 * 79.5024 + 0.1 * 83.226;
  const double tps = 0.7 * 21.0042 + 0.2 * 20.2644 + 0.1 * 17.7275;
  const Expectation e = plan_policy(p, a, builtin("aio"));
  EXPECT_NEAR(e.acc, acc, 1e-9);
  EXPECT_NEAR(e.tps_weighted, tps, 1e-9);
  EXPECT_NEAR(e.routes.at("small/plain"), 0.7 * 0.94 + 0.2 * 0.08 + 0.1 * 0.01, 1e-9);
  // The oracle routes on the true label: 0.7 * 67.68 + 0.2 * 80.92 + 0.1 * 83.32 = 71.892.
  EXPECT_NEAR(plan_policy(p, a, builtin("oracle"), false).acc, 71.892, 1e-9);
  // The random baseline averages its draws: close to the mean of the two static policies.
  const Expectation r = plan_policy(p, a, builtin("random"));
  EXPECT_NEAR(r.acc, (67.408 + 68.040) / 2, 0.05);
}

TEST(Planner, ALoadAwarePolicyIsPlannedIdleAtEachStageAndSaturated) {
  const Profile p = paper();
  const auto a = *eval::load_scenario("A");
  // Idle, aio-load routes as aio does.
  const Expectation idle = plan_policy(p, a, builtin("aio-load"), true, 512, Load::idle());
  const Expectation aio = plan_policy(p, a, builtin("aio"));
  EXPECT_NEAR(idle.acc, aio.acc, 1e-9);
  EXPECT_EQ(idle.routes, aio.routes);
  // Past the first stage (the large model's wait > 2 s), every request read as qa goes to the small model with PLD
  // (Table 2's rows as above):
  //   HumanEval: 0.94 * 67.68 (small/plain) + 0.04 * 51.22 (small/pld) + 0.02 * 41.46 (large/pld) = 66.4972
  //   C-Eval:    0.08 * 63.20 + 0.89 * 64.40 + 0.03 * 80.92 = 64.7996
  //   GSM8K:     0.01 * 73.92 + 0.06 * 62.09 + 0.93 * 83.32 = 81.9522
  const Expectation busy = plan_policy(p, a, builtin("aio-load"), true, 512, Load::waiting(2001));
  EXPECT_NEAR(busy.acc, 0.7 * 66.4972 + 0.2 * 64.7996 + 0.1 * 81.9522, 1e-9);
  EXPECT_NEAR(busy.routes.at("small/pld"), 0.7 * 0.04 + 0.2 * 0.89 + 0.1 * 0.06, 1e-9);
  EXPECT_LT(busy.acc, idle.acc);
  // Saturated (past the second stage, 6 s), every request goes small; read as code, with PLD off:
  //   HumanEval: 0.94 * 67.68 + 0.06 * 51.22; C-Eval: 0.08 * 63.20 + 0.92 * 64.40; GSM8K: 0.01 * 73.92 + 0.99 * 62.09
  const Expectation full = plan_policy(p, a, builtin("aio-load"), true, 512, Load::full());
  EXPECT_NEAR(full.acc, 0.7 * (0.94 * 67.68 + 0.06 * 51.22) + 0.2 * (0.08 * 63.20 + 0.92 * 64.40) +
                            0.1 * (0.01 * 73.92 + 0.99 * 62.09), 1e-9);
  EXPECT_EQ(full.routes.count("large/pld") + full.routes.count("large/plain"), 0u);
  EXPECT_LT(full.acc, busy.acc);
  // A policy without load conditions plans the same either way.
  EXPECT_NEAR(plan_policy(p, a, builtin("aio"), true, 512, Load::full()).acc, aio.acc, 1e-9);
}

TEST(Planner, TheOptimizerFindsThePapersPolicyAndWritesIt) {
  const Profile p = paper();
  const auto a = *eval::load_scenario("A");
  const auto all = enumerate_assignments(p, a);
  EXPECT_EQ(all.size(), 6u * 6u * 6u);
  const auto best = best_above(all, 70.0);
  ASSERT_TRUE(best.has_value());
  EXPECT_EQ(best->by_category.at("code"), "small/plain");
  EXPECT_EQ(best->by_category.at("qa"), "large/pld");
  EXPECT_EQ(best->by_category.at("math"), "large/pld");
  EXPECT_FALSE(best_above(all, 99.0).has_value());
  const auto front = pareto_front(all);
  for (size_t i = 1; i < front.size(); ++i) {
    EXPECT_GT(front[i].expected.tps_weighted, front[i - 1].expected.tps_weighted);
    EXPECT_LT(front[i].expected.acc, front[i - 1].expected.acc) << "faster points on the frontier are less accurate";
  }
  // The written policy is a valid policy file that routes as planned.
  const std::string dir = test::make_temp_dir("plan");
  std::ofstream(dir + "/aio.yaml") << "models:\n  small: {path: s.gguf}\n  large: {path: l.gguf}\npolicy: planned\n"
                                   << assignment_policy_yaml(*best, "planned", "test", 2048);
  auto cfg = config::load_config(dir + "/aio.yaml");
  ASSERT_TRUE(cfg.ok()) << cfg.status().to_string();
  EXPECT_NEAR(plan_policy(p, a, cfg->policies.at("planned")).acc, best->expected.acc, 1e-9);
}

// With the probe's entropy samples, tau takes effect: uncertain requests follow the policy's fallback.
TEST(Planner, EntropySamplesMakeTauMatter) {
  const std::string dir = test::make_temp_dir("tau");
  std::ofstream(dir + "/p.yaml")
      << "configurations:\n"
         "  small/plain: {humaneval: {acc: 50, tps: 30}}\n"
         "  large/plain: {humaneval: {acc: 90, tps: 10}}\n"
         "probe_confusion: {code: {code: 1}}\n"
         "probe_entropy: {code: [0.1, 0.1, 0.9, 0.9]}\n";
  std::ofstream(dir + "/s.yaml") << "mix: [{task: humaneval, share: 1}]\n";
  auto p = load_profile(dir + "/p.yaml");
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  auto sc = eval::load_scenario(dir + "/s.yaml");
  ASSERT_TRUE(sc.ok()) << sc.status().to_string();
  // aio: confident code (entropy <= tau = 0.45) -> small; the uncertain half -> large.
  const Expectation e = plan_policy(*p, *sc, builtin("aio"));
  EXPECT_NEAR(e.acc, 0.5 * 50 + 0.5 * 90, 1e-9);
  EXPECT_NEAR(e.tps_weighted, 0.5 * 30 + 0.5 * 10, 1e-9);
  // Without the entropy fallback every code request goes to the small model.
  EXPECT_NEAR(plan_policy(*p, *sc, builtin("no-entropy-fallback")).acc, 50, 1e-9);
  // The optimizer finds the fallback and its tau for a 70% floor.
  const auto best = best_above(enumerate_assignments(*p, *sc), 70);
  ASSERT_TRUE(best.has_value());
  // (Two assignments tie: confident -> small and uncertain -> large, or the other way round.)
  EXPECT_NE(best->uncertain, "");
  EXPECT_NE(best->uncertain, best->by_category.at("code"));
  EXPECT_DOUBLE_EQ(best->tau, 0.1);
  EXPECT_NEAR(best->expected.acc, 70, 1e-9);
  EXPECT_NEAR(best->expected.tps_weighted, 20, 1e-9);
  EXPECT_NE(assignment_policy_yaml(*best, "x", "y", 2048).find("entropy_gt: 0.1"), std::string::npos);
}

TEST(Planner, ProfileMistakesAreExplained) {
  const std::string dir = test::make_temp_dir("profile");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"configurations: {small/plain: {gsm8k: {acc: 120, tps: 3}}}\n", "percentage"},
      {"configurations: {small/plain: {gsm8k: {acc: 50, tps: 0}}}\n", "tps must be positive"},
      {"configurations: {small/plain: {gsm8k: {accuracy: 50}}}\n", "unknown key 'accuracy'"},
      {"source: x\n", "no 'configurations'"},
  };
  for (const auto &[yaml, expect] : cases) {
    std::ofstream(dir + "/p.yaml") << yaml;
    auto p = load_profile(dir + "/p.yaml");
    ASSERT_FALSE(p.ok()) << yaml;
    EXPECT_NE(p.status().message().find(expect), std::string::npos) << p.status().message();
  }
  // What aio profile writes reads back the same.
  const Profile p = paper();
  std::ofstream(dir + "/round.yaml") << profile_yaml(p);
  auto back = load_profile(dir + "/round.yaml");
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_DOUBLE_EQ(back->configurations.at("large/pld").at("ceval").acc, 80.92);
  EXPECT_DOUBLE_EQ(back->p_predicted("qa", "code"), 0.08);
}

} // namespace
} // namespace aio::plan
