// Time a model's running streams spent held by another model's prefill, paid back in turns.
//
// Co-resident models step one at a time, so a step of one holds every other model's streams. A step that reads a
// prompt and decodes nothing of its own may last the stall allowance (several decode steps: exec/step_budget.h), which
// reads long prompts in efficient chunks. Without pay-back, the held streams got one step between two such steps: a
// 135M's streams beside a 1B reading a 2,663-token prompt stepped once per 604-ms held step, 352 ms a token for as
// long as the prompt lasted, against their own 12-ms step (bench/serve_cross_model_prompt.py). Owed the held time,
// they step in a run after each held step until it is paid: the prompt still goes in large steps, and it loses to the
// streams no more than the time it took from them.
#pragma once

#include <cstddef>
#include <optional>
#include <vector>

namespace aio::exec {

class HeldTime {
public:
  explicit HeldTime(size_t n_engines) : owed_(n_engines, 0.0) {}
  // Engine `holder` took `seconds` reading prompts, with no stream of its own, while the engines marked in
  // `streams_waiting` had streams waiting for their next token: each of those is owed the time.
  void held(size_t holder, const std::vector<bool> &streams_waiting, double seconds);
  // Engine i stepped for `seconds`: that much of its debt is paid.
  void stepped(size_t i, double seconds);
  // The engine with streams waiting that is owed the most, or nullopt. An engine with no stream waiting is owed
  // nothing from then on: held time is paid to the streams that were held, not banked for later ones.
  std::optional<size_t> most_owed(const std::vector<bool> &streams_waiting);
  double owed(size_t i) const { return owed_[i]; }

private:
  std::vector<double> owed_; // seconds, per engine
};

} // namespace aio::exec
