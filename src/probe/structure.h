// What a request's layout says about it, whatever its words talk about: a function signature, a code block, a stack
// trace or a shell command is code; a formula or a question with lettered options is evidence of math or a
// knowledge question. The fastText probe reads these as marker tokens beside the words (text_features.h).
#pragma once

#include <string>
#include <string_view>

namespace aio::probe {

struct StructureSignals {
  bool signature = false;   // a function/class definition or header line: "def f(", "int main(", "class S {", "#include"
  bool code_block = false;  // a ``` fence, or several lines that end like code (";", "{", "}", "):")
  bool doctest = false;     // ">>> f(1)" examples
  bool stack_trace = false; // "Traceback (most recent call last)", "Exception in thread", "at x.y(File.java:12)", ...
  bool shell = false;       // "$ cmd ..." or a line that starts with a common command and passes flags or a pipe
  bool code_request = false; // an ask for a program: "write a Python function ...", "implement a class", "编写一个函数"
  bool inline_code = false; // `identifier(...)`-like spans in backticks
  bool formula = false;     // LaTeX ($...$, \frac, \sqrt) or an equation such as "3x + 2 = 11"
  bool choices = false;     // lettered options A-D
  // The marker tokens, space-separated (empty when there are none).
  std::string markers() const;
};

// One pass over the lines (and a scan for backticks and dollars); linear in the text's length.
StructureSignals detect_structure(std::string_view text);

} // namespace aio::probe
