#include "eval_cli.h"

#include <cstdio>
#include <sstream>

namespace aio::cli {

std::vector<std::string> split_list(const std::string &s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string part; std::getline(in, part, ',');)
    if (!part.empty()) out.push_back(part);
  return out;
}

Expected<std::map<eval::Task, std::string>> parse_dataset_flags(const std::vector<std::string> &flags) {
  std::map<eval::Task, std::string> out;
  for (const auto &d : flags) {
    const size_t eq = d.find('=');
    auto task = eval::parse_task(d.substr(0, eq));
    if (eq == std::string::npos || !task)
      return invalid_argument("--dataset takes TASK=PATH (e.g. humaneval=HumanEval.jsonl.gz), not '" + d + "'");
    out[*task] = d.substr(eq + 1);
  }
  return out;
}

Expected<std::optional<eval::Sandbox>> sandbox_if(bool needed, const std::string &python) {
  if (!needed) return std::optional<eval::Sandbox>();
  auto s = eval::Sandbox::create(python);
  if (!s) return s.status();
  std::fprintf(stderr, "sandbox: %s\n", s->isolation().note.c_str());
  return std::optional<eval::Sandbox>(std::move(*s));
}

eval::TokenCounter probe_token_counter(const core::Router &router) {
  const engine::Model &model = router.model(router.config().probe.model);
  return [&model](const std::string &text) {
    auto t = model.tokenize(text, false, false);
    return t ? static_cast<int32_t>(t->size()) : 0;
  };
}

} // namespace aio::cli
