#include "decode/strategy.h"

namespace aio::decode {

Expected<engine::GenerationRecord> run_strategy(Strategy strategy, const StrategyParams &sp, const DecodeTarget &target,
                                                const std::vector<llama_token> &prompt,
                                                const engine::GenerateParams &params,
                                                const engine::TokenCallback &on_token) {
  AIO_CHECK(target.session != nullptr);
  switch (strategy) {
  case Strategy::plain:
    return engine::generate(*target.session, prompt, params, on_token, target.seq, target.n_cached);
  case Strategy::pld:
    return generate_pld(*target.session, prompt, params, sp, on_token, target.seq, target.n_cached);
  case Strategy::draft:
    if (target.draft == nullptr)
      return invalid_argument("strategy draft needs a draft model; name one with draft_model in the policy");
    if (target.draft == target.session)
      return invalid_argument("a model cannot draft for itself in the same session; use another draft_model");
    return generate_draft(*target.session, *target.draft, prompt, params, sp, on_token, target.seq, target.n_cached);
  }
  return internal_error("unknown strategy");
}

} // namespace aio::decode
