#include "eval/scoring.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <random>
#include <regex>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "util/files.h"
#include "util/json_limits.h"

namespace aio::eval {

std::optional<std::string> last_number(const std::string &text) {
  // Digits with optional thousands separators and decimals, optionally signed.
  static const std::regex number(R"((-?)(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?)");
  std::optional<std::string> last;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), number); it != std::sregex_iterator(); ++it) {
    std::string digits = (*it)[2].str();
    digits.erase(std::remove(digits.begin(), digits.end(), ','), digits.end());
    last = (*it)[1].str() + digits + (*it)[3].str();
  }
  return last;
}

bool same_number(const std::string &a, const std::string &b) {
  char *end_a = nullptr, *end_b = nullptr;
  const double x = std::strtod(a.c_str(), &end_a), y = std::strtod(b.c_str(), &end_b);
  if (end_a == a.c_str() || end_b == b.c_str()) return false;
  return std::fabs(x - y) <= 1e-6 * std::max(1.0, std::fabs(y));
}

std::optional<char> chosen_letter(const std::string &text) {
  static const std::regex explicit_answer(
      R"((?:answer\s*(?:is|:)?\s*(?:option\s*)?[\(\[]?|答案\s*(?:是|为|:|：)?\s*[\(（]?)([A-D])\b)", std::regex::icase);
  std::optional<char> found;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), explicit_answer); it != std::sregex_iterator(); ++it)
    found = static_cast<char>(std::toupper(static_cast<unsigned char>((*it)[1].str()[0])));
  if (found) return found;
  static const std::regex leading(R"(^\s*[\(\[]?([A-D])(?:[\)\].:,\s]|$))");
  std::smatch m;
  if (std::regex_search(text, m, leading)) return m[1].str()[0];
  static const std::regex standalone(R"((?:^|[^A-Za-z])([A-D])(?:[^A-Za-z]|$))");
  if (std::regex_search(text, m, standalone)) return m[1].str()[0];
  return std::nullopt;
}

Expected<std::vector<std::pair<std::string, std::string>>> read_completions(const std::string &path) {
  auto text = read_file(path, "completions file");
  if (!text) return text.status();
  std::istringstream in(*text);
  std::vector<std::pair<std::string, std::string>> out;
  std::set<std::string> seen;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = path + ":" + std::to_string(n);
    if (json_nesting_depth(line, kDefaultMaxJsonDepth) > kDefaultMaxJsonDepth)
      return invalid_argument(where + ": nests deeper than " + std::to_string(kDefaultMaxJsonDepth) +
                              " levels; not a completion record");
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return invalid_argument(where + ": not a JSON object");
    const char *key = j.contains("task_id") ? "task_id" : "id";
    if (!j.contains(key) || !(j[key].is_string() || j[key].is_number()))
      return invalid_argument(where + ": no \"task_id\" or \"id\"");
    if (!j.contains("completion") || !j["completion"].is_string())
      return invalid_argument(where + ": no string \"completion\"");
    const std::string id = j[key].is_string() ? j[key].get<std::string>() : j[key].dump();
    if (!seen.insert(id).second)
      return invalid_argument(where + ": id " + id + " appears twice (pass@1 takes one completion per item)");
    out.emplace_back(id, j["completion"].get<std::string>());
  }
  return out;
}

std::string humaneval_program(const TaskItem &item, const std::string &completion) {
  return item.prompt + completion + "\n\n" + item.test + "\n\ncheck(" + item.entry_point + ")\n";
}

Scorer::Scorer(const sandbox::Sandbox *sandbox, sandbox::SandboxLimits limits)
    : checker_(sandbox != nullptr ? std::make_shared<HumanEvalChecker>(*sandbox, limits) : nullptr) {}

ItemScore Scorer::score(const TaskItem &item, const std::string &completion) const {
  ItemScore s;
  switch (item.task) {
  case Task::humaneval: {
    if (checker_ == nullptr) {
      s.detail = "no sandbox to run the tests in";
      return s;
    }
    // The verdict is a trusted checker's, in a process the candidate cannot reach (eval/humaneval_check.h).
    const CheckVerdict v = checker_->check(item, completion);
    s.correct = v.passed;
    s.extracted = v.outcome;
    s.detail = v.detail;
    return s;
  }
  case Task::gsm8k: {
    const auto n = last_number(completion);
    if (!n) {
      s.detail = "no number in the completion";
      return s;
    }
    s.extracted = *n;
    s.correct = same_number(*n, item.reference);
    if (!s.correct) s.detail = "expected " + item.reference;
    return s;
  }
  default: {
    const auto letter = chosen_letter(completion);
    if (!letter) {
      s.detail = "no option letter in the completion";
      return s;
    }
    s.extracted = std::string(1, *letter);
    s.correct = s.extracted == item.reference;
    if (!s.correct) s.detail = "expected " + item.reference;
    return s;
  }
  }
}

std::string Scorer::reference_completion(const TaskItem &item) {
  switch (item.task) {
  case Task::humaneval: return item.reference;
  case Task::gsm8k: return "The answer is " + item.reference + ".";
  default: return " " + item.reference;
  }
}

} // namespace aio::eval
