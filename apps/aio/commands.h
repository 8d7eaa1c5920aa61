// The `aio` subcommands. Each add_*_command registers its flags on the CLI11 app and, when chosen, stores in
// `runner` the function that does the work and returns the process exit code.
#pragma once

#include <functional>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "aio/status.h"
#include "config_source.h"
#include "core/router.h"
#include "engine/model.h"

namespace aio::cli {

using Runner = std::function<int()>;

void add_synth_command(CLI::App &app, Runner &runner);
void add_info_command(CLI::App &app, Runner &runner);
void add_generate_command(CLI::App &app, Runner &runner);
void add_route_command(CLI::App &app, Runner &runner);
void add_probe_command(CLI::App &app, Runner &runner);
void add_calibrate_command(CLI::App &app, Runner &runner);
void add_serve_command(CLI::App &app, Runner &runner);
void add_score_command(CLI::App &app, Runner &runner);
void add_bench_command(CLI::App &app, Runner &runner);
void add_report_command(CLI::App &app, Runner &runner);
void add_plan_command(CLI::App &app, Runner &runner);
void add_profile_command(CLI::App &app, Runner &runner);
void add_config_command(CLI::App &app, Runner &runner);

// Exit codes: 0 success, 1 the operation failed, 2 the command line was wrong.
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

// Prints "aio: error: <message>" to stderr and returns the exit code for it.
int report_error(const Status &status);

// The model's shape as JSON (the shape `aio info --json` prints).
nlohmann::json model_info_json(const engine::ModelInfo &info);

// The line every report on a synthetic model carries.
constexpr const char *kSyntheticNotice =
    "note: this model has SYNTHETIC random weights (made by `aio synth`): its text is meaningless; speed and memory "
    "figures are real";

// Reads the config and loads its models and probe: what route, generate --config and the lm probe eval start with.
// Loads the config and its models; n_slots > 1 lets that many requests decode together on each model.
Expected<std::unique_ptr<core::Router>> load_router(const ConfigSource &source, int32_t n_slots = 1);
// A request from the command line's text: a user chat message with --chat, else a plain prompt.
Request make_request(const std::string &text, bool chat);

// Peak resident memory of this process so far, in bytes.
uint64_t peak_rss_bytes();
// The machine a run happened on, for the record: CPU model, hardware threads, RAM, kernel.
std::string machine_description();

} // namespace aio::cli
