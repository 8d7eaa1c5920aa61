#include "exec/step_budget.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace aio::exec {
namespace {
// Moving averages follow the machine (other load, a growing KV cache) without jumping at one odd step.
constexpr double kAlpha = 0.2;

void blend(double &avg, double sample) { avg = avg == 0 ? sample : (1 - kAlpha) * avg + kAlpha * sample; }
} // namespace

Status StepBudgetParams::validate() const {
  if (fixed_tokens < 0) return invalid_argument("the step budget must be 'auto' or a positive number of tokens");
  if (!(step_factor >= 1.1 && step_factor <= 100))
    return invalid_argument("the step factor must be between 1.1 and 100 (times a decode-only step)");
  if (min_chunk < 1 || first_chunk < min_chunk) return invalid_argument("need 1 <= min_chunk <= first_chunk");
  if (!(min_tokens_per_step > 0 && min_tokens_per_step <= min_chunk))
    return invalid_argument("need 0 < min_tokens_per_step <= min_chunk");
  if (resident_chunk < 0) return invalid_argument("resident_chunk must be 0 (off) or a number of tokens");
  if (max_stall_ms != kStallAuto && !(max_stall_ms >= 0 && max_stall_ms <= 3.6e6))
    return invalid_argument("max_stall_ms must be auto or from 0 (off) to 3600000 milliseconds");
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
  char buf[128];
  if (fixed_tokens > 0) std::snprintf(buf, sizeof(buf), "%d tokens per step", fixed_tokens);
  else std::snprintf(buf, sizeof(buf), "auto (a step with prefill <= %.1fx a decode step)", step_factor);
  std::string out = buf;
  if (max_stall_ms == kStallAuto) {
    std::snprintf(buf, sizeof(buf), "; a prompt that fits in %.0f decode steps goes whole", kAutoStallSteps);
    out += buf;
  } else if (max_stall_ms > 0) {
    std::snprintf(buf, sizeof(buf), "; a prompt that fits in %.0f ms goes whole", max_stall_ms);
    out += buf;
  }
  return out;
}

int32_t StepBudget::prefill_tokens(int32_t n_decode, int32_t room, const std::vector<int32_t> &waiting,
                                   Neighbours neighbours) const {
  room = std::max(room, 0);
  const double allowance = stall_allowance_ms();
  const auto allowed_tokens = [&] { return token_ms_ > 0 ? static_cast<int32_t>(allowance / token_ms_) : 0; };
  if (n_decode == 0 && neighbours == Neighbours::none) return room; // nobody is waiting for a token
  if (n_decode == 0 && neighbours == Neighbours::resident) {
    // Nobody waits, but whoever arrives for the other model waits for this step: it lasts the allowance, or
    // resident_chunk tokens where that is more (off: the whole batch).
    if (p_.resident_chunk <= 0) return room;
    return std::min(room, std::max(p_.resident_chunk, allowed_tokens()));
  }
  const double budget = p_.fixed_tokens > 0 ? p_.fixed_tokens - n_decode : chunk_;
  int32_t tokens = std::max(static_cast<int32_t>(budget), p_.min_chunk);
  if (p_.fixed_tokens == 0 && n_decode > 0 && chunk_ < p_.min_chunk && credit_ + chunk_ < p_.min_chunk)
    tokens = 0; // duty cycle: this step decodes only; the chunk comes when the steps have earned it
  if (n_decode == 0 && p_.fixed_tokens == 0 && token_ms_ > 0 && allowance > 0) {
    // Only another engine's streams wait: a step of prefill alone may last the stall allowance, as a short prompt
    // beside this engine's own streams may (held to the chunk instead, a burst of short prompts paid for it in the
    // closed loop before: K = 8 TTFT p99 26.0 s against 13.9 s, docs/benchmarks.md). Not the chunk: that is sized
    // for steps with this engine's decode and stays at its first 128 tokens on an engine that never had both (3 s
    // on a 1B here, 7-9 s gaps for the other model's streams).
    tokens = std::max<int32_t>(p_.min_chunk, allowed_tokens());
  }
  // Short prompts whole, in the order they are filled: the step's expected time (its decode plus their prefill)
  // within the stall allowed. The first prompt that does not fit ends the run - later ones do not pass it.
  if (token_ms_ > 0 && decode_ms_ > 0) {
    int64_t whole = 0;
    for (int32_t remaining : waiting) {
      if (remaining <= 0) continue;
      if (decode_ms_ + static_cast<double>(whole + remaining) * token_ms_ > allowance) break;
      whole += remaining;
    }
    if (whole > tokens) tokens = static_cast<int32_t>(std::min<int64_t>(whole, room));
  }
  return std::min(room, tokens);
}

double StepBudget::stall_allowance_ms() const {
  if (p_.max_stall_ms == StepBudgetParams::kStallAuto) return StepBudgetParams::kAutoStallSteps * decode_ms_;
  return p_.max_stall_ms;
}

double StepBudget::response_ratio(double waited_ms, int64_t prompt_tokens) const {
  const double tokens = static_cast<double>(std::max<int64_t>(prompt_tokens, 0));
  const double reading = std::max({tokens * token_ms_, decode_ms_, 1.0});
  return (std::max(waited_ms, 0.0) + reading) / reading;
}

void StepBudget::observe(int32_t n_decode, int32_t n_prefill, double ms, bool prompt_waited) {
  if (!(ms >= 0) || !std::isfinite(ms)) return;
  if (n_decode > 0 && p_.fixed_tokens == 0) {
    // The duty cycle's account: each step beside streams with a prompt waiting earns the average chunk; the step
    // that carries prefill spends it. Capped at one chunk, so idle stretches do not bank a burst.
    if (chunk_ >= p_.min_chunk || !prompt_waited) credit_ = 0;
    else credit_ = std::clamp(credit_ + chunk_ - n_prefill, 0.0, static_cast<double>(p_.min_chunk));
  }
  if (n_prefill == 0) {
    if (n_decode > 0) blend(decode_ms_, ms);
    return;
  }
  // A prefill token's cost: the step beyond what its decode alone takes (all of it in a prefill-only step). Only from
  // chunks of some size: a handful of tokens beside decodes costs little more than the decode (the weights are read
  // anyway), which would make every prompt look cheap.
  if (n_prefill >= 16 && (n_decode == 0 || decode_ms_ > 0))
    blend(token_ms_, std::max(ms - (n_decode > 0 ? decode_ms_ : 0.0), 0.0) / n_prefill);
  if (n_decode == 0 || decode_ms_ == 0 || p_.fixed_tokens > 0) return; // nothing to keep a step within
  const double target = p_.step_factor * decode_ms_;
  const double added = std::max(ms - decode_ms_, 1e-3), allowed = std::max(target - decode_ms_, 0.0);
  if (chunk_ < p_.min_chunk) {
    // Duty cycle: the rate at which these chunks, spread over the decode-only steps between them, add the allowed
    // time to the mean step (tokens a step = allowed / cost per token), at most doubling or halving at once.
    const double rate = allowed * n_prefill / added;
    chunk_ = std::clamp(rate, std::max(p_.min_tokens_per_step, 0.5 * chunk_), 2 * chunk_);
  } else if (ms > target) {
    // Over: shrink in proportion to the prefill's share of the overrun (what the chunk added beyond a decode step);
    // below min_chunk the chunk turns into the duty cycle above.
    chunk_ = std::max(p_.min_tokens_per_step, chunk_ * std::max(0.5, allowed / added));
  } else if (ms < 0.85 * target && n_prefill >= static_cast<int32_t>(chunk_)) {
    // Well under, with a full chunk: try a slightly larger one (small steps up, so an overshoot stays small).
    chunk_ = std::min<double>(1 << 20, chunk_ * 1.1);
  }
}

} // namespace aio::exec
