// The data that flows through A-IO for one request: what the probe sensed, where the policy sent it, and what it
// cost. Plain structs: produced upstream, read downstream, never reaching back (see ARCHITECTURE.md).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "aio/status.h"

namespace aio {

// How the chosen model decodes the request.
enum class Strategy {
  plain, // one token per forward pass (greedy or sampled)
  pld,   // prompt lookup decoding: draft tokens copied from earlier text, verified in one batch (Saxena 2023)
  draft, // speculative decoding: a smaller model drafts, the routed model verifies (Leviathan et al. 2023)
};
const char *strategy_name(Strategy s);
Expected<Strategy> parse_strategy(const std::string &name);

struct StrategyParams {
  int32_t pld_window = 6;    // N: the longest n-gram looked up in the earlier text (the paper's setting)
  int32_t pld_lookahead = 2; // L: the most tokens proposed per lookup (the paper's setting)
  int32_t draft_tokens = 4;  // k: tokens the draft model proposes per verification step
  Status validate() const;
};

// What a probe sensed about a request. The distribution is over the configured categories, in their order.
struct ProbeResult {
  std::string probe_kind;               // "lm", "fasttext", or "none" when the request was pinned to a model
  std::vector<std::string> categories;
  std::vector<double> distribution;     // sums to 1
  int32_t argmax = 0;
  double entropy_bits = 0;              // Shannon entropy of the distribution, in bits (log base 2)
  int32_t n_context_tokens = 0;         // the request's prompt length in the small model's tokens
  double template_ms = 0;               // building the classification input
  double probe_ms = 0;                  // the classification itself (the lm probe's forward pass)
  int32_t n_kv_prefix_tokens = 0;       // request tokens the lm probe left in the small model's KV cache (0 if none)
  // The most likely category, or "" when no probe ran (a request pinned to a model).
  const std::string &category() const {
    static const std::string none;
    return categories.empty() ? none : categories.at(static_cast<size_t>(argmax));
  }
};

// Where one request goes and how it decodes there.
struct Route {
  std::string model;                    // model name from the config, e.g. "small" or "large"
  Strategy strategy = Strategy::plain;
  StrategyParams params;
  std::string draft_model;              // for Strategy::draft: the model that drafts
  std::string policy;                   // the policy that decided
  std::string rule;                     // the rule that matched (its name, or its index)
  std::string reason;                   // one human sentence: why
};

// Everything one routed request recorded, stage by stage (§5.3 of the paper).
struct RouteRecord {
  ProbeResult probe;
  Route route;
  double route_ms = 0;            // the policy's decision
  double switch_ms = 0;           // making the chosen model's session ready (both models stay resident: ~0)
  double prefill_ms = 0;          // prompt processing on the chosen model (time to first token)
  double decode_ms = 0;           // everything after the first token
  int32_t n_prompt_tokens = 0;
  int32_t n_prefill_tokens_saved = 0; // prompt tokens not prefilled again thanks to the lm probe's KV cache
  int32_t n_generated = 0;
  int32_t n_drafted = 0;          // tokens proposed by pld/draft
  int32_t n_accepted = 0;         // of those, tokens the target model agreed with
  std::string finish_reason;
};

} // namespace aio
