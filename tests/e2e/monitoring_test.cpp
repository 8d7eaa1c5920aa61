// What an operator watches: /metrics passes promtool's checks, every query of the shipped Grafana board names a metric
// (and labels) that /metrics exposes, the Prometheus scrape example is valid, and the live stats feed behind the
// dashboard counts what happened and follows the API key.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "support/aio_server.h"
#include "support/paths.h"
#include "support/process.h"
#include "support/tiny_models.h"

namespace aio::test {
namespace {
using nlohmann::json;

// promtool's path ("" when it is not installed): run_process does not search PATH.
std::string promtool() {
  const char *path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "/usr/bin");
  for (std::string dir; std::getline(dirs, dir, ':');)
    if (std::filesystem::exists(dir + "/promtool")) return dir + "/promtool";
  return "";
}

// Traffic of every kind the metrics count: routed chats, a pinned completion, a streamed answer, a shadow label, a
// refused request (404) and a bad one (400).
void send_mixed_traffic(AioServer &s) {
  for (const char *prompt : {"Write a Python function that reverses a list.", "What is the capital of France?",
                             "Compute 17 * 23 and show the steps."}) {
    auto r = s.chat(chat_body(prompt));
    ASSERT_TRUE(r && r->status == 200) << (r ? r->body : "no answer");
  }
  auto streamed = s.chat(chat_body("Tell me a short story.", true));
  ASSERT_TRUE(streamed && streamed->status == 200);
  json labelled = chat_body("def add(a, b):");
  labelled["aio"] = {{"label", "code"}};
  ASSERT_EQ(s.chat(labelled)->status, 200);
  auto pinned = s.client->Post("/v1/completions", json{{"model", "small"}, {"prompt", "Once"}, {"max_tokens", 4}}.dump(),
                               "application/json");
  ASSERT_TRUE(pinned && pinned->status == 200);
  json unknown = chat_body("hi");
  unknown["model"] = "medium";
  ASSERT_EQ(s.chat(unknown)->status, 404);
  ASSERT_EQ(s.client->Post("/v1/chat/completions", "{\"messages\": 3}", "application/json")->status, 400);
}

// /metrics as metric family -> the label names its samples carry.
std::map<std::string, std::set<std::string>> exposed(const std::string &text) {
  std::map<std::string, std::set<std::string>> out;
  const std::regex type_line(R"(^# TYPE (\w+) )"), sample(R"(^(\w+)(\{([^}]*)\})? )"), label(R"((\w+)=")");
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (std::regex_search(line, m, type_line)) {
      out[m[1]];
    } else if (line[0] != '#' && std::regex_search(line, m, sample)) {
      const std::string labels = m[3];
      auto &names = out[m[1]];
      for (std::sregex_iterator it(labels.begin(), labels.end(), label), end; it != end; ++it) names.insert((*it)[1]);
    }
  }
  return out;
}

TEST(Monitoring, MetricsPassPromtoolCheck) {
  if (promtool().empty()) GTEST_SKIP() << "promtool is missing (Debian's prometheus package; scripts/install-deps.sh)";
  // A pool as well, so that the replica series are there too.
  AioServer s({}, serve_config("", "  far:\n    endpoints: ['http://127.0.0.1:" + std::to_string(free_loopback_port()) +
                                   "/v1']\n"));
  ASSERT_GT(s.port, 0) << s.proc->output();
  send_mixed_traffic(s);
  auto metrics = s.client->Get("/metrics");
  ASSERT_TRUE(metrics && metrics->status == 200);
  const std::string path = make_temp_dir("promtool") + "/metrics.txt";
  std::ofstream(path) << metrics->body;
  const ProcessResult check = run_process({"/bin/sh", "-c", "'" + promtool() + "' check metrics < '" + path + "'"});
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  EXPECT_EQ(check.out + check.err, "") << "promtool's lint found problems";
  EXPECT_NE(metrics->body.find("aio_replica_healthy{model=\"far\""), std::string::npos);
  // The shipped scrape example is a valid Prometheus config.
  const ProcessResult config =
      run_process({promtool(), "check", "config", std::string(AIO_SOURCE_DIR) + "/configs/prometheus/prometheus.yml"});
  EXPECT_EQ(config.exit_code, 0) << config.out << config.err;
}

TEST(Monitoring, EveryGrafanaQueryNamesExposedMetricsAndLabels) {
  AioServer s({}, serve_config("", "  far:\n    endpoints: ['http://127.0.0.1:" + std::to_string(free_loopback_port()) +
                                   "/v1']\n"));
  ASSERT_GT(s.port, 0) << s.proc->output();
  send_mixed_traffic(s);
  // A request to the dead pool: its replica series get samples (outcome, replica labels).
  json far = chat_body("hello");
  far["model"] = "far";
  s.chat(far);
  auto metrics = s.client->Get("/metrics");
  ASSERT_TRUE(metrics && metrics->status == 200);
  const auto families = exposed(metrics->body);

  std::ifstream in(std::string(AIO_SOURCE_DIR) + "/configs/grafana/aio.json");
  ASSERT_TRUE(in) << "configs/grafana/aio.json is missing";
  const json board = json::parse(in);
  const std::regex metric(R"(\baio_\w+)"), by(R"(by \(([^)]*)\))"), matcher(R"(\{([^}]*)\})"), label(R"((\w+)\s*!?=)");
  int n_queries = 0;
  for (const json &panel : board["panels"]) {
    for (const json &target : panel["targets"]) {
      const std::string expr = target["expr"];
      ++n_queries;
      std::set<std::string> labels_available;
      bool any_samples = false;
      for (std::sregex_iterator it(expr.begin(), expr.end(), metric), end; it != end; ++it) {
        std::string name = (*it)[0];
        auto found = families.find(name);
        if (found == families.end())
          for (const char *suffix : {"_bucket", "_sum", "_count"})
            if (name.size() > strlen(suffix) && name.ends_with(suffix))
              found = families.find(name.substr(0, name.size() - strlen(suffix)));
        ASSERT_NE(found, families.end()) << "panel '" << panel["title"] << "' queries " << name
                                         << ", which /metrics does not expose";
        // A histogram's samples are named name_bucket etc.: their labels (le included) are under those names.
        for (const auto &[family, names] : families)
          if (family == name || family.rfind(found->first, 0) == 0) {
            labels_available.insert(names.begin(), names.end());
            any_samples = any_samples || !names.empty();
          }
      }
      if (!any_samples) continue; // a family with no samples yet cannot say which labels it has
      std::vector<std::string> used;
      for (const std::regex *re : {&by, &matcher}) {
        for (std::sregex_iterator it(expr.begin(), expr.end(), *re), end; it != end; ++it) {
          const std::string inside = (*it)[1];
          if (re == &by) {
            std::regex word(R"(\w+)");
            for (std::sregex_iterator w(inside.begin(), inside.end(), word); w != end; ++w) used.push_back((*w)[0]);
          } else {
            for (std::sregex_iterator w(inside.begin(), inside.end(), label); w != end; ++w) used.push_back((*w)[1]);
          }
        }
      }
      for (const auto &l : used)
        EXPECT_TRUE(labels_available.count(l)) << "panel '" << panel["title"] << "' uses label " << l << " in " << expr;
    }
  }
  EXPECT_GE(n_queries, 15);
}

TEST(Monitoring, TheLiveStatsCountWhatHappenedAndFollowTheApiKey) {
  AioServer s({"--api-key", "sekret"});
  ASSERT_GT(s.port, 0) << s.proc->output();
  const httplib::Headers auth = {{"Authorization", "Bearer sekret"}};
  // The page is static (no data in it) and needs no key; the feed does.
  auto page = s.client->Get("/dashboard");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_NE(page->get_header_value("Content-Type").find("text/html"), std::string::npos);
  EXPECT_NE(page->body.find("/v1/aio/stats"), std::string::npos);
  // No external resource (the SVG namespace URI is a name, not a fetch): the page works offline.
  EXPECT_FALSE(std::regex_search(page->body, std::regex(R"((src|href)\s*=\s*["']?(https?:)?//|@import|url\(\s*["']?https?:)")))
      << "the page loads something from elsewhere";
  EXPECT_NE(page->get_header_value("Content-Security-Policy").find("default-src 'self'"), std::string::npos);
  EXPECT_EQ(s.client->Get("/v1/aio/stats")->status, 401);

  for (const char *prompt : {"Write a Python function that reverses a list.", "What is the capital of France?"}) {
    auto r = s.chat(chat_body(prompt), auth);
    ASSERT_TRUE(r && r->status == 200) << (r ? r->body : "");
  }
  json unknown = chat_body("hi");
  unknown["model"] = "medium";
  EXPECT_EQ(s.chat(unknown, auth)->status, 404);
  auto stats = s.client->Get("/v1/aio/stats", auth);
  ASSERT_TRUE(stats && stats->status == 200) << (stats ? stats->body : "");
  const json doc = json::parse(stats->body);
  EXPECT_EQ(doc["version"], 1);
  EXPECT_EQ(doc["requests"], 3);
  EXPECT_EQ(doc["by_status"]["200"], 2);
  EXPECT_EQ(doc["by_status"]["404"], 1);
  int routed = 0;
  for (const auto &[category, routes] : doc["routes"].items())
    for (const auto &[route, n] : routes.items()) routed += n.get<int>();
  EXPECT_EQ(routed, 2) << doc["routes"].dump();
  ASSERT_EQ(doc["recent"].size(), 3u);
  EXPECT_EQ(doc["recent"][2]["status"], 404);
  ASSERT_EQ(doc["models"].size(), 2u);
  for (const json &m : doc["models"]) {
    EXPECT_EQ(m["slots"], 2) << m.dump() << ": each model runs the server's --slots (2) at once";
    EXPECT_EQ(m["busy"], 0) << m.dump();
  }
  EXPECT_EQ(doc["policy"], "aio");
  EXPECT_EQ(doc["entropy"]["edges"].size(), doc["entropy"]["counts"].size() + 1);
  int probed = 0;
  for (const json &c : doc["entropy"]["counts"]) probed += c.get<int>();
  EXPECT_EQ(probed, 2) << "each routed request's probe entropy is in the histogram";
}

} // namespace
} // namespace aio::test
