// `aio plan`: expected accuracy and tokens/s of each policy on each scenario from a profile (the paper's section 5.2
// arithmetic), the paper's published numbers beside them with disagreements flagged, and optionally the fastest
// per-category assignment above an accuracy floor written as a policy.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>

#include "commands.h"
#include "eval_cli.h"
#include "config/config.h"
#include "plan/planner.h"
#include "policy/policy_config.h"

namespace aio::cli {
namespace {

struct PlanOptions {
  std::string profile, config, write_policy;
  std::string scenarios = "A,B,C";
  std::string policies = "static-small,static-large,random,aio,aio-load,oracle,static-large-pld,no-model-routing,"
                         "no-pld-switch,no-entropy-fallback";
  bool optimize = false;
  double floor = 0;
  int standard_context = 512;
};

std::string routes_text(const plan::Expectation &e) {
  std::string out;
  for (const auto &[r, share] : e.routes)
    if (share >= 0.0005) {
      char buf[96];
      std::snprintf(buf, sizeof(buf), "%s%s %.1f%%", out.empty() ? "" : ", ", r.c_str(), 100 * share);
      out += buf;
    }
  return out;
}

// "2 s" or "750 ms": a stage of a load-aware policy in its row's label.
std::string format_ms(double ms) {
  char buf[32];
  if (ms >= 1000 && std::fmod(ms, 1000) == 0) std::snprintf(buf, sizeof(buf), "%.0f s", ms / 1000);
  else std::snprintf(buf, sizeof(buf), "%.0f ms", ms);
  return buf;
}

// A published number next to ours: "67.41 (=)" when they agree within 0.15 (rounding, and the random policy's
// sampled draws), else "67.41 (+0.35) !".
std::string versus(double published, double ours) {
  char buf[64];
  const double d = published - ours;
  if (std::fabs(d) < 0.15) std::snprintf(buf, sizeof(buf), "%.2f (=)", published);
  else std::snprintf(buf, sizeof(buf), "%.2f (%+.2f) !", published, d);
  return buf;
}

int run_plan(const PlanOptions &o) {
  auto profile = plan::load_profile(o.profile);
  if (!profile) return report_error(profile.status());
  policy::PolicySet policies = policy::builtin_policies();
  if (!o.config.empty()) {
    auto cfg = config::load_config(o.config);
    if (!cfg) return report_error(cfg.status());
    policies = cfg->policies;
  }
  std::printf("# Plan from %s\n\nprofile: %s%s%s\n", o.profile.c_str(), profile->source.c_str(),
              profile->hardware.empty() ? "" : ", ", profile->hardware.c_str());
  std::printf("Expectations weight each misroute by the probe's confusion matrix (oracle: true labels). \"tps (paper)\" "
              "is the mix-weighted mean of per-request tokens/s, the paper's aggregate; \"tps (sum)\" is total tokens "
              "over total time for requests of equal length. With the profile's probe entropy samples (aio profile records "
              "them) entropy thresholds such as tau take effect; without them the probe counts as confident.\n");
  for (const auto &sc_name : split_list(o.scenarios)) {
    auto scenario = eval::load_scenario(sc_name);
    if (!scenario) return report_error(scenario.status());
    std::printf("\n## Scenario %s: %s\n\n", scenario->name.c_str(), scenario->description.c_str());
    const auto pub = profile->published.find(scenario->name);
    const bool has_pub = pub != profile->published.end();
    std::printf("| policy | accuracy %% | tps (paper) | tps (sum) | routes |%s\n| --- | --- | --- | --- | --- |%s\n",
                has_pub ? " published acc | published tps |" : "", has_pub ? " --- | --- |" : "");
    plan::Expectation aio_plan;
    for (const auto &name : split_list(o.policies)) {
      const auto pol = policies.find(name);
      if (pol == policies.end()) return report_error(invalid_argument("no policy named '" + name + "'"));
      // A load-aware policy gets a row as it routes while the models keep up, one per stage it sheds in (just past
      // each expected-wait threshold but the last), and one with every model it reads saturated (its load rules all
      // fire) - the accuracy it can cost under overload.
      const bool reads_load = policy::uses_load(pol->second);
      std::vector<std::pair<std::string, plan::Load>> loads{{reads_load ? " (idle)" : "", plan::Load::idle()}};
      if (reads_load) {
        const std::vector<double> stages = policy::wait_thresholds(pol->second);
        for (size_t i = 0; i + 1 < stages.size(); ++i)
          loads.emplace_back(" (wait > " + format_ms(stages[i]) + ")", plan::Load::waiting(std::nextafter(stages[i], 1e300)));
        loads.emplace_back(" (saturated)", plan::Load::full());
      }
      for (const auto &[load_label, load] : loads) {
        const plan::Expectation e =
            plan::plan_policy(*profile, *scenario, pol->second, true, o.standard_context, load);
        if (name == "aio") aio_plan = e;
        std::string routes = routes_text(e);
        if (!e.complete())
          routes += "; covers " + std::to_string(static_cast<int>(std::round(100 * e.covered))) +
                    "% of requests (the profile lacks " + e.missing.front() + ")";
        const std::string label = name + load_label;
        std::printf("| %s%s | %.2f | %.2f | %.2f | %s |", label.c_str(), e.complete() ? "" : " (partial)", e.acc,
                    e.tps_weighted, e.tps_aggregate, routes.c_str());
        if (has_pub) {
          const auto cell = pub->second.find(name);
          if (cell != pub->second.end() && load.is_idle())
            std::printf(" %s | %s |", versus(cell->second.acc, e.acc).c_str(),
                        versus(cell->second.tps, e.tps_weighted).c_str());
          else
            std::printf(" | |");
        }
        std::printf("\n");
      }
    }
    // The paper's own A-IO row of Table 3 ("Actual", per task) against its Table 4 aggregate.
    if (auto c = plan::published_consistency(*profile, *scenario, policies.at("aio"), o.standard_context)) {
      std::printf("\nPaper consistency: Table 3's \"A-IO (Actual)\" row%s implies %.2f%% / %.2f tps for scenario %s; "
                  "Table 4 publishes %.2f%% / %.2f tps%s\n",
                  c->uses_long_context ? " (with Table 1 / the long-context rows for the padded requests)" : "",
                  c->implied.acc, c->implied.tps, scenario->name.c_str(), c->published.acc, c->published.tps,
                  c->agree ? " (consistent)." : " - the paper's published numbers disagree with its own Table 3.");
    }
    if (has_pub && pub->second.count("aio")) {
      const plan::Cell &published = pub->second.at("aio");
      if (aio_plan.covered > 0)
        std::printf("Tables 2 + 3 (this plan) expect %.2f%% / %.2f tps for aio; Table 4 says %.2f%% / %.2f tps.\n",
                    aio_plan.acc, aio_plan.tps_weighted, published.acc, published.tps);
    }
    if (o.optimize) {
      const auto all = plan::enumerate_assignments(*profile, *scenario);
      const auto front = plan::pareto_front(all);
      std::printf("\n### Per-category assignments on the Pareto frontier (%zu of %zu)\n\n"
                  "| code | qa | math | long context | uncertain (entropy > tau) | accuracy %% | tps (paper) | "
                  "tps (sum) |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n",
                  front.size(), all.size());
      for (const auto &a : front)
        std::printf("| %s | %s | %s | %s | %s | %.2f | %.2f | %.2f |\n", a.by_category.at("code").c_str(),
                    a.by_category.at("qa").c_str(), a.by_category.at("math").c_str(),
                    a.long_context.empty() ? "-" : a.long_context.c_str(),
                    a.uncertain.empty() ? "-" : (a.uncertain + " (tau " + std::to_string(a.tau).substr(0, 6) + ")").c_str(),
                    a.expected.acc, a.expected.tps_weighted, a.expected.tps_aggregate);
      const auto best = plan::best_above(all, o.floor);
      if (!best) {
        std::printf("\nNo assignment reaches %.2f%% accuracy on scenario %s.\n", o.floor, scenario->name.c_str());
      } else {
        std::printf("\nFastest with accuracy >= %.2f%%: code -> %s, qa -> %s, math -> %s%s%s%s: %.2f%% at %.2f tps.\n",
                    o.floor, best->by_category.at("code").c_str(), best->by_category.at("qa").c_str(),
                    best->by_category.at("math").c_str(), best->long_context.empty() ? "" : ", long -> ",
                    best->long_context.c_str(),
                    best->uncertain.empty()
                        ? ""
                        : (", entropy > " + std::to_string(best->tau).substr(0, 6) + " bits -> " + best->uncertain).c_str(),
                    best->expected.acc, best->expected.tps_weighted);
        if (!o.write_policy.empty()) {
          char desc[256];
          std::snprintf(desc, sizeof(desc), "planned by aio plan from %s for scenario %s: fastest with accuracy >= %.2f%%",
                        profile->source.c_str(), scenario->name.c_str(), o.floor);
          std::ofstream out(o.write_policy);
          out << "# Paste under `policies:` in aio.yaml (or merge), then `policy: planned`.\n"
              << plan::assignment_policy_yaml(*best, "planned", desc, 2048);
          if (!out) return report_error(invalid_argument("cannot write " + o.write_policy));
          std::printf("wrote the policy to %s\n", o.write_policy.c_str());
        }
      }
    }
  }
  return 0;
}

} // namespace

void add_plan_command(CLI::App &app, Runner &runner) {
  auto o = std::make_shared<PlanOptions>();
  CLI::App *sub = app.add_subcommand("plan", "Expected accuracy and tokens/s of policies from a profile; optimize one");
  sub->add_option("--profile", o->profile, "Profile YAML (e.g. profiles/paper-ascend910b.yaml, or aio profile's)")
      ->required();
  sub->add_option("--scenarios", o->scenarios, "Comma-separated scenarios (A, B, C or files)")->capture_default_str();
  sub->add_option("--policies", o->policies, "Comma-separated policies to plan")->capture_default_str();
  sub->add_option("--config", o->config, "Take policies from this aio.yaml (default: the built-in ones)");
  sub->add_flag("--optimize", o->optimize, "Search per-category (model, strategy) assignments; print the frontier");
  sub->add_option("--floor", o->floor, "Accuracy floor (%) for the chosen assignment")->capture_default_str();
  sub->add_option("--write-policy", o->write_policy, "Write the chosen assignment as a policy YAML");
  sub->add_option("--standard-context", o->standard_context, "Prompt tokens of an unpadded request")
      ->capture_default_str();
  sub->callback([o, &runner] { runner = [o] { return run_plan(*o); }; });
}

} // namespace aio::cli
