#include "exec/fair_share.h"

#include <algorithm>

namespace aio::exec {

std::optional<size_t> FairShare::update(const std::vector<bool> &busy) {
  // Raise the floor to the least time among the engines busy since the last update (their steps just ran).
  std::optional<double> least;
  for (size_t i = 0; i < used_.size(); ++i)
    if (was_busy_[i]) least = std::min(least.value_or(used_[i]), used_[i]);
  if (least) floor_ = std::max(floor_, *least);
  std::optional<size_t> next;
  for (size_t i = 0; i < used_.size(); ++i) {
    const bool is_busy = i < busy.size() && busy[i];
    if (is_busy && !was_busy_[i]) used_[i] = std::max(used_[i], floor_);
    was_busy_[i] = is_busy;
    if (is_busy && (!next || used_[i] < used_[*next])) next = i;
  }
  return next;
}

} // namespace aio::exec
