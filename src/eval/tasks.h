// Benchmark tasks in their official file formats, as items A-IO can send to a model and score: HumanEval (code),
// GSM8K (math), MMLU, C-Eval and GPQA (multiple choice, qa). Paths are the user's; nothing is downloaded.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "aio/status.h"

namespace aio::eval {

enum class Task { humaneval, gsm8k, mmlu, ceval, gpqa };
const char *task_name(Task t);
Expected<Task> parse_task(const std::string &name);
// The category A-IO's scenarios give the task: code, math or qa.
const char *task_category(Task t);

struct TaskItem {
  std::string id;          // HumanEval task_id; otherwise file stem + row (C-Eval: its own id)
  Task task = Task::gsm8k;
  std::string prompt;      // what the model is given: a function stub, a word problem, a multiple-choice layout
  std::string reference;   // canonical solution | the number after "####" | the correct letter
  std::string test;        // HumanEval: the test code defining check(candidate)
  std::string entry_point; // HumanEval: the function under test
  // Long-context variants (Scenario C): filler tokens put before the task, 0 when none.
  int32_t n_padding_tokens = 0;
  std::string category() const { return task_category(task); }
};

// Reads `path` in `task`'s official format:
//  - humaneval: HumanEval.jsonl or HumanEval.jsonl.gz ({task_id, prompt, canonical_solution, test, entry_point});
//  - gsm8k: JSONL {question, answer}, the answer ending in "#### N";
//  - mmlu: a CSV file or a folder of them, no header: question,A,B,C,D,answer;
//  - ceval: a CSV file or a folder of them, header id,question,A,B,C,D,answer[,explanation];
//  - gpqa: the official CSV (Question, Correct Answer, Incorrect Answer 1..3); the four options are shuffled by a
//    fixed per-row seed so the correct letter varies, the same way on every run.
// Errors name the file, the line and the field.
Expected<std::vector<TaskItem>> load_task(Task task, const std::string &path);

// A dataset file's whole text, gunzipped when it ends in .gz (bounded like every data file: a gzip bomb is refused).
Expected<std::string> read_dataset_text(const std::string &path);

// The multiple-choice prompt used for MMLU, C-Eval and GPQA items: the question, options A-D, then "Answer:".
std::string format_multiple_choice(const std::string &question, const std::vector<std::string> &options);

} // namespace aio::eval
