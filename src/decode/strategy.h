// Running a request with the decoding strategy its route chose: plain, pld or draft.
#pragma once

#include <vector>

#include "aio/route.h"
#include "engine/generator.h"

namespace aio::decode {

struct DecodeTarget {
  engine::Session *session = nullptr;  // the routed model's session
  engine::Session *draft = nullptr;    // the drafting model's session (Strategy::draft only)
  llama_seq_id seq = 0;                // sequence to use in both sessions
  int32_t n_cached = 0;                // leading prompt tokens already in `session`'s KV cache (from the lm probe)
};

// Generates with `strategy`. Under greedy decoding pld and draft produce exactly plain's tokens; under sampling,
// plain's distribution. Errors: draft without a draft session, or with a draft model of another vocabulary.
Expected<engine::GenerationRecord> run_strategy(Strategy strategy, const StrategyParams &sp, const DecodeTarget &target,
                                                const std::vector<llama_token> &prompt,
                                                const engine::GenerateParams &params,
                                                const engine::TokenCallback &on_token = {});

// The strategies themselves (run_strategy dispatches to these).
Expected<engine::GenerationRecord> generate_pld(engine::Session &session, const std::vector<llama_token> &prompt,
                                                const engine::GenerateParams &params, const StrategyParams &sp,
                                                const engine::TokenCallback &on_token, llama_seq_id seq,
                                                int32_t n_cached);
Expected<engine::GenerationRecord> generate_draft(engine::Session &session, engine::Session &draft,
                                                  const std::vector<llama_token> &prompt,
                                                  const engine::GenerateParams &params, const StrategyParams &sp,
                                                  const engine::TokenCallback &on_token, llama_seq_id seq,
                                                  int32_t n_cached);

} // namespace aio::decode
