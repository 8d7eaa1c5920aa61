// The report's arithmetic on hand-made records: aggregate tokens/s is a ratio of sums (not a mean of rates), the
// weighted mean follows the task mix, the Pareto frontier and the probe's confusion matrix (once per request).
#include <gtest/gtest.h>

#include "eval/report.h"
#include "support/paths.h"

namespace aio::eval {
namespace {
using nlohmann::json;

ResultRecord record(const std::string &policy, const std::string &id, const std::string &task, bool correct,
                    int tokens, double prefill_ms, double decode_ms, const std::string &predicted,
                    const std::string &model) {
  ResultRecord r;
  r.scenario = "A";
  r.policy = policy;
  r.id = id;
  r.task = task;
  r.true_label = task == "humaneval" ? "code" : task == "gsm8k" ? "math" : "qa";
  r.score.correct = correct;
  r.run.synthetic_models = true;
  r.run.scenario_description = "test mix";
  RouteRecord route;
  route.probe.probe_kind = "fasttext";
  route.probe.categories = {"code", "qa", "math"};
  route.probe.distribution = {0.1, 0.1, 0.1};
  route.probe.argmax = predicted == "code" ? 0 : predicted == "qa" ? 1 : 2;
  route.probe.distribution[static_cast<size_t>(route.probe.argmax)] = 0.8;
  route.probe.entropy_bits = 0.1;
  route.probe.template_ms = 0.1;
  route.probe.probe_ms = 0.2;
  route.route.model = model;
  route.route_ms = 0.01;
  GenerationStats g;
  g.n_generated = tokens;
  g.prefill_ms = prefill_ms;
  g.decode_ms = decode_ms;
  route.generation = g;
  r.route = route;
  return r;
}

TEST(Report, AggregatesAreRatiosOfSums) {
  std::vector<ResultRecord> recs = {
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
  EXPECT_EQ(plots->size(), 5u) << "Pareto, route split, entropy, per-task accuracy and tokens/s";

  // The HTML page: the same tables (rendered from the Markdown), the plots inline, the frontier drawn, no fetches.
  const std::string html = report_html(*r, "today");
  EXPECT_NE(html.find("<td>slow *</td><td class=\"num\">2</td><td class=\"num\">100.0%</td><td class=\"num\">24.44</td>"),
            std::string::npos);
  EXPECT_NE(html.find("<polyline class=\"frontier\""), std::string::npos);
  EXPECT_EQ(html.find("<img"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  size_t figures = 0;
  for (size_t at = html.find("<figure"); at != std::string::npos; at = html.find("<figure", at + 1)) ++figures;
  EXPECT_EQ(figures, 5u);
  EXPECT_NE(html.find("<strong class=\"warn\">synthetic</strong>"), std::string::npos);
  EXPECT_NE(html.find("<blockquote><strong>Synthetic models</strong>"), std::string::npos) << "Markdown bold rendered";
}

// A config with four categories: the report's confusion matrix has the fourth, and its entropy plot spans log2 4 bits.
TEST(Report, AFourthCategoryIsReportedWithItsEntropyRange) {
  ResultRecord chat = record("aio", "c1", "humaneval", true, 10, 0, 1000, "code", "small");
  chat.true_label = "chat";
  chat.route->probe.categories = {"code", "qa", "math", "chat"};
  chat.route->probe.distribution = {0.05, 0.05, 0.05, 0.85};
  chat.route->probe.argmax = 3;
  chat.route->probe.entropy_bits = 1.9;
  auto r = build_report({chat, record("aio", "q1", "ceval", true, 10, 0, 1000, "qa", "large")});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->confusion.at("A").at("chat").at("chat"), 1);
  EXPECT_EQ(r->n_categories.at("A"), 4u);
  EXPECT_NE(report_markdown(*r).find("chat"), std::string::npos);
}

TEST(Report, DominatedPoliciesAreOffTheFrontier) {
  std::vector<ResultRecord> recs = {record("good", "a", "gsm8k", true, 100, 0, 1000, "math", "small"),
                            record("bad", "a", "gsm8k", false, 100, 0, 2000, "qa", "large")};
  auto r = build_report(recs);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->pareto("A"), (std::vector<std::string>{"good"}));
  EXPECT_EQ(r->confusion.at("A").at("math").at("math"), 1) << "the first record of an id counts";
}

TEST(Report, ForeignFilesAreRefused) {
  EXPECT_FALSE(build_report({}).ok());
  auto foreign = result_record_from_json(json{{"hello", 1}});
  ASSERT_FALSE(foreign.ok());
  EXPECT_NE(foreign.status().message().find("scenario is missing"), std::string::npos) << foreign.status().message();
  EXPECT_FALSE(result_record_from_json(json::object()).ok());
  // A run's taus that are not numbers name the field.
  json taus = result_record_json(record("p", "a", "gsm8k", true, 10, 1, 10, "math", "small"));
  taus["run"]["taus"] = {{"aio", "low"}};
  auto bad_taus = result_record_from_json(taus);
  ASSERT_FALSE(bad_taus.ok());
  EXPECT_NE(bad_taus.status().message().find("run.taus.aio is not a number"), std::string::npos);
  taus["run"]["taus"] = json::array({0.45});
  EXPECT_FALSE(result_record_from_json(taus).ok());
}

// Names come from users' files (policies, scenarios, models): the HTML page shows them as text, never as markup.
TEST(Report, TheHtmlPageEscapesWhatItShows) {
  std::vector<ResultRecord> recs = {record("<script>alert(1)</script>", "a", "gsm8k", true, 10, 1, 10, "math", "small")};
  recs[0].run.machine = "cpu & <b>ram</b>";
  auto r = build_report(recs);
  ASSERT_TRUE(r.ok());
  const std::string html = report_html(*r, "now");
  EXPECT_EQ(html.find("<script>"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(html.find("cpu &amp; &lt;b&gt;ram&lt;/b&gt;"), std::string::npos);
}

// The record the runner writes is the record the readers get back: every field survives the JSON round trip.
TEST(ResultRecordTest, RoundTripsThroughJson) {
  ResultRecord r = record("aio", "h1", "humaneval", true, 42, 12.5, 300.25, "qa", "large");
  r.route->route.strategy = Strategy::pld;
  r.route->route.policy = "aio";
  r.route->route.rule = "qa";
  r.route->route.reason = "because";
  r.route->probe.wait_ms = 3.5;
  r.route->generation->n_drafted = 7;
  r.route->generation->n_accepted = 5;
  r.route->generation->finish_reason = FinishReason::stop_string;
  r.run.long_context = {{"humaneval", 4096}};
  r.run.concurrency = 4;
  r.run.threads = 2;
  r.run.machine = "a CPU, 2 hardware threads";
  r.run.aio_version = "0.1.0 (abc)";
  r.run.taus = {{"aio", 0.45}};
  r.wall_start_s = 1.5;
  r.wall_end_s = 2.25;
  r.output = "text";
  auto back = result_record_from_json(json::parse(result_record_json(r).dump()));
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(back->key(), r.key());
  EXPECT_EQ(back->true_label, "code");
  EXPECT_EQ(back->route->route.strategy, Strategy::pld);
  EXPECT_EQ(back->route->probe.category(), "qa");
  EXPECT_DOUBLE_EQ(back->route->probe.wait_ms, 3.5);
  EXPECT_EQ(back->route->generation->n_generated, 42);
  EXPECT_EQ(back->route->generation->n_accepted, 5);
  EXPECT_DOUBLE_EQ(back->route->generation->decode_ms, 300.25);
  EXPECT_EQ(back->route->generation->finish_reason, FinishReason::stop_string);
  EXPECT_EQ(back->run.long_context, r.run.long_context);
  EXPECT_EQ(back->run.concurrency, 4);
  EXPECT_EQ(back->run.threads, 2);
  EXPECT_EQ(back->run.machine, r.run.machine);
  EXPECT_EQ(back->run.aio_version, r.run.aio_version);
  EXPECT_EQ(back->run.taus, r.run.taus);
  EXPECT_DOUBLE_EQ(back->wall_end_s, 2.25);
  EXPECT_EQ(back->output, "text");
  json broken = result_record_json(r);
  broken["route"]["tokens"].erase("generated");
  auto bad = result_record_from_json(broken);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("route.tokens.generated is missing"), std::string::npos)
      << bad.status().message();
}

} // namespace
} // namespace aio::eval
