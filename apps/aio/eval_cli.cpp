#include "eval_cli.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
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

Expected<std::optional<sandbox::Sandbox>> sandbox_if(bool needed, const std::string &python, bool no_sandbox) {
  if (!needed) return std::optional<sandbox::Sandbox>();
  auto s = sandbox::Sandbox::create(python, no_sandbox);
  if (!s) return s.status();
  std::fprintf(stderr, "sandbox: %s\n", s->isolation().note.c_str());
  if (!s->contained())
    std::fprintf(stderr, "WARNING: --no-sandbox: generated code runs UNISOLATED on this machine, with your files and "
                         "network in reach\n");
  return std::optional<sandbox::Sandbox>(std::move(*s));
}

eval::TokenCounter probe_token_counter(const core::Router &router) {
  const engine::Model &model = router.model(router.config().probe.model);
  return [&model](const std::string &text) {
    auto t = model.tokenize(text, false, false);
    return t ? static_cast<int32_t>(t->size()) : 0;
  };
}

void add_sandbox_options(CLI::App *sub, std::string &python, bool &no_sandbox, double &timeout) {
  sub->add_option("--timeout", timeout, "Seconds each HumanEval program may run (0 < s <= 3600)")
      ->check(CLI::Validator(
          [](std::string &v) -> std::string {
            char *end = nullptr;
            const double x = std::strtod(v.c_str(), &end);
            if (end == v.c_str() || *end != '\0' || !std::isfinite(x) || x <= 0 || x > 3600)
              return "--timeout must be a number of seconds above 0 and at most 3600, not '" + v + "'";
            return "";
          },
          "SECONDS"))
      ->capture_default_str();
  sub->add_option("--python", python, "Python interpreter for HumanEval (default /usr/bin/python3)");
  sub->add_flag("--no-sandbox", no_sandbox,
                "DANGEROUS: where the sandbox cannot start, run generated code unisolated on this machine instead of "
                "stopping");
}

} // namespace aio::cli
