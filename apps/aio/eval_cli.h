// What the evaluation subcommands (score, bench, profile, plan) share: list flags, dataset flags, the sandbox and the
// token counter used for padding.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/router.h"
#include "sandbox/sandbox.h"
#include "eval/scenario.h"

#include <CLI/CLI.hpp>

namespace aio::cli {

// "a,b,,c" -> {a, b, c}.
std::vector<std::string> split_list(const std::string &s);
// --dataset TASK=PATH flags -> task -> path.
Expected<std::map<eval::Task, std::string>> parse_dataset_flags(const std::vector<std::string> &flags);
// A sandbox for HumanEval scoring when `needed` (its isolation is announced on stderr); nothing otherwise.
Expected<std::optional<sandbox::Sandbox>> sandbox_if(bool needed, const std::string &python, bool no_sandbox = false);
// --timeout (validated: finite, positive), --python and --no-sandbox, for the commands that run HumanEval code.
void add_sandbox_options(CLI::App *sub, std::string &python, bool &no_sandbox, double &timeout);
// Token counts in the probe model's tokenizer (what context lengths and padding are measured in).
eval::TokenCounter probe_token_counter(const core::Router &router);

} // namespace aio::cli
