// Reading YAML with errors that name the file, the line and what is wrong.
#pragma once

#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "aio/status.h"

namespace aio::yaml {

// "FILE:LINE: what" as an invalid_argument Status (line from the node, 1-based).
Status error_at(const std::string &source, const YAML::Node &node, const std::string &what);

// Parses a whole file; a syntax error comes back as "FILE:LINE: ...".
// `what` names the file's role in errors ("config file", "profile"): a missing file, a folder, a bad path or bad YAML.
Expected<YAML::Node> load_file(const std::string &path, const std::string &what = "YAML file");
Expected<YAML::Node> load_string(const std::string &text, const std::string &source);

// Typed reads of a scalar; `path` (e.g. "policies.aio.vars.tau") goes into the message.
Expected<std::string> as_string(const std::string &source, const YAML::Node &node, const std::string &path);
Expected<double> as_number(const std::string &source, const YAML::Node &node, const std::string &path);
Expected<int64_t> as_int(const std::string &source, const YAML::Node &node, const std::string &path);
Expected<bool> as_bool(const std::string &source, const YAML::Node &node, const std::string &path);
// A string or a list of strings.
Expected<std::vector<std::string>> as_string_list(const std::string &source, const YAML::Node &node,
                                                  const std::string &path);

// Runs `parse` (returning Expected<T> or Status) over YAML a user wrote. A yaml-cpp exception the typed reads above did
// not prevent (an operator[] on a scalar, a conversion of a list) becomes "FILE:LINE: ..." naming the shape that was
// expected: a loader never aborts on the shape of its input.
Status shape_error(const std::string &source, const YAML::Exception &e);
template <class F> auto guarded(const std::string &source, F &&parse) -> decltype(parse()) {
  try {
    return parse();
  } catch (const YAML::Exception &e) {
    return shape_error(source, e);
  }
}

// Fails naming the first key of `map` that is not in `allowed`.
Status check_keys(const std::string &source, const YAML::Node &map, const std::string &path,
                  const std::vector<std::string> &allowed);

} // namespace aio::yaml
