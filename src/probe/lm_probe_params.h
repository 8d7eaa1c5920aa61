// The lm probe's template, as a config gives it: plain data, so the config layer reads it without the engine.
#pragma once

#include <string>
#include <vector>

#include "aio/status.h"

namespace aio::probe {

struct LmProbeParams {
  std::vector<std::string> categories = {"code", "qa", "math"};
  // One label per category; the logit of each label's FIRST token is read, so first tokens must differ.
  std::vector<std::string> labels = {" code", " qa", " math"};
  // Appended to the request to ask for its category; the next token is the label.
  std::string suffix = "\n\n### Which kind of request is this: code, qa or math?\n### Answer:";
  // The most tokens of a request the probe reads: a longer request is read as its first three quarters and last
  // quarter of this many (its opening says what is asked; its end often asks it), so a 3,000-token prompt costs the
  // small model a 512-token forward pass, not 3,000, before the policy sends it on. 0 reads all of it.
  int32_t read_tokens = 512;
  // Sequences of the probe model kept for probe passes beyond its slots (exec::BatchEngineParams::probe_lanes): with
  // every slot generating, a request is still read at once instead of after the next generation ends.
  int32_t lanes = 1;
  Status validate() const {
    if (lanes < 0 || lanes > 8) return invalid_argument("probe.lanes must be between 0 and 8, not " + std::to_string(lanes));
    if (read_tokens != 0 && read_tokens < 16)
      return invalid_argument("probe.read_tokens must be 0 (the whole request) or at least 16, not " +
                              std::to_string(read_tokens));
    if (categories.size() < 2) return invalid_argument("the probe needs at least two categories");
    if (labels.size() != categories.size())
      return invalid_argument("the probe needs exactly one label per category (" + std::to_string(categories.size()) +
                              " categories, " + std::to_string(labels.size()) + " labels)");
    if (suffix.empty()) return invalid_argument("the probe's classification suffix is empty");
    return {};
  }
};

} // namespace aio::probe
