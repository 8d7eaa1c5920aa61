// How many tokens a draft model should propose next, from how its recent proposals fared.
#pragma once

#include <algorithm>
#include <cstdint>

namespace aio::decode {

// NOTE: adaptive speculation. The draft length follows the acceptance (grow by one after a fully accepted step,
// shrink to what was kept otherwise), and after three total misses in a row drafting pauses for a doubling number of
// plain steps (4, 8, ... 256), so a drafter that never agrees costs little more than plain decoding. Plain steps are
// lossless too, so this changes speed only, never the output.
class AdaptiveDraftLength {
public:
  explicit AdaptiveDraftLength(int32_t max_tokens) : max_(max_tokens), len_(max_tokens) {}

  // Tokens to draft in the next step; 0 while paused (one paused step is used up per call).
  int32_t next() {
    if (pause_ > 0) {
      --pause_;
      return 0;
    }
    return len_;
  }
  // What happened to a proposal of `drafted` tokens.
  void observe(int32_t drafted, int32_t accepted) {
    len_ = accepted == drafted ? std::min(len_ + 1, max_) : std::max(1, accepted);
    misses_ = accepted == 0 ? misses_ + 1 : 0;
    if (accepted > 0) next_pause_ = 4;
    if (misses_ >= 3) {
      pause_ = next_pause_;
      next_pause_ = std::min(next_pause_ * 2, 256);
      misses_ = 0;
    }
  }

private:
  int32_t max_, len_;
  int32_t misses_ = 0, pause_ = 0, next_pause_ = 4;
};

} // namespace aio::decode
