// `aio report`: tables (Markdown, laid out like the paper's Tables 2-5), a JSON summary and SVG plots from the
// results JSONL of `aio bench`.
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "commands.h"
#include "eval/report.h"
#include "eval/results_log.h"

namespace aio::cli {
namespace {

struct ReportOptions {
  std::string results, out_dir;
};

int run_report(const ReportOptions &o) {
  auto records = eval::read_results(o.results);
  if (!records) return report_error(records.status());
  auto report = eval::build_report(*records);
  if (!report) return report_error(report.status());
  namespace fs = std::filesystem;
  const std::string dir = !o.out_dir.empty() ? o.out_dir
                                             : (fs::path(o.results).parent_path() /
                                                (fs::path(o.results).stem().string() + "-report"))
                                                   .string();
  auto plots = eval::write_report_plots(*report, dir);
  if (!plots) return report_error(plots.status());
  const std::string md = eval::report_markdown(*report);
  std::ofstream(fs::path(dir) / "report.md") << md;
  std::ofstream(fs::path(dir) / "report.json") << eval::report_json(*report).dump(2) << "\n";
  std::fputs(md.c_str(), stdout);
  std::printf("\nwrote %s/report.md, %s/report.json and %zu plots:\n", dir.c_str(), dir.c_str(), plots->size());
  for (const auto &p : *plots) std::printf("  %s\n", p.c_str());
  return 0;
}

} // namespace

void add_report_command(CLI::App &app, Runner &runner) {
  auto o = std::make_shared<ReportOptions>();
  CLI::App *sub = app.add_subcommand("report", "Tables, JSON summary and plots from an `aio bench` results file");
  sub->add_option("results", o->results, "results JSONL written by aio bench")->required();
  sub->add_option("-o,--output", o->out_dir, "Folder for report.md, report.json and the SVG plots "
                                              "(default: RESULTS-report next to the results file)");
  sub->callback([o, &runner] { runner = [o] { return run_report(*o); }; });
}

} // namespace aio::cli
