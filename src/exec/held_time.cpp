#include "exec/held_time.h"

#include <algorithm>

namespace aio::exec {

void HeldTime::held(size_t holder, const std::vector<bool> &streams_waiting, double seconds) {
  if (!(seconds > 0)) return;
  for (size_t i = 0; i < owed_.size() && i < streams_waiting.size(); ++i)
    if (i != holder && streams_waiting[i]) owed_[i] += seconds;
}

void HeldTime::stepped(size_t i, double seconds) {
  if (seconds > 0) owed_[i] = std::max(0.0, owed_[i] - seconds);
}

std::optional<size_t> HeldTime::most_owed(const std::vector<bool> &streams_waiting) {
  std::optional<size_t> best;
  for (size_t i = 0; i < owed_.size(); ++i) {
    if (i >= streams_waiting.size() || !streams_waiting[i]) owed_[i] = 0;
    else if (owed_[i] > 0 && (!best || owed_[i] > owed_[*best])) best = i;
  }
  return best;
}

} // namespace aio::exec
