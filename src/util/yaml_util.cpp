#include "util/yaml_util.h"

#include "util/files.h"

#include <algorithm>
#include <filesystem>

namespace aio::yaml {

Status error_at(const std::string &source, const YAML::Node &node, const std::string &what) {
  const int line = node.IsDefined() ? node.Mark().line + 1 : 0;
  std::string msg = source;
  if (line > 0) {
    msg += ':';
    msg += std::to_string(line);
  }
  msg += ": ";
  msg += what;
  return invalid_argument(std::move(msg));
}

Expected<YAML::Node> load_string(const std::string &text, const std::string &source) {
  try {
    return YAML::Load(text);
  } catch (const YAML::ParserException &e) {
    return invalid_argument(source + ":" + std::to_string(e.mark.line + 1) + ": YAML syntax error: " + e.msg);
  } catch (const YAML::Exception &e) {
    return invalid_argument("cannot read " + source + ": " + e.what());
  }
}

Expected<YAML::Node> load_file(const std::string &path, const std::string &what) {
  auto text = read_file(path, what, kMaxConfigFileBytes);
  if (!text) return text.status();
  try {
    return YAML::Load(*text);
  } catch (const YAML::ParserException &e) {
    return invalid_argument(path + ":" + std::to_string(e.mark.line + 1) + ": YAML syntax error: " + e.msg);
  } catch (const YAML::Exception &e) {
    return invalid_argument("cannot read " + path + ": " + e.what());
  }
}

Expected<std::string> as_string(const std::string &source, const YAML::Node &node, const std::string &path) {
  if (!node.IsScalar()) return error_at(source, node, path + " must be a string");
  return node.Scalar();
}

Expected<double> as_number(const std::string &source, const YAML::Node &node, const std::string &path) {
  if (node.IsScalar()) {
    try {
      return node.as<double>();
    } catch (const YAML::Exception &) {
    }
  }
  return error_at(source, node, path + " must be a number");
}

Expected<int64_t> as_int(const std::string &source, const YAML::Node &node, const std::string &path) {
  if (node.IsScalar()) {
    try {
      return node.as<int64_t>();
    } catch (const YAML::Exception &) {
    }
  }
  return error_at(source, node, path + " must be a whole number");
}

Expected<bool> as_bool(const std::string &source, const YAML::Node &node, const std::string &path) {
  if (node.IsScalar()) {
    try {
      return node.as<bool>();
    } catch (const YAML::Exception &) {
    }
  }
  return error_at(source, node, path + " must be true or false");
}

Expected<std::vector<std::string>> as_string_list(const std::string &source, const YAML::Node &node,
                                                  const std::string &path) {
  std::vector<std::string> out;
  if (node.IsScalar()) {
    out.push_back(node.Scalar());
    return out;
  }
  if (!node.IsSequence()) return error_at(source, node, path + " must be a string or a list of strings");
  for (const auto &item : node) {
    if (!item.IsScalar()) return error_at(source, item, path + " must contain only strings");
    out.push_back(item.Scalar());
  }
  return out;
}

Status shape_error(const std::string &source, const YAML::Exception &e) {
  std::string msg = source;
  if (!e.mark.is_null()) {
    msg += ':';
    msg += std::to_string(e.mark.line + 1);
  }
  msg += ": this part does not have the shape expected here (";
  msg += e.msg;
  msg += "); see the examples under configs/";
  return invalid_argument(std::move(msg));
}

Status check_keys(const std::string &source, const YAML::Node &map, const std::string &path,
                  const std::vector<std::string> &allowed) {
  if (!map.IsMap()) return error_at(source, map, path + " must be a mapping (key: value lines)");
  for (const auto &kv : map) {
    const std::string key = kv.first.Scalar();
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      std::string list;
      for (const auto &a : allowed) list += (list.empty() ? "" : ", ") + a;
      return error_at(source, kv.first, "unknown key '" + key + "' in " + path + " (expected one of: " + list + ")");
    }
  }
  return {};
}

} // namespace aio::yaml
