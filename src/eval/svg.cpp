#include "eval/svg.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>

namespace aio::eval::svg {
namespace {

constexpr int kW = 640, kH = 420, kLeft = 70, kRight = 30, kTop = 40, kBottom = 60;
const char *kPalette[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7"};

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.4g", v);
  return buf;
}

std::string open(const std::string &title) {
  std::ostringstream o;
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << kW << "\" height=\"" << kH << "\" viewBox=\"0 0 " << kW
    << " " << kH << "\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    << "<text x=\"" << kW / 2 << "\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">" << escape(title) << "</text>\n";
  return o.str();
}

// Axis range with 8% margins; a flat range is widened so points do not sit on the frame.
std::pair<double, double> range(double lo, double hi) {
  if (hi - lo < 1e-12) {
    lo -= std::max(1.0, std::fabs(lo) * 0.1);
    hi += std::max(1.0, std::fabs(hi) * 0.1);
  }
  const double pad = (hi - lo) * 0.08;
  return {lo - pad, hi + pad};
}

std::string axes(double x0, double x1, double y0, double y1, const std::string &xl, const std::string &yl) {
  std::ostringstream o;
  const int pw = kW - kLeft - kRight, ph = kH - kTop - kBottom;
  o << "<rect x=\"" << kLeft << "\" y=\"" << kTop << "\" width=\"" << pw << "\" height=\"" << ph
    << "\" fill=\"none\" stroke=\"#888\"/>\n";
  for (int i = 0; i <= 4; ++i) {
    const double fx = x0 + (x1 - x0) * i / 4, fy = y0 + (y1 - y0) * i / 4;
    const double px = kLeft + pw * i / 4.0, py = kTop + ph - ph * i / 4.0;
    o << "<text x=\"" << px << "\" y=\"" << kTop + ph + 16 << "\" text-anchor=\"middle\">" << num(fx) << "</text>\n";
    o << "<text x=\"" << kLeft - 6 << "\" y=\"" << py + 4 << "\" text-anchor=\"end\">" << num(fy) << "</text>\n";
    o << "<line x1=\"" << kLeft << "\" x2=\"" << kLeft + pw << "\" y1=\"" << py << "\" y2=\"" << py
      << "\" stroke=\"#eee\"/>\n";
  }
  o << "<text x=\"" << kLeft + pw / 2 << "\" y=\"" << kH - 18 << "\" text-anchor=\"middle\">" << escape(xl) << "</text>\n";
  o << "<text transform=\"translate(16," << kTop + ph / 2 << ") rotate(-90)\" text-anchor=\"middle\">" << escape(yl)
    << "</text>\n";
  return o.str();
}

} // namespace

std::string escape(const std::string &s) {
  std::string out;
  for (char c : s) {
    if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '&') out += "&amp;";
    else if (c == '"') out += "&quot;";
    else out += c;
  }
  return out;
}

std::string scatter(const std::string &title, const std::string &x_label, const std::string &y_label,
                    const std::vector<Point> &points) {
  double xmin = 1e300, xmax = -1e300, ymin = 1e300, ymax = -1e300;
  for (const auto &p : points) {
    xmin = std::min(xmin, p.x), xmax = std::max(xmax, p.x);
    ymin = std::min(ymin, p.y), ymax = std::max(ymax, p.y);
  }
  if (points.empty()) xmin = ymin = 0, xmax = ymax = 1;
  // Plain doubles, not structured bindings: clang before 16 cannot capture those in the lambdas below.
  const auto xr = range(xmin, xmax), yr = range(ymin, ymax);
  const double x0 = xr.first, x1 = xr.second, y0 = yr.first, y1 = yr.second;
  const int pw = kW - kLeft - kRight, ph = kH - kTop - kBottom;
  auto px = [&](double x) { return kLeft + pw * (x - x0) / (x1 - x0); };
  auto py = [&](double y) { return kTop + ph - ph * (y - y0) / (y1 - y0); };
  std::ostringstream o;
  o << open(title) << axes(x0, x1, y0, y1, x_label, y_label);
  std::vector<Point> frontier;
  for (const auto &p : points)
    if (p.on_frontier) frontier.push_back(p);
  std::sort(frontier.begin(), frontier.end(), [](const Point &a, const Point &b) { return a.x < b.x; });
  if (frontier.size() > 1) {
    o << "<polyline class=\"frontier\" fill=\"none\" stroke=\"#e15759\" stroke-dasharray=\"5,3\" points=\"";
    for (const auto &p : frontier) o << px(p.x) << "," << py(p.y) << " ";
    o << "\"/>\n";
  }
  for (size_t i = 0; i < points.size(); ++i) {
    const auto &p = points[i];
    o << "<circle cx=\"" << px(p.x) << "\" cy=\"" << py(p.y) << "\" r=\"6\" fill=\"" << kPalette[i % 8]
      << "\" stroke=\"" << (p.on_frontier ? "#e15759" : "none") << "\" stroke-width=\"2\"/>\n";
    o << "<text x=\"" << px(p.x) + 9 << "\" y=\"" << py(p.y) - 7 << "\">" << escape(p.label) << "</text>\n";
  }
  o << "<text x=\"" << kW - kRight << "\" y=\"" << kTop - 6
    << "\" text-anchor=\"end\" fill=\"#e15759\">dashed: Pareto frontier</text>\n</svg>\n";
  return o.str();
}

std::string stacked_bars(const std::string &title, const std::vector<Bar> &bars) {
  std::map<std::string, int> colour;
  for (const auto &b : bars)
    for (const auto &[name, v] : b.segments) colour.emplace(name, static_cast<int>(colour.size()));
  const int pw = kW - kLeft - kRight - 60, row = std::max(14, (kH - kTop - kBottom) / std::max<int>(1, bars.size()));
  std::ostringstream o;
  o << open(title);
  for (size_t i = 0; i < bars.size(); ++i) {
    double total = 0;
    for (const auto &s : bars[i].segments) total += s.second;
    const double y = kTop + row * static_cast<double>(i);
    o << "<text x=\"" << kLeft + 40 << "\" y=\"" << y + row * 0.6 << "\" text-anchor=\"end\">" << escape(bars[i].label)
      << "</text>\n";
    double x = kLeft + 50;
    for (const auto &[name, v] : bars[i].segments) {
      const double w = total > 0 ? pw * v / total : 0;
      o << "<rect x=\"" << x << "\" y=\"" << y + 2 << "\" width=\"" << w << "\" height=\"" << row - 4 << "\" fill=\""
        << kPalette[colour[name] % 8] << "\"><title>" << escape(name) << ": " << num(100 * v / std::max(total, 1e-12))
        << "%</title></rect>\n";
      if (w > 36)
        o << "<text x=\"" << x + w / 2 << "\" y=\"" << y + row * 0.6 << "\" text-anchor=\"middle\" fill=\"white\">"
          << num(100 * v / total) << "%</text>\n";
      x += w;
    }
  }
  int k = 0;
  for (const auto &[name, c] : colour) {
    const int x = kLeft + 50 + 150 * (k % 4), y = kH - 40 + 16 * (k / 4);
    o << "<rect x=\"" << x << "\" y=\"" << y - 10 << "\" width=\"12\" height=\"12\" fill=\"" << kPalette[c % 8]
      << "\"/><text x=\"" << x + 16 << "\" y=\"" << y << "\">" << escape(name) << "</text>\n";
    ++k;
  }
  o << "</svg>\n";
  return o.str();
}

std::string histogram(const std::string &title, const std::string &x_label, const std::vector<double> &values,
                      double lo, double hi, int bins, const std::optional<Marker> &marker) {
  std::vector<int> count(static_cast<size_t>(bins), 0);
  for (double v : values) {
    const int b = std::clamp(static_cast<int>((v - lo) / (hi - lo) * bins), 0, bins - 1);
    ++count[static_cast<size_t>(b)];
  }
  const int top = std::max(1, *std::max_element(count.begin(), count.end()));
  const int pw = kW - kLeft - kRight, ph = kH - kTop - kBottom;
  std::ostringstream o;
  o << open(title) << axes(lo, hi, 0, top, x_label, "requests");
  for (int b = 0; b < bins; ++b) {
    const double h = ph * count[static_cast<size_t>(b)] / static_cast<double>(top);
    o << "<rect x=\"" << kLeft + pw * b / static_cast<double>(bins) + 1 << "\" y=\"" << kTop + ph - h << "\" width=\""
      << pw / static_cast<double>(bins) - 2 << "\" height=\"" << h << "\" fill=\"" << kPalette[0] << "\"/>\n";
  }
  if (marker) {
    const double x = kLeft + pw * std::clamp((marker->value - lo) / (hi - lo), 0.0, 1.0);
    o << "<line class=\"marker\" data-value=\"" << num(marker->value) << "\" x1=\"" << x << "\" x2=\"" << x << "\" y1=\""
      << kTop << "\" y2=\"" << kTop + ph << "\" stroke=\"#e15759\" stroke-width=\"2\" stroke-dasharray=\"6,3\"/>\n"
      << "<text x=\"" << x + 5 << "\" y=\"" << kTop + 14 << "\" fill=\"#e15759\">" << escape(marker->label) << "</text>\n";
  }
  o << "</svg>\n";
  return o.str();
}

std::string grouped_bars(const std::string &title, const std::string &y_label, const std::vector<std::string> &groups,
                         const std::vector<std::string> &series, const std::vector<std::vector<double>> &values) {
  double top = 0;
  for (const auto &row : values)
    for (double v : row)
      if (!std::isnan(v)) top = std::max(top, v);
  top = top > 0 ? top * 1.1 : 1;
  const int pw = kW - kLeft - kRight, ph = kH - kTop - kBottom;
  std::ostringstream o;
  o << open(title);
  // The y axis alone (the x axis is the groups).
  for (int i = 0; i <= 4; ++i) {
    const double py = kTop + ph - ph * i / 4.0;
    o << "<text x=\"" << kLeft - 6 << "\" y=\"" << py + 4 << "\" text-anchor=\"end\">" << num(top * i / 4) << "</text>\n"
      << "<line x1=\"" << kLeft << "\" x2=\"" << kLeft + pw << "\" y1=\"" << py << "\" y2=\"" << py << "\" stroke=\"#eee\"/>\n";
  }
  o << "<text transform=\"translate(16," << kTop + ph / 2 << ") rotate(-90)\" text-anchor=\"middle\">" << escape(y_label)
    << "</text>\n";
  const double group_w = pw / static_cast<double>(std::max<size_t>(1, groups.size()));
  const double bar_w = group_w * 0.8 / static_cast<double>(std::max<size_t>(1, series.size()));
  for (size_t g = 0; g < groups.size(); ++g) {
    const double gx = kLeft + group_w * static_cast<double>(g);
    o << "<text x=\"" << gx + group_w / 2 << "\" y=\"" << kTop + ph + 16 << "\" text-anchor=\"middle\">" << escape(groups[g])
      << "</text>\n";
    for (size_t k = 0; k < series.size(); ++k) {
      const double v = g < values.size() && k < values[g].size() ? values[g][k] : NAN;
      if (std::isnan(v)) continue;
      const double h = ph * v / top, x = gx + group_w * 0.1 + bar_w * static_cast<double>(k);
      o << "<rect x=\"" << x << "\" y=\"" << kTop + ph - h << "\" width=\"" << std::max(1.0, bar_w - 2) << "\" height=\"" << h
        << "\" fill=\"" << kPalette[k % 8] << "\"><title>" << escape(groups[g]) << ", " << escape(series[k]) << ": " << num(v)
        << "</title></rect>\n";
    }
  }
  for (size_t k = 0; k < series.size(); ++k) {
    const int x = kLeft + 150 * static_cast<int>(k % 4), y = kH - 22 + 16 * static_cast<int>(k / 4);
    o << "<rect x=\"" << x << "\" y=\"" << y - 10 << "\" width=\"12\" height=\"12\" fill=\"" << kPalette[k % 8]
      << "\"/><text x=\"" << x + 16 << "\" y=\"" << y << "\">" << escape(series[k]) << "</text>\n";
  }
  o << "</svg>\n";
  return o.str();
}

} // namespace aio::eval::svg
