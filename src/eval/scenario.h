// Mixed workloads (the paper's section 4.4): a scenario says which tasks make up the traffic and in what shares, how
// each task is asked, and which requests are padded to a long context. build_workload turns one into the list of
// requests `aio bench` sends, reproducibly from a seed.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "aio/generate_params.h"
#include "eval/tasks.h"

namespace aio::eval {

struct TaskSettings {
  bool chat = true;              // through the model's chat template (false: the prompt is continued as text)
  int32_t max_tokens = 256;
  std::vector<std::string> stop;
};

struct MixEntry {
  Task task = Task::gsm8k;
  double share = 0;              // of all requests
  int32_t context_tokens = 0;    // > 0: prompts padded with unrelated filler to this many tokens
};

struct Scenario {
  std::string name, description, source;
  std::vector<MixEntry> mix;
  std::map<Task, TaskSettings> tasks;
  // Sets context_tokens of every padded entry (e.g. a CPU user's 4096 instead of the paper's 32K).
  void set_long_context(int32_t tokens);
};

// "A", "B" or "C" (built in, configs/scenarios.yaml), or the path of a YAML file with one scenario
// ({description, mix: [{task, share, context_tokens}], tasks: {...}}). Errors give FILE:LINE.
Expected<Scenario> load_scenario(const std::string &name_or_path);

// Where each of the scenario's tasks is read from: `overrides` (task -> path) first, else the usual places under
// data_dir (HumanEval.jsonl[.gz], gsm8k/test.jsonl, mmlu/test, ceval/val, gpqa/gpqa_main.csv, ... and the flat names
// of data/sample). Errors list where it looked.
Expected<std::map<Task, std::string>> locate_datasets(const Scenario &scenario, const std::string &data_dir,
                                                      const std::map<Task, std::string> &overrides);

// One request of a workload.
struct WorkItem {
  std::string id;                 // unique in the workload: "<task>/<item id>" (+ "#k" for the k-th reuse of an item)
  TaskItem item;                  // its prompt padded when the scenario says so
  bool chat = true;
  GenerateParams params;  // greedy, the task's max_tokens and stop strings
  int32_t context_tokens = 0;     // the padding target, 0 when not padded
};

using TokenCounter = std::function<int32_t(const std::string &text)>;

// n requests in the scenario's shares (largest remainder), items drawn without replacement per task (reused, with a
// "#k" id, only when a task has fewer items than its share needs), in a shuffled order; all from `seed`.
// count_tokens measures padding.
Expected<std::vector<WorkItem>> build_workload(const Scenario &scenario, const std::map<Task, std::vector<TaskItem>> &data,
                                               int n, uint64_t seed, const TokenCounter &count_tokens);

// The prompt with filler put before it until it is about `target` tokens long (Python comments for HumanEval, so
// the program stays valid; a labelled block of unrelated notes otherwise). Returns the prompt unchanged when it is
// already that long.
std::string pad_prompt(const TaskItem &item, int32_t target, const TokenCounter &count_tokens);

} // namespace aio::eval
