// Fair share of the machine's time among co-resident engines, kept as CFS keeps it: each engine's stepping time is its
// virtual time, and the busy engine with the least goes next.
//
// An engine that gets work after a pause rejoins at the floor - the least virtual time among the busy engines, which
// never falls - so it neither banks the time it did not use nor carries a debt from an earlier busy period. The floor
// outlives the moments when every engine is idle: without it, a model that had run alone for seconds (a warm-up, a
// lull with only large-model requests) came back behind the other one and waited that many seconds of the other's
// steps before its first turn - measured as a 15 s time to first token on the large model after a quiet spell.
#pragma once

#include <cstddef>
#include <optional>
#include <vector>

namespace aio::exec {

class FairShare {
public:
  explicit FairShare(size_t n_engines) : used_(n_engines, 0.0), was_busy_(n_engines, false) {}
  // The engines with work now; one that has just got work rejoins at the floor. Returns the busy engine with the least
  // virtual time (ties: the lowest index), or nullopt when none is busy.
  std::optional<size_t> update(const std::vector<bool> &busy);
  // Engine i stepped for `seconds`.
  void charge(size_t i, double seconds) { used_[i] += seconds; }
  double used(size_t i) const { return used_[i]; }
  double floor() const { return floor_; }

private:
  std::vector<double> used_;   // stepping time each engine has had (its virtual time)
  std::vector<bool> was_busy_; // whether it had work at the last update
  double floor_ = 0;           // the least virtual time among busy engines, never decreasing
};

} // namespace aio::exec
