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
  std::string label;  // true category: one of the configuration's (code, qa, math by default)
  std::string source; // the line's "source" field where it has one (a corpus), else the file it came from
  std::string lang;   // the line's "lang" field where it has one, else detect_language(text)
};

// "zh" when CJK characters make up a fair share of the text's words, else "en": enough to tell the probe's Chinese
// requests from the rest (it does not tell other languages apart; a labelled line's "lang" field can).
std::string detect_language(const std::string &text);

// Reads any of:
//  - JSONL with {"text", "label"[, "source", "lang", "id"]} per line (e.g. data/calibration.jsonl,
//    data/probe/*.jsonl.gz), gzipped or not;
//  - GSM8K JSONL ({"question", "answer"}): label math;
//  - HumanEval JSONL ({"task_id", "prompt", ...}): label code;
//  - an MMLU CSV file or folder of them (no header: question,A,B,C,D,answer): label qa;
//  - a C-Eval CSV file or folder of them (header id,question,A,B,C,D,answer[,explanation]): label qa.
// Multiple-choice rows become the prompt A-IO's evaluation sends: the question, options A-D, then "Answer:".
// Errors name the file and line.
Expected<std::vector<LabeledPrompt>> load_labeled(const std::string &path);

} // namespace aio::eval
