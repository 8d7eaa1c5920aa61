#include "exec/step_budget.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace aio::exec {
namespace {
// Moving averages follow the machine (other load, a growing KV cache) without jumping at one odd step.
constexpr double kAlpha = 0.2;
// Decode steps are timed by size up to this many tokens (slots plus drafts; a bigger step counts only in the average).
constexpr int32_t kMaxSizes = 1024;

void blend(double &avg, double sample) { avg = avg == 0 ? sample : (1 - kAlpha) * avg + kAlpha * sample; }
} // namespace

Status StepBudgetParams::validate() const {
  if (fixed_tokens < 0) return invalid_argument("the step budget must be 'auto' or a positive number of tokens");
  if (!(step_factor >= 1.1 && step_factor <= 100))
    return invalid_argument("the step factor must be between 1.1 and 100 (times a decode-only step)");
  if (min_chunk < 1 || first_chunk < min_chunk) return invalid_argument("need 1 <= min_chunk <= first_chunk");
  return {};
}

Expected<StepBudgetParams> StepBudgetParams::parse(const std::string &budget, double step_factor) {
  StepBudgetParams p;
  p.step_factor = step_factor;
  if (budget != "auto") {
    char *end = nullptr;
    const long n = std::strtol(budget.c_str(), &end, 10);
    if (budget.empty() || *end != '\0' || n < 1 || n > 1 << 20)
      return invalid_argument("step budget '" + budget + "': give 'auto' or a number of tokens per step (e.g. 64)");
    p.fixed_tokens = static_cast<int32_t>(n);
  }
  AIO_RETURN_IF_ERROR(p.validate());
  return p;
}

std::string StepBudgetParams::describe() const {
  char buf[64];
  if (fixed_tokens > 0) std::snprintf(buf, sizeof(buf), "%d tokens per step", fixed_tokens);
  else std::snprintf(buf, sizeof(buf), "auto (a step with prefill <= %.1fx a decode step)", step_factor);
  return buf;
}

int32_t StepBudget::prefill_tokens(int32_t n_decode, int32_t room, double others_step_ms) const {
  room = std::max(room, 0);
  if (n_decode == 0 && !(others_step_ms > 0)) return room; // nobody is waiting for a token
  double budget = p_.fixed_tokens > 0 ? p_.fixed_tokens - n_decode : chunk_;
  if (p_.fixed_tokens == 0 && n_decode == 0 && decode_ms_ > 0 && others_step_ms > decode_ms_)
    budget *= others_step_ms / decode_ms_;
  return std::min(room, std::max(static_cast<int32_t>(budget), p_.min_chunk));
}

double StepBudget::decode_ms_at(int32_t n_decode) const {
  const auto n = static_cast<size_t>(n_decode);
  return n < decode_ms_by_size_.size() && decode_ms_by_size_[n] > 0 ? decode_ms_by_size_[n] : decode_ms_;
}

double StepBudget::target_ms() const {
  double slowest = decode_ms_;
  for (double ms : decode_ms_by_size_) slowest = std::max(slowest, ms);
  return p_.step_factor * slowest;
}

void StepBudget::cap_by_prefill_rate() {
  if (decode_ms_ == 0 || prefill_only_.n == 0) return;
  const double target = target_ms();
  if (prefill_only_.ms > target)
    chunk_ = std::max<double>(p_.min_chunk, std::min(chunk_, prefill_only_.n * target / prefill_only_.ms));
}

void StepBudget::observe(int32_t n_decode, int32_t n_prefill, double ms) {
  if (!(ms >= 0) || !std::isfinite(ms) || p_.fixed_tokens > 0) return;
  if (n_prefill == 0) {
    if (n_decode == 0) return;
    const bool first = decode_ms_ == 0;
    blend(decode_ms_, ms);
    if (n_decode < kMaxSizes) {
      if (decode_ms_by_size_.size() <= static_cast<size_t>(n_decode)) decode_ms_by_size_.resize(n_decode + 1, 0.0);
      blend(decode_ms_by_size_[n_decode], ms);
    }
    if (first) cap_by_prefill_rate(); // a prefill seen before any decode step now has a target to meet
    return;
  }
  if (n_decode == 0) {
    prefill_only_ = {n_prefill, ms};
    cap_by_prefill_rate();
    return;
  }
  if (decode_ms_ == 0) return; // nothing to keep a step within
  const double target = target_ms(), decode = decode_ms_at(n_decode);
  if (ms > target) {
    // Over: shrink in proportion to the prefill's share of the overrun (what the chunk added beyond a decode step).
    const double added = std::max(ms - decode, 1e-3), allowed = std::max(target - decode, 0.0);
    chunk_ = std::max<double>(p_.min_chunk, chunk_ * std::max(0.5, allowed / added));
  } else if (ms < 0.85 * target && n_prefill >= static_cast<int32_t>(chunk_)) {
    // Well under, with a full chunk: try a slightly larger one (small steps up, so an overshoot stays small).
    chunk_ = std::min<double>(1 << 20, chunk_ * 1.1);
  }
}

} // namespace aio::exec
