// Reading one JSON value into a C++ type without trusting the file: a wrong type or a number the type cannot hold
// (4e54 into an int, 1e300 into a float) is a refusal, never an exception or undefined behaviour.
#pragma once

#include <cmath>
#include <limits>
#include <type_traits>

#include <nlohmann/json.hpp>

namespace aio {

template <typename T> bool json_value_to(const nlohmann::json &v, T &out) {
  if constexpr (std::is_same_v<T, bool>) {
    if (!v.is_boolean()) return false;
  } else if constexpr (std::is_integral_v<T>) {
    if (!v.is_number_integer()) return false;
    if (v.is_number_unsigned() ? v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<T>::max())
                               : v.get<int64_t>() < static_cast<int64_t>(std::numeric_limits<T>::min()) ||
                                     (std::numeric_limits<T>::max() < std::numeric_limits<int64_t>::max() &&
                                      v.get<int64_t>() > static_cast<int64_t>(std::numeric_limits<T>::max())))
      return false;
  } else if constexpr (std::is_floating_point_v<T>) {
    if (!v.is_number()) return false;
    const double d = v.get<double>();
    if (!std::isfinite(d) || std::fabs(d) > static_cast<double>(std::numeric_limits<T>::max())) return false;
  }
  try {
    out = v.get<T>();
  } catch (const nlohmann::json::exception &) {
    return false;
  }
  return true;
}

} // namespace aio
