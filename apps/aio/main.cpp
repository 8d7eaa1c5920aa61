// `aio`: the A-IO command line. One binary, one subcommand per job; see `aio --help`.
#include <cstdio>

#include "aio_git_commit.h"
#include "commands.h"
#include "util/files.h"

int main(int argc, char **argv) {
  CLI::App app{"A-IO: request-aware inference orchestration over co-resident LLMs (llama.cpp)", "aio"};
  // The release (CMakeLists.txt's project version, the one place it is set) and the commit it was built from.
  app.set_version_flag("--version", std::string("aio ") + AIO_VERSION + " (commit " + AIO_GIT_COMMIT + ")");
  app.require_subcommand(1);
  size_t max_file = 0;
  app.add_option("--max-file-size", max_file,
                 "Largest file any loader reads, in bytes (default: 16 MiB for configs and prompts, 1 GiB for data)")
      ->check(CLI::Range(size_t{1}, size_t{1} << 50));
  aio::cli::Runner runner;
  aio::cli::add_synth_command(app, runner);
  aio::cli::add_info_command(app, runner);
  aio::cli::add_generate_command(app, runner);
  aio::cli::add_route_command(app, runner);
  aio::cli::add_probe_command(app, runner);
  aio::cli::add_calibrate_command(app, runner);
  aio::cli::add_serve_command(app, runner);
  aio::cli::add_score_command(app, runner);
  aio::cli::add_bench_command(app, runner);
  aio::cli::add_report_command(app, runner);
  aio::cli::add_plan_command(app, runner);
  aio::cli::add_profile_command(app, runner);
  aio::cli::add_config_command(app, runner);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError &e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : aio::cli::kExitUsage;
  }
  // A last line of defence: whatever a library throws (an I/O error deep in a parser, an allocation failure) ends the
  // command with a message and exit 1, never an abort. The loaders report their own errors before it comes to this.
  aio::set_max_file_bytes(max_file);
  try {
    return runner ? runner() : 0;
  } catch (const std::exception &e) {
    std::fprintf(stderr, "aio: error: %s\n", e.what());
    return 1;
  }
}
