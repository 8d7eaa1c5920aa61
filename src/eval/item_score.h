// How one completion of a task item scored (eval/scoring.h scores it; result records carry it).
#pragma once

#include <string>

namespace aio::eval {

struct ItemScore {
  bool correct = false;
  std::string extracted; // the number or letter read from the completion; the sandbox outcome for code
  std::string detail;    // why it failed (the test's error, "no number found", ...), "" when correct
};

} // namespace aio::eval
