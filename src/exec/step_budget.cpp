#include "exec/step_budget.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace aio::exec {
namespace {
// Moving averages follow the machine (other load, a growing KV cache) without jumping at one odd step.
constexpr double kAlpha = 0.2;
// A step with fewer prefill tokens than this says little about their cost (its time is mostly the decode's).
constexpr int32_t kMinSampleTokens = 8;

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

int32_t StepBudget::prefill_tokens(int32_t n_decode, int32_t room) const {
  room = std::max(room, 0);
  if (n_decode == 0) return room; // nobody is waiting for a token
  int32_t budget = p_.first_chunk;
  if (p_.fixed_tokens > 0) {
    budget = p_.fixed_tokens - n_decode;
  } else if (decode_ms_ > 0 && token_ms_ > 0) {
    const double tokens = (p_.step_factor - 1) * decode_ms_ / token_ms_;
    budget = static_cast<int32_t>(std::min(tokens, 1e6));
  }
  return std::min(room, std::max(budget, p_.min_chunk));
}

void StepBudget::observe(int32_t n_decode, int32_t n_prefill, double ms) {
  if (!(ms >= 0) || !std::isfinite(ms)) return;
  if (n_prefill == 0) {
    if (n_decode > 0) blend(decode_ms_, ms);
    return;
  }
  if (n_prefill < kMinSampleTokens) return;
  // The prefill tokens' share of the step: what it took beyond a decode-only step (the whole step when none ran).
  const double beyond = n_decode > 0 ? std::max(0.0, ms - decode_ms_) : ms;
  blend(token_ms_, beyond / n_prefill);
}

} // namespace aio::exec
