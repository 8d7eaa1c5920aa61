#include "aio/route.h"

#include <cctype>

#include <set>

namespace aio {

Status check_category_names(const std::vector<std::string> &names) {
  if (names.size() < 2) return invalid_argument("there must be at least two categories");
  std::set<std::string> seen;
  for (const auto &n : names) {
    if (n.empty() || n.size() > 64) return invalid_argument("a category name must be 1 to 64 characters long");
    for (char c : n)
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-') || static_cast<unsigned char>(c) > 127)
        return invalid_argument("category '" + n + "' may use only ASCII letters, digits, '_' and '-'");
    if (!seen.insert(n).second) return invalid_argument("category '" + n + "' is listed twice");
  }
  return {};
}

const char *strategy_name(Strategy s) {
  switch (s) {
  case Strategy::plain: return "plain";
  case Strategy::pld: return "pld";
  case Strategy::draft: return "draft";
  }
  return "?";
}

Expected<Strategy> parse_strategy(const std::string &name) {
  if (name == "plain") return Strategy::plain;
  if (name == "pld") return Strategy::pld;
  if (name == "draft") return Strategy::draft;
  return invalid_argument("unknown strategy '" + name + "'; use plain, pld or draft");
}

const char *finish_reason_name(FinishReason r) {
  switch (r) {
  case FinishReason::stop_string: return "stop";
  case FinishReason::end_of_generation: return "eos";
  case FinishReason::max_tokens: return "length";
  case FinishReason::context_full: return "context_full";
  case FinishReason::cancelled: return "cancelled";
  }
  return "unknown";
}

Status StrategyParams::validate() const {
  if (pld_window < 1) return invalid_argument("pld_window must be at least 1");
  if (pld_lookahead < 1) return invalid_argument("pld_lookahead must be at least 1");
  if (draft_tokens < 1) return invalid_argument("draft_tokens must be at least 1");
  return {};
}

} // namespace aio
