// `aio report`: tables (Markdown, laid out like the paper's Tables 2-5), a JSON summary and SVG plots from the
// results JSONL of `aio bench`.
#include <cstdio>
#include <ctime>
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
  const std::time_t now = std::time(nullptr);
  char generated[64];
  std::strftime(generated, sizeof(generated), "%Y-%m-%d %H:%M:%S UTC", std::gmtime(&now));
  const std::string html_path = (fs::path(dir) / "index.html").string();
  std::ofstream html(html_path);
  html << eval::report_html(*report, generated);
  html.close();
  if (!html) return report_error(invalid_argument("cannot write " + html_path));
  std::fputs(md.c_str(), stdout);
  std::printf("\nwrote %s/index.html (the whole report, one page that opens offline), %s/report.md, "
              "%s/report.json and %zu plots:\n",
              dir.c_str(), dir.c_str(), dir.c_str(), plots->size());
  for (const auto &p : *plots) std::printf("  %s\n", p.c_str());
  return 0;
}

} // namespace

void add_report_command(CLI::App &app, Runner &runner) {
  auto o = std::make_shared<ReportOptions>();
  CLI::App *sub = app.add_subcommand("report", "Tables, plots and one HTML page (index.html) from an `aio bench` results file");
  sub->add_option("results", o->results, "results JSONL written by aio bench")->required();
  sub->add_option("-o,--output", o->out_dir, "Folder for index.html, report.md, report.json and the SVG plots "
                                              "(default: RESULTS-report next to the results file)");
  sub->callback([o, &runner] { runner = [o] { return run_report(*o); }; });
}

} // namespace aio::cli
