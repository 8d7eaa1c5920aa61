// The data that flows through A-IO for one request: what the probe sensed, where the policy sent it, and what it
// cost. Plain structs: produced upstream, read downstream, never reaching back (see docs/architecture.md).
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

// Category names as a config lists them: at least two, no two alike, each a word of ASCII letters, digits, '_' or '-'
// (they become fastText labels, metric label values and policy keys). The error says which name is wrong and why.
Status check_category_names(const std::vector<std::string> &names);

// What a probe sensed about a request. The distribution is over the configured categories, in their order.
struct ProbeResult {
  std::string probe_kind;               // "lm", "fasttext", or "none" when no probe ran (pinned, or not read)
  std::vector<std::string> categories;
  std::vector<double> distribution;     // sums to 1
  int32_t argmax = 0;
  double entropy_bits = 0;              // Shannon entropy of the distribution, in bits (log base 2)
  int32_t n_context_tokens = 0;         // the request's prompt length in the small model's tokens
  double template_ms = 0;               // building the classification input (tokenizing the request)
  double wait_ms = 0;                   // lm probe: queued behind other work before its forward pass began
  double probe_ms = 0;                  // the classification itself (the lm probe's forward pass, in batched steps)
  // The most likely category, or "" when no probe ran (a request pinned to a model).
  const std::string &category() const {
    static const std::string none;
    return categories.empty() ? none : categories.at(static_cast<size_t>(argmax));
  }
};

// A local model's load as a load-aware policy reads it (exec::BatchEngine::load() measures it).
struct ModelLoad {
  int32_t slots = 0;  // sequences it decodes together
  int32_t busy = 0;   // of those, running a request
  int32_t queued = 0; // requests waiting for a slot
  // How long a request arriving now would wait for its first token: for a slot (the running requests' remaining
  // tokens and the queue ahead of it), then its prompt's prefill in the chunks the step budget allows - at the
  // engine's measured wall-clock time per step (an estimate). Without a prompt (gauges): the wait for a slot.
  double wait_ms = 0;
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
  // Set when the rule that decided read a model's load (a load-aware policy sent the request elsewhere because a
  // model was busy): which model, and its load then.
  std::string load_model;
  std::optional<ModelLoad> load;
};

// Why generation ended.
enum class FinishReason { stop_string, end_of_generation, max_tokens, context_full, cancelled };
const char *finish_reason_name(FinishReason r);

// What one generation did and how long each phase took: the engine fills it, the route record carries it.
struct GenerationStats {
  int32_t n_prompt_tokens = 0;
  double queue_ms = 0;                // in the engine's queue for a slot (or a probe lane) before its prompt was read
  double prefill_ms = 0;              // prompt processing plus the first token (= time to first token once admitted)
  int32_t n_prefill_tokens_saved = 0; // prompt tokens whose KV was already cached (the probe's or an earlier turn's)
  int32_t n_prompt_tokens_cached = 0; // of those, the ones an earlier request left in the slot (a replica's prompt
                                      // cache for a pool): OpenAI's usage.prompt_tokens_details.cached_tokens
  int32_t n_generated = 0;            // tokens generated
  int32_t n_decode_steps = 0;         // forward passes that carried this sequence after its prompt
  double decode_ms = 0;               // time from the first generated token to the last
  int32_t n_drafted = 0;              // tokens proposed by PLD or a draft model
  int32_t n_accepted = 0;             // of those, tokens the model agreed with
  FinishReason finish_reason = FinishReason::max_tokens;
  std::string replica;                // the replica of a remote model's pool that answered ("" = a local model)

  double prefill_tokens_per_second() const { return prefill_ms > 0 ? n_prompt_tokens * 1000.0 / prefill_ms : 0; }
  // Tokens after the first per second of decode time; for plain decoding this is llama-bench's tg measure.
  double decode_tokens_per_second() const {
    return decode_ms > 0 && n_generated > 1 ? (n_generated - 1) * 1000.0 / decode_ms : 0;
  }
  double acceptance_rate() const { return n_drafted > 0 ? static_cast<double>(n_accepted) / n_drafted : 0; }
};

// Everything one routed request recorded, stage by stage (§5.3 of the paper).
struct RouteRecord {
  ProbeResult probe;
  Route route;
  std::string true_label;         // the category the caller said the request has ("" when unknown)
  bool grammar = false;           // the output was constrained by a grammar (structured outputs)
  double route_ms = 0;            // the policy's decision
  double switch_ms = 0;           // handing the request to the chosen model's engine (both stay resident: ~0)
  std::optional<GenerationStats> generation; // set once the request has been generated
};

} // namespace aio
