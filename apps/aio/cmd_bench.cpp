// `aio bench`: the paper's mixed-workload experiments on the user's own models and data. Every request of the
// scenario's workload goes through each listed policy (baselines, ablations, aio); each result is appended to the
// results JSONL the moment it is scored, and --resume continues an interrupted run without repeating anything.
#include <cstdio>
#include <map>

#include "aio_git_commit.h" // generated: AIO_GIT_COMMIT
#include "commands.h"
#include "eval_cli.h"
#include "eval/bench_run.h"
#include "progress.h"

namespace aio::cli {
namespace {

struct BenchOptions {
  ConfigSource source;
  std::string scenario, data, output, python;
  std::string policies = "static-small,static-large,random,aio";
  std::vector<std::string> datasets; // task=PATH
  int n = 100;
  uint64_t seed = 1;
  int long_context = 0;
  int concurrency = 1;
  bool resume = false;
  double timeout = 10;
  bool no_sandbox = false;
};

int run_bench_command(const BenchOptions &o) {
  auto scenario = eval::load_scenario(o.scenario);
  if (!scenario) return report_error(scenario.status());
  if (o.long_context > 0) scenario->set_long_context(o.long_context);
  auto overrides = parse_dataset_flags(o.datasets);
  if (!overrides) return report_error(overrides.status());
  if (o.data.empty() && overrides->size() < scenario->mix.size())
    return report_error(invalid_argument("say where the datasets are: --data DIR (or --dataset TASK=PATH for each)"));
  auto paths = eval::locate_datasets(*scenario, o.data, *overrides);
  if (!paths) return report_error(paths.status());
  std::map<eval::Task, std::vector<eval::TaskItem>> data;
  for (const auto &[task, path] : *paths) {
    auto items = eval::load_task(task, path);
    if (!items) return report_error(items.status());
    std::fprintf(stderr, "%-9s %5zu items from %s\n", eval::task_name(task), items->size(), path.c_str());
    data[task] = std::move(*items);
  }

  if (o.concurrency < 1) return report_error(invalid_argument("--concurrency must be at least 1"));
  auto router = load_router(o.source, o.concurrency);
  if (!router) return report_error(router.status());
  const auto policies = split_list(o.policies);
  if (policies.empty()) return report_error(invalid_argument("--policies is empty"));
  for (const auto &p : policies)
    if (auto found = (*router)->config().find_policy(p); !found) return report_error(found.status());

  auto workload = eval::build_workload(*scenario, data, o.n, o.seed, probe_token_counter(**router));
  if (!workload) return report_error(workload.status());

  auto sandbox = sandbox_if(paths->count(eval::Task::humaneval) > 0, o.python, o.no_sandbox);
  if (!sandbox) return report_error(sandbox.status());
  sandbox::SandboxLimits limits;
  limits.timeout_seconds = o.timeout;
  const eval::Scorer scorer(*sandbox ? &**sandbox : nullptr, limits);

  auto log = eval::ResultsLog::open(o.output, o.resume);
  if (!log) return report_error(log.status());

  nlohmann::json models = nlohmann::json::object();
  bool synthetic = false;
  for (const auto &m : (*router)->config().models) {
    if (m.remote()) { // served by remote replicas: the record names them
      nlohmann::json urls = nlohmann::json::array();
      for (const auto &r : m.replicas) urls.push_back(r.url);
      models[m.name] = {{"replicas", urls}};
      continue;
    }
    const auto &info = (*router)->model(m.name).info();
    models[m.name] = {{"path", m.path}, {"synthetic", info.synthetic}, {"n_params", info.n_params}};
    synthetic = synthetic || info.synthetic;
  }
  std::vector<std::pair<std::string, int32_t>> long_contexts;
  for (const auto &m : scenario->mix)
    if (m.context_tokens > 0) long_contexts.emplace_back(eval::task_name(m.task), m.context_tokens);
  eval::BenchRun run;
  run.scenario = &*scenario;
  run.workload = &*workload;
  run.policies = policies;
  run.seed = o.seed;
  run.concurrency = o.concurrency;
  run.run_info.config = (*router)->config().source;
  run.run_info.models = models;
  run.run_info.synthetic_models = synthetic;
  run.run_info.probe = (*router)->config().probe.kind;
  run.run_info.n = o.n;
  run.run_info.seed = o.seed;
  run.run_info.concurrency = o.concurrency;
  run.run_info.scenario_description = scenario->description;
  run.run_info.long_context = long_contexts;
  run.run_info.sandbox = *sandbox ? (*sandbox)->isolation().note : "";
  run.run_info.threads = (*router)->config().threads;
  run.run_info.machine = machine_description();
  run.run_info.aio_version = std::string(AIO_VERSION) + " (" + AIO_GIT_COMMIT + ")";
  for (const auto &name : policies)
    if (auto p = (*router)->config().find_policy(name); p.ok())
      if (auto tau = (*p)->var("tau")) run.run_info.taus[name] = *tau;

  std::fprintf(stderr, "scenario %s: %zu requests x %zu policies -> %s%s\n", scenario->name.c_str(), workload->size(),
               policies.size(), o.output.c_str(), log->n_done() ? " (resuming)" : "");
  if (synthetic) std::fprintf(stderr, "%s\n", kSyntheticNotice);
  Progress progress("scenario " + scenario->name, "requests");
  Status st = eval::run_bench(**router, run, scorer, *log, [&](const eval::BenchProgress &p) {
    char note[64];
    // One at a time: tokens per second of generation; concurrent: what the engines delivered per wall-clock second.
    const double s = o.concurrency > 1 ? p.wall_seconds : p.generation_seconds;
    std::snprintf(note, sizeof(note), "%.1f tok/s", s > 0 ? p.generated_tokens / s : 0.0);
    progress.update(p.done, p.total, note);
  });
  if (!st.ok()) return report_error(st);
  std::printf("wrote %s; `aio report %s` makes the report (index.html, tables, plots)\n", o.output.c_str(), o.output.c_str());
  return 0;
}

} // namespace

void add_bench_command(CLI::App &app, Runner &runner) {
  auto o = std::make_shared<BenchOptions>();
  CLI::App *sub = app.add_subcommand("bench", "Run a mixed-workload scenario under several policies (results JSONL)");
  add_config_source(sub, o->source, "A-IO config (models, probe); or --small and --large");
  sub->add_option("--scenario", o->scenario, "A, B, C (built in) or a scenario YAML file")->required();
  sub->add_option("--policies", o->policies, "Comma-separated policies: baselines, ablations, aio")
      ->capture_default_str();
  sub->add_option("--data", o->data, "Folder holding the datasets (HumanEval.jsonl.gz, gsm8k/, mmlu/, ceval/, ...)");
  sub->add_option("--dataset", o->datasets, "TASK=PATH for one dataset (repeatable; overrides --data)");
  sub->add_option("--n", o->n, "Requests in the workload")->capture_default_str();
  sub->add_option("--seed", o->seed, "Seed of the workload's sampling and order")->capture_default_str();
  sub->add_option("--long-context", o->long_context, "Token length of the padded (long-context) requests");
  sub->add_option("-o,--output", o->output, "Results JSONL (appended as requests finish)")->required();
  sub->add_option("--concurrency", o->concurrency,
                  "Requests in flight at once, batched by the engines as `aio serve` batches its clients")
      ->capture_default_str();
  sub->add_flag("--resume", o->resume, "Continue an interrupted run: skip what the output already holds");
  add_sandbox_options(sub, o->python, o->no_sandbox, o->timeout);
  sub->callback([o, &runner] { runner = [o] { return run_bench_command(*o); }; });
}

} // namespace aio::cli
