// `aio calibrate`: grid-search the entropy threshold tau of a policy on labeled prompts (the paper used a 500-query
// set), showing for each tau the route split, the misroutes by category, and the objective it picks by.
#include <cmath>
#include <cstdio>
#include <map>

#include "commands.h"
#include "progress.h"
#include "core/router.h"
#include "eval/labeled_data.h"

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

struct Probed {
  ProbeResult probe;
  std::string label;
};

int run_calibrate(const CalibrateOptions &o) {
  auto cfg = config::load_config(o.config);
  if (!cfg) return report_error(cfg.status());
  const std::string policy_name = o.policy.empty() ? cfg->policy : o.policy;
  auto found = cfg->find_policy(policy_name);
  if (!found) return report_error(found.status());
  policy::Policy policy = **found;
  if (!policy.var(o.var))
    return report_error(invalid_argument("policy '" + policy_name + "' has no variable '" + o.var + "' to calibrate"));
  // The reference: where the same rules send each request when they read its TRUE label (the oracle).
  const auto &oracle = cfg->policies.at("oracle");

  std::vector<eval::LabeledPrompt> data;
  for (const auto &path : o.data) {
    auto part = eval::load_labeled(path);
    if (!part) return report_error(part.status());
    data.insert(data.end(), part->begin(), part->end());
  }
  auto router = core::Router::create(*cfg);
  if (!router) return report_error(router.status());
  std::vector<Probed> probed;
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

  nlohmann::json rows = nlohmann::json::array();
  double best_tau = *policy.var(o.var);
  long best_small_right = -1;
  const double max_entropy = std::log2(static_cast<double>(cfg->categories.size()));
  std::printf("%-7s %8s %8s %16s %16s %10s\n", "tau", "small", "large", "code->large (%)", "qa/math->small (%)",
              "objective");
  for (double tau = 0; tau <= max_entropy + 1e-9; tau += o.step) {
    AIO_CHECK(policy.set_var(o.var, tau).ok());
    long small = 0, code_total = 0, code_large = 0, other_total = 0, other_small = 0, small_right = 0;
    for (size_t i = 0; i < probed.size(); ++i) {
      const Probed &p = probed[i];
      policy::RouteInput in{&p.probe, p.probe.n_context_tokens, p.label, i};
      auto route = policy::decide(policy, in, cfg->decoding);
      auto ideal = policy::decide(oracle, in, cfg->decoding);
      if (!route || !ideal) return report_error(route ? ideal.status() : route.status());
      const bool to_small = route->model == "small", should_small = ideal->model == "small";
      small += to_small;
      small_right += to_small && should_small;
      if (p.label == "code") {
        ++code_total;
        code_large += !to_small;
      } else {
        ++other_total;
        other_small += to_small;
      }
    }
    const double n = static_cast<double>(probed.size());
    const double wrong_small = other_total ? static_cast<double>(other_small) / other_total : 0;
    const bool feasible = wrong_small <= o.max_wrong_small;
    if (feasible && small_right > best_small_right) {
      best_small_right = small_right;
      best_tau = tau;
    }
    std::printf("%-7.3f %7.1f%% %7.1f%% %16.2f %16.2f %10ld%s\n", tau, 100 * small / n, 100 * (n - small) / n,
                code_total ? 100.0 * code_large / code_total : 0.0, 100 * wrong_small, small_right,
                feasible ? "" : "  (over the misroute bound)");
    rows.push_back({{"tau", tau}, {"small_share", small / n}, {"code_to_large", code_total ? 1.0 * code_large / code_total : 0},
                    {"qa_math_to_small", wrong_small}, {"correct_small", small_right}, {"feasible", feasible}});
  }
  std::printf("\nobjective: requests the oracle would send to the small model that go there (more = more throughput),\n"
              "subject to at most %.1f%% of QA/math requests sent to the small model (accuracy risk).\n",
              100 * o.max_wrong_small);
  if (best_small_right < 0) {
    std::printf("no tau meets the bound; keep the policy's %s = %g or relax --max-wrong-small\n", o.var.c_str(),
                *policy.var(o.var));
    return 0;
  }
  std::printf("chosen: %s = %.3f bits  (set it in the policy's vars: {%s: %.3f})\n", o.var.c_str(), best_tau,
              o.var.c_str(), best_tau);
  if (o.json) std::printf("%s\n", nlohmann::json({{"rows", rows}, {"chosen", best_tau}}).dump(2).c_str());
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
  sub->add_option("--max-wrong-small", o->max_wrong_small, "Largest allowed share of QA/math routed to the small model")
      ->capture_default_str();
  sub->add_flag("--json", o->json, "Also print the table as JSON");
  sub->callback([o, &runner] { runner = [o] { return run_calibrate(*o); }; });
}

} // namespace aio::cli
