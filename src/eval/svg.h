// Small SVG charts for reports (no plotting library on this machine's package list does this from C++): a labelled
// scatter with a highlighted frontier, stacked horizontal bars, and a histogram.
#pragma once

#include <string>
#include <vector>

namespace aio::eval::svg {

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

std::string histogram(const std::string &title, const std::string &x_label, const std::vector<double> &values,
                      double lo, double hi, int bins);

} // namespace aio::eval::svg
