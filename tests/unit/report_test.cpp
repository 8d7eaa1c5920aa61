// The report's arithmetic on hand-made records: aggregate tokens/s is a ratio of sums (not a mean of rates), the
// weighted mean follows the task mix, the Pareto frontier and the probe's confusion matrix (once per request).
#include <gtest/gtest.h>

#include "eval/report.h"
#include "support/paths.h"

namespace aio::eval {
namespace {
using nlohmann::json;

json record(const std::string &policy, const std::string &id, const std::string &task, bool correct, int tokens,
            double prefill_ms, double decode_ms, const std::string &predicted, const std::string &model) {
  const std::string truth = task == "humaneval" ? "code" : task == "gsm8k" ? "math" : "qa";
  return {{"scenario", "A"},
          {"policy", policy},
          {"id", id},
          {"task", task},
          {"true_label", truth},
          {"score", {{"correct", correct}}},
          {"run", {{"synthetic_models", true}, {"scenario_description", "test mix"}}},
          {"route",
           {{"probe", {{"kind", "fasttext"}, {"category", predicted}, {"entropy", 0.1}}},
            {"route", {{"model", model}, {"strategy", "plain"}}},
            {"timings_ms", {{"template", 0.1}, {"probe", 0.2}, {"route", 0.01}, {"switch", 0}, {"prefill", prefill_ms},
                            {"decode", decode_ms}}},
            {"tokens", {{"generated", tokens}, {"drafted", 0}, {"accepted", 0}}}}}};
}

TEST(Report, AggregatesAreRatiosOfSums) {
  std::vector<json> recs = {
      // fast: 100 tokens in 1 s, and 10 tokens in 1 s -> 110 / 2 = 55 tok/s (a mean of rates would say 55 too; the
      // next policy tells them apart)
      record("fast", "h1", "humaneval", false, 100, 0, 1000, "code", "small"),
      record("fast", "q1", "ceval", true, 10, 0, 1000, "qa", "small"),
      // slow: 100 tokens in 4 s and 10 tokens in 0.5 s -> 110 / 4.5 = 24.4 tok/s; mean of rates would be 22.5
      record("slow", "h1", "humaneval", true, 100, 0, 4000, "code", "large"),
      record("slow", "q1", "ceval", true, 10, 0, 500, "qa", "large"),
  };
  auto r = build_report(recs);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  const Aggregate &fast = r->by_scenario_policy.at(Report::key("A", "fast"));
  const Aggregate &slow = r->by_scenario_policy.at(Report::key("A", "slow"));
  EXPECT_DOUBLE_EQ(fast.tokens_per_second(), 55.0);
  EXPECT_NEAR(slow.tokens_per_second(), 110 / 4.5, 1e-9);
  EXPECT_DOUBLE_EQ(fast.accuracy(), 0.5);
  EXPECT_DOUBLE_EQ(slow.accuracy(), 1.0);
  // The weighted mean of per-task rates: (25 + 20) / 2 for slow.
  EXPECT_NEAR(r->weighted_tokens_per_second("A", "slow"), 22.5, 1e-9);
  // Neither dominates: fast is faster, slow more accurate.
  EXPECT_EQ(r->pareto("A"), (std::vector<std::string>{"fast", "slow"}));
  // The probe is counted once per request, not once per policy.
  EXPECT_EQ(r->confusion.at("A").at("code").at("code"), 1);
  EXPECT_EQ(r->confusion.at("A").at("qa").at("qa"), 1);
  EXPECT_TRUE(r->synthetic);

  const std::string md = report_markdown(*r);
  EXPECT_NE(md.find("Synthetic models"), std::string::npos);
  EXPECT_NE(md.find("| slow * | 2 | 100.0% | 24.44 | 22.50 |"), std::string::npos) << md;
  const json j = report_json(*r);
  EXPECT_NEAR(j["scenarios"]["A"]["policies"]["slow"]["tokens_per_second"].get<double>(), 24.444, 1e-3);

  const std::string dir = test::make_temp_dir("report");
  auto plots = write_report_plots(*r, dir);
  ASSERT_TRUE(plots.ok());
  EXPECT_EQ(plots->size(), 3u);
}

TEST(Report, DominatedPoliciesAreOffTheFrontier) {
  std::vector<json> recs = {record("good", "a", "gsm8k", true, 100, 0, 1000, "math", "small"),
                            record("bad", "a", "gsm8k", false, 100, 0, 2000, "qa", "large")};
  auto r = build_report(recs);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->pareto("A"), (std::vector<std::string>{"good"}));
  EXPECT_EQ(r->confusion.at("A").at("math").at("math"), 1) << "the first record of an id counts";
}

TEST(Report, ForeignFilesAreRefused) {
  EXPECT_FALSE(build_report({}).ok());
  EXPECT_FALSE(build_report({json{{"hello", 1}}}).ok());
}

} // namespace
} // namespace aio::eval
