// `aio profile`: measures a planner profile on this machine with these models - a sample of each task under each
// (model, strategy) configuration, through the same runner as `aio bench` (results JSONL, resumable) - and writes
// the accuracy and tokens/s table and the probe's confusion matrix that `aio plan` reads. A policy then comes from
// measurements on the user's hardware rather than from the paper's NPU.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "commands.h"
#include "eval_cli.h"
#include "eval/bench_run.h"
#include "eval/report.h"
#include "plan/planner.h"
#include "plan/measured_profile.h"
#include "progress.h"

namespace aio::cli {
namespace {

struct ProfileOptions {
  ConfigSource source;
  std::string data, output, results, python;
  std::string tasks = "humaneval,ceval,gsm8k";
  std::string configs = "small/plain,small/pld,large/plain,large/pld";
  std::vector<std::string> datasets;
  int per_task = 10, long_context = 0;
  uint64_t seed = 1;
  bool resume = false;
  bool no_sandbox = false;
  double timeout = 10;
};

int run_profile(const ProfileOptions &o) {
  // The scenario: every task in equal shares (plus HumanEval padded to --long-context, when given).
  auto defaults = eval::load_scenario("A");
  if (!defaults) return report_error(defaults.status());
  eval::Scenario scenario;
  scenario.name = "profile";
  scenario.description = "aio profile: each task under each configuration";
  scenario.tasks = defaults->tasks;
  for (const auto &t : split_list(o.tasks)) {
    auto task = eval::parse_task(t);
    if (!task) return report_error(task.status());
    scenario.mix.push_back({*task, 0, 0});
  }
  if (o.long_context > 0) scenario.mix.push_back({eval::Task::humaneval, 0, o.long_context});
  for (auto &m : scenario.mix) m.share = 1.0 / static_cast<double>(scenario.mix.size());

  auto overrides = parse_dataset_flags(o.datasets);
  if (!overrides) return report_error(overrides.status());
  auto paths = eval::locate_datasets(scenario, o.data, *overrides);
  if (!paths) return report_error(paths.status());
  std::map<eval::Task, std::vector<eval::TaskItem>> data;
  for (const auto &[task, path] : *paths) {
    auto items = eval::load_task(task, path);
    if (!items) return report_error(items.status());
    data[task] = std::move(*items);
  }

  auto router = load_router(o.source);
  if (!router) return report_error(router.status());
  // One fixed policy per configuration.
  std::vector<std::string> policies;
  for (const auto &c : split_list(o.configs)) {
    const size_t slash = c.find('/');
    auto strategy = parse_strategy(slash == std::string::npos ? "" : c.substr(slash + 1));
    if (!strategy || *strategy == Strategy::draft)
      return report_error(invalid_argument("--configs takes MODEL/plain or MODEL/pld entries, not '" + c + "'"));
    policy::Policy p;
    p.name = "profile:" + c;
    policy::Rule rule;
    rule.model = c.substr(0, slash);
    rule.strategy = *strategy;
    rule.name = c;
    rule.reason = "aio profile measures " + c;
    p.rules = {rule}; // the probe runs anyway (run.shadow_probe): its confusion matrix and entropies are measured
    if (Status st = (*router)->add_policy(p); !st.ok()) return report_error(st);
    policies.push_back(p.name);
  }

  auto workload = eval::build_workload(scenario, data, o.per_task * static_cast<int>(scenario.mix.size()), o.seed,
                                       probe_token_counter(**router));
  if (!workload) return report_error(workload.status());
  auto sandbox = sandbox_if(paths->count(eval::Task::humaneval) > 0, o.python, o.no_sandbox);
  if (!sandbox) return report_error(sandbox.status());
  sandbox::SandboxLimits limits;
  limits.timeout_seconds = o.timeout;
  const eval::Scorer scorer(*sandbox ? &**sandbox : nullptr, limits);
  const std::string results = !o.results.empty() ? o.results : o.output + ".runs.jsonl";
  auto log = eval::ResultsLog::open(results, o.resume);
  if (!log) return report_error(log.status());
  eval::BenchRun run;
  run.shadow_probe = true;
  run.scenario = &scenario;
  run.workload = &*workload;
  run.policies = policies;
  run.seed = o.seed;
  run.run_info.config = (*router)->config().source;
  run.run_info.purpose = "aio profile";
  std::fprintf(stderr, "profiling %zu requests x %zu configurations (runs in %s)\n", workload->size(),
               policies.size(), results.c_str());
  Progress progress("profile", "requests");
  Status st = eval::run_bench(**router, run, scorer, *log, [&](const eval::BenchProgress &p) {
    progress.update(p.done, p.total);
  });
  if (!st.ok()) return report_error(st);

  // Aggregate: task x configuration (separately for padded requests), and the probe's confusion matrix.
  auto records = eval::read_results(results);
  if (!records) return report_error(records.status());
  std::map<std::string, std::string> categories;
  for (const auto &[task, _] : data) categories[eval::task_name(task)] = eval::task_category(task);
  plan::Profile prof = plan::measured_profile(*records, (*router)->config().categories, categories);
  prof.source = "aio profile of " + (*router)->config().source;
  prof.hardware = std::to_string(std::thread::hardware_concurrency()) + " hardware threads";
  std::ofstream out(o.output);
  out << "# Measured by `aio profile` (" << workload->size() << " requests per configuration, seed " << o.seed
      << "). Read it with `aio plan --profile " << o.output << "`.\n"
      << plan::profile_yaml(prof);
  if (!out) return report_error(invalid_argument("cannot write " + o.output));
  std::printf("wrote %s\n%s", o.output.c_str(), plan::profile_yaml(prof).c_str());
  return 0;
}

} // namespace

void add_profile_command(CLI::App &app, Runner &runner) {
  auto o = std::make_shared<ProfileOptions>();
  CLI::App *sub = app.add_subcommand("profile", "Measure a planner profile (accuracy, tokens/s per task x "
                                                "configuration) on this machine");
  add_config_source(sub, o->source, "A-IO config (models, probe); or --small and --large");
  sub->add_option("--data", o->data, "Folder holding the datasets (as for aio bench)");
  sub->add_option("--dataset", o->datasets, "TASK=PATH for one dataset (repeatable)");
  sub->add_option("--tasks", o->tasks, "Tasks to measure")->capture_default_str();
  sub->add_option("--configs", o->configs, "MODEL/STRATEGY configurations to measure")->capture_default_str();
  sub->add_option("--per-task", o->per_task, "Requests per task (and configuration)")->capture_default_str();
  sub->add_option("--long-context", o->long_context, "Also measure HumanEval padded to this many tokens");
  sub->add_option("--seed", o->seed, "Seed of the sample")->capture_default_str();
  sub->add_option("-o,--output", o->output, "Profile YAML to write")->required();
  sub->add_option("--results", o->results, "Where the individual runs go (default OUTPUT.runs.jsonl)");
  sub->add_flag("--resume", o->resume, "Continue an interrupted profile run");
  add_sandbox_options(sub, o->python, o->no_sandbox, o->timeout);
  sub->callback([o, &runner] { runner = [o] { return run_profile(*o); }; });
}

} // namespace aio::cli
