// Labeled prompts for probe training and evaluation, read from the project's own JSONL or from the official formats
// of public benchmarks (each benchmark's prompts carry the category A-IO's scenarios give it).
#pragma once

#include <string>
#include <vector>

#include "aio/status.h"

namespace aio::eval {

struct LabeledPrompt {
  std::string id;
  std::string text;   // the prompt as a request would send it
  std::string label;  // true category: code, qa or math
  std::string source; // file it came from
};

// Reads any of:
//  - JSONL with {"text", "label"} per line (e.g. data/calibration.jsonl);
//  - GSM8K JSONL ({"question", "answer"}): label math;
//  - an MMLU CSV file or folder of them (no header: question,A,B,C,D,answer): label qa;
//  - a C-Eval CSV file or folder of them (header id,question,A,B,C,D,answer[,explanation]): label qa.
// Multiple-choice rows become the prompt A-IO's evaluation sends: the question, options A-D, then "Answer:".
// Errors name the file and line.
Expected<std::vector<LabeledPrompt>> load_labeled(const std::string &path);

} // namespace aio::eval
