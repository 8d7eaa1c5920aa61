// `aio report`'s index.html: one page, nothing fetched - the run's settings, the Markdown report's tables (rendered from
// that same Markdown, so the two never disagree) and the plots inline.
#include <sstream>

#include "eval/report.h"
#include "eval/svg.h"

namespace aio::eval {
namespace {

using svg::escape;

// The inline Markdown report_markdown writes: **bold**, `code` and \* (an escaped asterisk).
std::string inline_markdown(const std::string &text) {
  std::string out;
  bool bold = false, code = false;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size() && text[i + 1] == '*') {
      out += '*';
      ++i;
    } else if (!code && text.compare(i, 2, "**") == 0) {
      out += bold ? "</strong>" : "<strong>";
      bold = !bold;
      ++i;
    } else if (text[i] == '`') {
      out += code ? "</code>" : "<code>";
      code = !code;
    } else {
      out += escape(std::string(1, text[i]));
    }
  }
  if (code) out += "</code>";
  if (bold) out += "</strong>";
  return out;
}

std::vector<std::string> cells_of(const std::string &row) {
  std::vector<std::string> cells;
  std::string cell;
  for (size_t i = 1; i < row.size(); ++i) { // the row starts with '|'
    if (row[i] == '|') {
      const size_t a = cell.find_first_not_of(' '), b = cell.find_last_not_of(' ');
      cells.push_back(a == std::string::npos ? "" : cell.substr(a, b - a + 1));
      cell.clear();
    } else {
      cell += row[i];
    }
  }
  return cells;
}

bool numeric(const std::string &cell) {
  if (cell.empty() || cell == "-") return false;
  for (char c : cell)
    if (!(std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == '%' || c == ' ' || c == '/' || c == '-'))
      return false;
  return true;
}

// The subset of Markdown report_markdown writes: headings, paragraphs, a blockquote, pipe tables.
std::string markdown_to_html(const std::string &md) {
  std::ostringstream o;
  std::istringstream lines(md);
  std::vector<std::string> table;
  auto flush_table = [&] {
    if (table.empty()) return;
    o << "<div class=\"scroll\"><table>\n";
    for (size_t r = 0; r < table.size(); ++r) {
      if (r == 1) continue; // | --- | --- |
      o << "<tr>";
      for (const auto &cell : cells_of(table[r])) {
        const char *tag = r == 0 ? "th" : "td";
        o << "<" << tag << (r > 0 && numeric(cell) ? " class=\"num\"" : "") << ">" << inline_markdown(cell) << "</"
          << tag << ">";
      }
      o << "</tr>\n";
    }
    o << "</table></div>\n";
    table.clear();
  };
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty() && line[0] == '|') {
      table.push_back(line);
      continue;
    }
    flush_table();
    if (line.empty()) continue;
    if (line.rfind("### ", 0) == 0) o << "<h3>" << inline_markdown(line.substr(4)) << "</h3>\n";
    else if (line.rfind("## ", 0) == 0) o << "<h2>" << inline_markdown(line.substr(3)) << "</h2>\n";
    else if (line.rfind("# ", 0) == 0) continue; // the page has its own title
    else if (line.rfind("> ", 0) == 0) o << "<blockquote>" << inline_markdown(line.substr(2)) << "</blockquote>\n";
    else o << "<p>" << inline_markdown(line) << "</p>\n";
  }
  flush_table();
  return o.str();
}

std::string settings_table(const Report &r, const std::string &generated_at) {
  std::ostringstream o;
  auto row = [&](const std::string &key, const std::string &value) {
    o << "<tr><th>" << escape(key) << "</th><td>" << value << "</td></tr>\n";
  };
  o << "<table id=\"settings\">\n";
  std::string scenarios;
  for (const auto &sc : r.scenarios) scenarios += (scenarios.empty() ? "" : ", ") + sc;
  row("records", std::to_string(r.n_records) + " (scenarios " + escape(scenarios) + ")");
  row("weights", r.synthetic ? "<strong class=\"warn\">synthetic</strong> (random weights made by <code>aio synth</code>: "
                               "accuracy is meaningless; speeds and routing are real)"
                             : "real (as loaded from the GGUF files below)");
  const RunInfo &run = r.runs.at(r.scenarios.front());
  std::string models;
  for (const auto &[name, m] : run.models.items()) {
    models += "<code>" + escape(name) + "</code>: " + escape(m.value("path", "")) + " (" +
              std::to_string(m.value("n_params", 0LL)) + " parameters" + (m.value("synthetic", false) ? ", synthetic" : "") +
              ")<br>";
  }
  row("models", models.empty() ? "-" : models);
  row("probe", escape(run.probe));
  std::string taus;
  for (const auto &[policy, tau] : run.taus) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%.3f", tau);
    taus += (taus.empty() ? "" : ", ") + escape(policy) + " " + buf;
  }
  if (!taus.empty()) row("tau (bits)", taus);
  row("machine", run.machine.empty() ? "not recorded" : escape(run.machine));
  row("threads per model", run.threads > 0 ? std::to_string(run.threads) : "all hardware threads (threads: 0)");
  row("requests in flight", std::to_string(run.concurrency));
  row("requests per scenario", std::to_string(run.n) + ", seed " + std::to_string(run.seed));
  row("A-IO", run.aio_version.empty() ? "not recorded" : escape(run.aio_version));
  row("config", "<code>" + escape(run.config) + "</code>");
  if (!run.sandbox.empty()) row("code sandbox", escape(run.sandbox));
  row("generated", escape(generated_at));
  o << "</table>\n";
  return o.str();
}

constexpr const char *kStyle = R"(
  body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d2433; background: #f5f7fa; }
  header { padding: 16px 24px; background: #fff; border-bottom: 1px solid #d9dee7; }
  header h1 { margin: 0 0 4px; font-size: 20px; }
  nav a { margin-right: 12px; }
  main { padding: 8px 24px 32px; max-width: 1400px; }
  section { background: #fff; border: 1px solid #d9dee7; border-radius: 8px; padding: 8px 18px 16px; margin-top: 16px; }
  h2 { font-size: 17px; } h3 { font-size: 14px; margin-top: 20px; }
  table { border-collapse: collapse; font-size: 13px; }
  th, td { padding: 3px 8px; border-bottom: 1px solid #e3e7ee; text-align: left; vertical-align: top; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  #settings th { white-space: nowrap; color: #5b6577; font-weight: normal; }
  .scroll { overflow-x: auto; }
  .plots { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 12px; }
  figure { margin: 0; } figure svg { width: 100%; height: auto; border: 1px solid #e3e7ee; border-radius: 4px; }
  figcaption { font-size: 12px; color: #5b6577; }
  blockquote { margin: 8px 0; padding: 6px 12px; border-left: 4px solid #e07b00; background: #fff7ec; }
  .warn { color: #b3261e; }
  code { font-size: 12px; }
)";

} // namespace

std::string report_html(const Report &r, const std::string &generated_at) {
  const std::string md = report_markdown(r);
  // The Markdown's preamble, then one part per scenario (each begins with its "## Scenario" heading).
  std::vector<std::string> parts;
  size_t pos = 0;
  for (;;) {
    const size_t next = md.find("\n## Scenario ", pos);
    parts.push_back(md.substr(pos, next == std::string::npos ? std::string::npos : next + 1 - pos));
    if (next == std::string::npos) break;
    pos = next + 1;
  }
  const auto plots = report_plots(r);
  std::ostringstream o;
  o << "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<link rel=\"icon\" href=\"data:,\">\n"
       "<title>A-IO evaluation report</title>\n<style>"
    << kStyle << "</style>\n</head>\n<body>\n<header>\n<h1>A-IO evaluation report</h1>\n<nav><a href=\"#settings-section\">"
    << "settings</a>";
  for (const auto &sc : r.scenarios) o << "<a href=\"#scenario-" << escape(sc) << "\">scenario " << escape(sc) << "</a>";
  o << "</nav>\n</header>\n<main>\n<section id=\"settings-section\">\n<h2>Run settings</h2>\n"
    << settings_table(r, generated_at) << markdown_to_html(parts.front()) << "</section>\n";
  for (size_t i = 0; i < r.scenarios.size() && i + 1 < parts.size(); ++i) {
    const std::string &sc = r.scenarios[i];
    const std::string &part = parts[i + 1];
    const size_t heading_end = part.find('\n');
    o << "<section id=\"scenario-" << escape(sc) << "\" class=\"scenario\">\n"
      << markdown_to_html(part.substr(0, heading_end)) << "<div class=\"plots\">\n";
    for (const ReportPlot &plot : plots) {
      if (plot.scenario != sc) continue;
      // The SVG document's XML prolog-free markup is valid inline HTML.
      o << "<figure data-plot=\"" << escape(plot.file) << "\">" << plot.svg << "<figcaption>" << escape(plot.caption)
        << " (" << escape(plot.file) << ")</figcaption></figure>\n";
    }
    o << "</div>\n" << markdown_to_html(part.substr(heading_end + 1)) << "</section>\n";
  }
  o << "</main>\n</body>\n</html>\n";
  return o.str();
}

} // namespace aio::eval
