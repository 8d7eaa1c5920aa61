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

namespace {
// The verdict comes from a process the candidate cannot reach. HumanEval's test runs in a trusted checker program;
// the candidate's code runs in another program, in a sandbox of its own; they share two pipes and nothing else.
// `candidate` in the test is a stand-in that sends each call's arguments as plain data and reads back plain data:
// numbers, strings, bytes, None and lists, tuples, sets and dicts of them. No object crosses, so nothing the candidate
// does to its own interpreter - shadowing builtins, rewriting a harness, reading a marker from its frames or files,
// exiting early, returning an object that equals everything - reaches the checker. Either it computes the values the
// test expects, or it fails.

// The plain-data codec both sides use: a tagged binary encoding with exact type checks (subclasses are not plain),
// written with builtins only (importing json alone would add 12 ms to each of the two interpreters' start). The
// decoder checks every length against what is left and bounds the nesting, so bytes from the candidate can only
// make the checker fail, never make it believe something else.
constexpr const char *kCodec = R"(import os as _os

def _enc(v, out):
    t = type(v)
    if v is None: out.append(b'N')
    elif v is True: out.append(b'T')
    elif v is False: out.append(b'F')
    elif t is int: _blob(out, b'i', str(v).encode())
    elif t is float: _blob(out, b'f', repr(v).encode())
    elif t is complex: _blob(out, b'c', (repr(v.real) + ' ' + repr(v.imag)).encode())
    elif t is str: _blob(out, b's', v.encode('utf-8', 'surrogatepass'))
    elif t is bytes: _blob(out, b'y', v)
    elif t is list or t is tuple or t is set or t is frozenset or t is dict:
        out.append({list: b'l', tuple: b't', set: b'S', frozenset: b'R', dict: b'd'}[t])
        out.append(len(v).to_bytes(4, 'big'))
        for e in (v.items() if t is dict else v):
            if t is dict:
                _enc(e[0], out)
                _enc(e[1], out)
            else:
                _enc(e, out)
    else:
        raise TypeError('not a plain value (a ' + t.__name__ + ')')

def _blob(out, tag, data):
    out.append(tag)
    out.append(len(data).to_bytes(4, 'big'))
    out.append(data)

def _dec(data, at=0, depth=0):
    if depth > 200 or at >= len(data): raise ValueError('malformed value')
    tag = data[at:at + 1]
    at += 1
    if tag == b'N': return None, at
    if tag == b'T': return True, at
    if tag == b'F': return False, at
    if at + 4 > len(data): raise ValueError('malformed value')
    n = int.from_bytes(data[at:at + 4], 'big')
    at += 4
    if tag in (b'l', b't', b'S', b'R', b'd'):
        items = []
        for _ in range(n * 2 if tag == b'd' else n):
            v, at = _dec(data, at, depth + 1)
            items.append(v)
        if tag == b'l': return items, at
        if tag == b't': return tuple(items), at
        if tag == b'S': return set(items), at
        if tag == b'R': return frozenset(items), at
        return {items[i]: items[i + 1] for i in range(0, len(items), 2)}, at
    if at + n > len(data): raise ValueError('malformed value')
    raw = data[at:at + n]
    at += n
    if tag == b'i': return int(raw.decode('ascii')), at
    if tag == b'f': return float(raw.decode('ascii')), at
    if tag == b'c':
        re, im = raw.decode('ascii').split(' ')
        return complex(float(re), float(im)), at
    if tag == b's': return raw.decode('utf-8', 'surrogatepass'), at
    if tag == b'y': return bytes(raw), at
    raise ValueError('malformed value')

def _encode(v):
    out = []
    _enc(v, out)
    return b''.join(out)

def _decode(data):
    v, at = _dec(data)
    if at != len(data): raise ValueError('malformed value')
    return v

_LIMIT = 64 << 20

def _send(kind, payload=b''):
    data = kind + payload
    _os.write(6, len(data).to_bytes(8, 'big'))
    view = memoryview(data)
    while view:
        view = view[_os.write(6, view):]

def _read(n):
    out = bytearray()
    while len(out) < n:
        chunk = _os.read(5, min(n - len(out), 1 << 20))
        if not chunk:
            raise EOFError('the other side is gone')
        out += chunk
    return bytes(out)

def _recv():
    n = int.from_bytes(_read(8), 'big')
    if n < 1 or n > _LIMIT:
        raise ValueError('a message of ' + str(n) + ' bytes')
    data = _read(n)
    return data[:1], data[1:]

def _text(data):
    return data.decode('utf-8', 'replace')
)";

// The candidate's side: runs the prompt + completion as a module, then answers calls to the entry point. It is as
// untrusted as the code it runs; the checker believes none of it, only the values.
constexpr const char *kCandidateMain = R"(
def _serve(source, entry):
    ns = {'__name__': '__main__'}
    try:
        exec(compile(source, 'candidate.py', 'exec'), ns)
        fn = ns[entry]
    except BaseException as e:
        import traceback
        traceback.print_exc()
        _send(b'E', (type(e).__name__ + '\n' + str(e)[:2000]).encode('utf-8', 'replace'))
        return
    _send(b'R')
    while True:
        try:
            kind, call = _recv()
        except EOFError:  # the checker is done: end at once, without waiting to be stopped
            _os._exit(0)
        try:
            args, kwargs = _decode(call)
            reply = _encode(fn(*args, **kwargs))
        except BaseException as e:
            _send(b'E', (type(e).__name__ + '\n' + str(e)[:2000]).encode('utf-8', 'replace'))
            continue
        _send(b'V', reply)
)";

// The checker's side: the prompt (for the helpers its test uses, e.g. encode_cyclic), the test, and check() called on
// the stand-in. Its exit status is the verdict.
constexpr const char *kCheckerMain = R"(
import builtins as _builtins

def _raise(payload):
    name, _, message = _text(payload).partition('\n')
    kind = getattr(_builtins, name, None)
    if isinstance(kind, type) and issubclass(kind, Exception) and kind is not StopIteration:
        raise kind(message)
    raise RuntimeError('the candidate raised ' + name + ': ' + message)

def _start():
    kind, payload = _recv()
    if kind != b'R':
        _raise(payload) if kind == b'E' else _raise(b'RuntimeError\nthe candidate did not start')
    def candidate(*args, **kwargs):
        _send(b'C', _encode((list(args), dict(kwargs))))
        kind, payload = _recv()
        if kind == b'V':
            return _decode(payload)
        if kind == b'E':
            _raise(payload)
        raise RuntimeError('the candidate answered out of turn')
    return candidate

def _prompt_code(prompt):
    # The prompt ends inside the function to complete: with its docstring it compiles as it is; a bare signature
    # needs a body. A prompt that compiles neither way gives no helpers (the test may not need any).
    for source in (prompt, prompt + '\n    pass\n'):
        try:
            return compile(source, 'prompt.py', 'exec')
        except SyntaxError:
            pass
    return compile('', 'prompt.py', 'exec')

def _check(prompt, test, entry):
    ns = {'__name__': '__aio_check__'}
    exec(_prompt_code(prompt), ns)
    exec(compile(test, 'test.py', 'exec'), ns)
    ns['check'](_start())
    _os.write(1, b'all tests passed\n')
)";

std::string python_string(const std::string &text) {
  // A JSON string literal is a Python string literal too (the same escapes); invalid UTF-8 becomes U+FFFD.
  return nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}
} // namespace

std::string humaneval_program(const TaskItem &item, const std::string &completion) {
  return item.prompt + completion + "\n\n" + item.test + "\n\ncheck(" + item.entry_point + ")\n";
}

HumanEvalPrograms humaneval_programs(const TaskItem &item, const std::string &completion) {
  HumanEvalPrograms p;
  p.candidate = std::string(kCodec) + kCandidateMain + "\n_serve(" + python_string(item.prompt + completion) + ", " +
                python_string(item.entry_point) + ")\n";
  p.checker = std::string(kCodec) + kCheckerMain + "\n_check(" + python_string(item.prompt) + ", " +
              python_string(item.test) + ", " + python_string(item.entry_point) + ")\n";
  return p;
}

namespace {
// The last line of a program's output (usually the error that ended it), or "".
std::string last_line(std::string out) {
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ' || out.back() == '\r')) out.pop_back();
  const size_t nl = out.rfind('\n');
  return out.substr(nl == std::string::npos ? 0 : nl + 1);
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
    const HumanEvalPrograms programs = humaneval_programs(item, completion);
    const auto [candidate, checker] = sandbox_->run_python_pair(programs.candidate, programs.checker, limits_);
    // The checker alone decides: it exits 0 only when check() returned.
    s.correct = checker.passed();
    s.extracted = checker.outcome_name();
    if (!s.correct) {
      using Outcome = SandboxResult::Outcome;
      if (checker.outcome == Outcome::timed_out || candidate.outcome == Outcome::timed_out) s.detail = "timed out";
      else if (candidate.outcome == Outcome::memory_exceeded || checker.outcome == Outcome::memory_exceeded)
        s.detail = "exceeded the memory cap";
      else if (checker.outcome == Outcome::setup_error) s.detail = last_line(checker.output);
      else if (candidate.outcome == Outcome::setup_error) s.detail = last_line(candidate.output);
      else {
        // The checker's last line names the failure (AssertionError, the candidate's NameError, ...).
        s.detail = last_line(checker.output);
        if (s.detail.empty()) s.detail = std::string("exited with ") + checker.outcome_name();
      }
      if (checker.outcome == Outcome::timed_out) s.extracted = "timeout";
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
