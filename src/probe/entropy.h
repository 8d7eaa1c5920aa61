// Turning label scores into the probe's distribution and its uncertainty.
#pragma once

#include <span>
#include <vector>

namespace aio::probe {

// Softmax of the given logits (numerically stable: the max is subtracted first).
std::vector<double> softmax(std::span<const double> logits);

// NOTE: Shannon entropy H(X) = -sum p log2 p, in bits, as the paper's tau = 0.45 is read here. Over 3 categories it
// runs from 0 (certain) to log2(3) ~= 1.585 (uniform). Zero probabilities contribute 0.
double entropy_bits(std::span<const double> distribution);

} // namespace aio::probe
