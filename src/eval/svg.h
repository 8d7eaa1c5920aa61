// Small SVG charts for reports (no plotting library on this machine's package list does this from C++): a labelled
// scatter with a highlighted frontier, stacked horizontal bars, a histogram with an optional marker line, and grouped
// bars. Each is a standalone SVG document, also fit to be inlined into HTML (it has a viewBox).
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace aio::eval::svg {

// Text made safe inside XML / HTML markup and attribute values (&, <, >, ").
std::string escape(const std::string &s);

struct Point {
  std::string label;
  double x = 0, y = 0;
  bool on_frontier = false;
};
// x/y axes from the data (with margins), points labelled, frontier points joined by a line in x order.
std::string scatter(const std::string &title, const std::string &x_label, const std::string &y_label,
                     const std::vector<Point> &points);

struct Bar {
  std::string label;
  std::vector<std::pair<std::string, double>> segments; // name, value (drawn as shares of the row's total)
};
std::string stacked_bars(const std::string &title, const std::vector<Bar> &bars);

// A vertical line across a histogram at `value` (e.g. the policy's tau), labelled.
struct Marker {
  double value = 0;
  std::string label;
};
std::string histogram(const std::string &title, const std::string &x_label, const std::vector<double> &values,
                      double lo, double hi, int bins, const std::optional<Marker> &marker = std::nullopt);

// Vertical bars, one cluster per group (e.g. a task) with one bar per series (e.g. a policy); values[g][s], NaN where
// a series has no value for a group.
std::string grouped_bars(const std::string &title, const std::string &y_label, const std::vector<std::string> &groups,
                         const std::vector<std::string> &series, const std::vector<std::vector<double>> &values);

} // namespace aio::eval::svg
