#include "probe/entropy.h"

#include <algorithm>
#include <cmath>

namespace aio::probe {

std::vector<double> softmax(std::span<const double> logits) {
  std::vector<double> p(logits.size());
  if (logits.empty()) return p;
  const double max = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (size_t i = 0; i < logits.size(); ++i) sum += p[i] = std::exp(logits[i] - max);
  for (double &x : p) x /= sum;
  return p;
}

double entropy_bits(std::span<const double> distribution) {
  double h = 0;
  for (double p : distribution)
    if (p > 0) h -= p * std::log2(p);
  return std::max(0.0, h);
}

} // namespace aio::probe
