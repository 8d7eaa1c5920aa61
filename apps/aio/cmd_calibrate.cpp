// `aio calibrate`: grid-search the entropy threshold tau of a policy on labeled prompts (the paper used a 500-query
// set), showing for each tau the route split, the misroutes by category, and the objective it picks by.
#include <cmath>
#include <cstdio>
#include <map>

#include "commands.h"
#include "progress.h"
#include "core/router.h"
#include "eval/labeled_data.h"
#include "policy/calibrate.h"

namespace aio::cli {
namespace {

struct CalibrateOptions {
  std::string config;
  std::vector<std::string> data;
  std::string policy;
  std::string var = "tau";
  double step = 0.05;
  double max_wrong_small = 0.01;
  bool json = false;
};

int run_calibrate(const CalibrateOptions &o) {
  auto cfg = config::load_config(o.config);
  if (!cfg) return report_error(cfg.status());
  const std::string policy_name = o.policy.empty() ? cfg->policy : o.policy;
  auto found = cfg->find_policy(policy_name);
  if (!found) return report_error(found.status());
  const policy::Policy policy = **found;
  if (!policy.var(o.var))
    return report_error(invalid_argument("policy '" + policy_name + "' has no variable '" + o.var + "' to calibrate"));

  std::vector<eval::LabeledPrompt> data;
  for (const auto &path : o.data) {
    auto part = eval::load_labeled(path);
    if (!part) return report_error(part.status());
    data.insert(data.end(), part->begin(), part->end());
  }
  auto router = core::Router::create(*cfg);
  if (!router) return report_error(router.status());
  std::vector<policy::LabeledProbe> probed;
  {
    Progress bar("probing with the " + cfg->probe.kind + " probe", "prompts");
    for (const auto &p : data) {
      Request req = make_request(p.text, false);
      req.policy = "static-large";
      req.shadow_probe = true; // static-large never reads the probe: ask for it anyway, its verdict is what we tune
      auto r = (*router)->route(req);
      if (!r) return report_error(r.status());
      probed.push_back({r->probe, p.label});
      bar.update(probed.size(), data.size());
    }
  }

  // The reference: where the same rules send each request when they read its TRUE label (the oracle).
  policy::TauSearchParams sp{.var = o.var, .step = o.step, .max_wrong_small = o.max_wrong_small,
                             .small_model = cfg->probe.model};
  auto search = policy::search_tau(policy, cfg->policies.at("oracle"), probed, cfg->categories.size(), cfg->decoding, sp);
  if (!search) return report_error(search.status());
  const std::string small = sp.small_model;
  std::printf("%-7s %9s %9s %22s %22s %10s\n", "tau", small.c_str(), "larger", ("meant " + small + ", sent larger").c_str(),
              ("meant larger, sent " + small).c_str(), "objective");
  nlohmann::json rows = nlohmann::json::array();
  for (const policy::TauRow &r : search->rows) {
    std::printf("%-7.3f %8.1f%% %8.1f%% %21.2f%% %21.2f%% %10ld%s\n", r.tau, 100 * r.small_share,
                100 * (1 - r.small_share), 100 * r.missed_small, 100 * r.wrong_small, r.correct_small,
                r.feasible ? "" : "  (over the misroute bound)");
    rows.push_back({{"tau", r.tau}, {"small_share", r.small_share}, {"missed_small", r.missed_small},
                    {"wrong_small", r.wrong_small}, {"correct_small", r.correct_small}, {"feasible", r.feasible}});
  }
  std::printf("\nobjective: requests the oracle would send to %s that go there (more = more throughput),\n"
              "subject to at most %.1f%% of the requests the oracle sends to a larger model going to %s (accuracy "
              "risk).\n",
              small.c_str(), 100 * o.max_wrong_small, small.c_str());
  if (!search->chosen) {
    std::printf("no tau meets the bound; keep the policy's %s = %g or relax --max-wrong-small\n", o.var.c_str(),
                *policy.var(o.var));
    return 0;
  }
  std::printf("chosen: %s = %.3f bits  (set it in the policy's vars: {%s: %.3f})\n", o.var.c_str(), *search->chosen,
              o.var.c_str(), *search->chosen);
  if (o.json) std::printf("%s\n", nlohmann::json({{"rows", rows}, {"chosen", *search->chosen}}).dump(2).c_str());
  return 0;
}

} // namespace

void add_calibrate_command(CLI::App &app, Runner &runner) {
  auto o = std::make_shared<CalibrateOptions>();
  CLI::App *sub = app.add_subcommand("calibrate", "Grid-search a policy's entropy threshold (tau) on labeled prompts");
  sub->add_option("--config", o->config, "A-IO config (its probe and models are used)")->required();
  sub->add_option("--data", o->data, "Labeled prompts (JSONL text/label, or benchmark files); repeatable")->required();
  sub->add_option("--policy", o->policy, "Policy to calibrate (default: the config's)");
  sub->add_option("--var", o->var, "The policy variable to search")->capture_default_str();
  sub->add_option("--step", o->step, "Grid step in bits")->capture_default_str();
  sub->add_option("--max-wrong-small", o->max_wrong_small,
                  "Largest allowed share of the requests the oracle sends to a larger model that go to the small one")
      ->capture_default_str();
  sub->add_flag("--json", o->json, "Also print the table as JSON");
  sub->callback([o, &runner] { runner = [o] { return run_calibrate(*o); }; });
}

} // namespace aio::cli
