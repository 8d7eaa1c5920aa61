#include "eval/humaneval_check.h"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <thread>

#include <nlohmann/json.hpp>

namespace aio::eval {
namespace {

// The plain-data codec both programs use: a tagged binary encoding with exact type checks (subclasses are not plain),
// written with builtins only (importing json alone would add 12 ms to each interpreter's start). The decoder checks
// every length against what is left and bounds the nesting, so bytes from the candidate can make the checker fail,
// never make it believe something else. Frames: 8-byte big-endian length, then a kind byte and the payload.
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
    if tag == b'i': return int(str(raw, 'ascii')), at
    if tag == b'f': return float(str(raw, 'ascii')), at
    if tag == b'c':
        re, im = str(raw, 'ascii').split(' ')
        return complex(float(re), float(im)), at
    if tag == b's': return str(raw, 'utf-8', 'surrogatepass'), at
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
    return str(data, 'utf-8', 'replace')
)";

// The candidate's side: runs the prompt + completion as a module, says it is ready (or why not), then answers each
// call until its channel closes. It is as untrusted as the code it runs; the checker believes none of it, only values.
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

// The checker's side, for many items: each item's prompt (for the helpers its test uses, e.g. encode_cyclic) and
// test, check() called on the stand-in, and the verdict sent on its own pipe: P, or X with the error.
constexpr const char *kCheckerMain = R"(
import builtins as _builtins

def _raise(payload):
    name, _, message = _text(payload).partition('\n')
    kind = getattr(_builtins, name, None)
    if isinstance(kind, type) and issubclass(kind, Exception) and kind is not StopIteration:
        raise kind(message)
    raise RuntimeError('the candidate raised ' + name + ': ' + message)

def _answer():
    kind, payload = _recv()
    if kind == b'V':
        return _decode(payload)
    if kind == b'E':
        _raise(payload)
    if kind == b'Z':
        raise RuntimeError(_text(payload))
    raise RuntimeError('the candidate answered out of turn')

def candidate(*args, **kwargs):
    _send(b'C', _encode((list(args), dict(kwargs))))
    return _answer()

def _prompt_code(prompt):
    # The prompt ends inside the function to complete: with its docstring it compiles as it is; a bare signature
    # needs a body. A prompt that compiles neither way gives no helpers (the test may not need any).
    for source in (prompt, prompt + '\n    pass\n'):
        try:
            return compile(source, 'prompt.py', 'exec')
        except SyntaxError:
            pass
    return compile('', 'prompt.py', 'exec')

def _item(payload):
    prompt, test = _decode(payload)
    ns = {'__name__': '__aio_check__'}
    exec(_prompt_code(prompt), ns)
    exec(compile(test, 'test.py', 'exec'), ns)
    kind, payload = _recv()  # the candidate's first word: ready, or why not
    if kind == b'E':
        _raise(payload)
    if kind == b'Z':
        raise RuntimeError(_text(payload))
    if kind != b'R':
        raise RuntimeError('the candidate did not start')
    ns['check'](candidate)

while True:
    kind, payload = _recv()
    if kind != b'I':
        continue  # what an earlier item's candidate sent after its verdict
    try:
        _item(payload)
        _send(b'P')
    except BaseException as e:
        message = type(e).__name__ + (': ' + str(e) if str(e) else '')
        _send(b'X', message.encode('utf-8', 'replace')[:4000])
)";

std::string python_string(const std::string &text) {
  // A JSON string literal is a Python string literal too (the same escapes); invalid UTF-8 becomes U+FFFD.
  return nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

constexpr size_t kMaxFrame = (size_t{64} << 20) + 1;
constexpr int kItemsPerChecker = 500; // then a fresh one: nothing an item's test left behind accumulates

std::string frame(char kind, const std::string &payload = "") {
  std::string out(8, '\0');
  const uint64_t n = payload.size() + 1;
  for (int i = 0; i < 8; ++i) out[static_cast<size_t>(i)] = static_cast<char>((n >> (8 * (7 - i))) & 0xFF);
  out += kind;
  out += payload;
  return out;
}

// The codec's tuple of two strings (prompt, test), as the checker's _decode reads it.
std::string encode_pair(const std::string &a, const std::string &b) {
  auto blob = [](const std::string &s) {
    std::string out = "s";
    for (int i = 3; i >= 0; --i) out += static_cast<char>((s.size() >> (8 * i)) & 0xFF);
    return out + s;
  };
  return std::string("t") + std::string("\0\0\0\2", 4) + blob(a) + blob(b);
}

// Whole frames taken off the front of `buffer`: each {kind, payload}. False when a length is impossible.
bool take_frames(std::string &buffer, std::vector<std::pair<char, std::string>> &out) {
  size_t at = 0;
  while (buffer.size() - at >= 8) {
    uint64_t n = 0;
    for (int i = 0; i < 8; ++i) n = (n << 8) | static_cast<unsigned char>(buffer[at + static_cast<size_t>(i)]);
    if (n < 1 || n > kMaxFrame) return false;
    if (buffer.size() - at - 8 < n) break;
    out.emplace_back(buffer[at + 8], buffer.substr(at + 9, n - 1));
    at += 8 + n;
  }
  buffer.erase(0, at);
  return true;
}

// Reads what `fd` has now onto `buffer`; false at EOF or on an error.
bool read_some(int fd, std::string &buffer) {
  char buf[65536];
  for (;;) {
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n > 0) {
      buffer.append(buf, static_cast<size_t>(n));
      if (buffer.size() > 2 * kMaxFrame) return false;
      continue;
    }
    if (n == 0) return false;
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
  }
}

// Writes what it can of `buffer` to `fd`; false when the reader is gone.
bool write_some(int fd, std::string &buffer) {
  while (!buffer.empty()) {
    const ssize_t n = write(fd, buffer.data(), buffer.size());
    if (n > 0) {
      buffer.erase(0, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return true;
    return false;
  }
  return true;
}

std::string last_line(std::string out) {
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ' || out.back() == '\r')) out.pop_back();
  const size_t nl = out.rfind('\n');
  return out.substr(nl == std::string::npos ? 0 : nl + 1);
}

} // namespace

struct HumanEvalChecker::Checker {
  std::unique_ptr<sandbox::SandboxProcess> process;
  std::string from; // bytes read from it, not yet a whole frame
  int items = 0;
};

HumanEvalChecker::HumanEvalChecker(const sandbox::Sandbox &sandbox, sandbox::SandboxLimits limits) : sandbox_(sandbox), limits_(limits) {}
HumanEvalChecker::~HumanEvalChecker() = default;

std::string HumanEvalChecker::candidate_program(const TaskItem &item, const std::string &completion) {
  return std::string(kCodec) + kCandidateMain + "\n_serve(" + python_string(item.prompt + completion) + ", " +
         python_string(item.entry_point) + ")\n";
}

std::string HumanEvalChecker::checker_program() { return std::string(kCodec) + kCheckerMain; }

std::unique_ptr<HumanEvalChecker::Checker> HumanEvalChecker::take() const {
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      auto c = std::move(idle_.back());
      idle_.pop_back();
      return c;
    }
  }
  auto c = std::make_unique<Checker>();
  sandbox::SandboxLimits lasting = limits_;
  lasting.timeout_seconds = 24 * 3600; // its CPU-time limit: it lives for many items; each item has its own deadline
  c->process = sandbox_.spawn(checker_program(), lasting);
  return c;
}

void HumanEvalChecker::give_back(std::unique_ptr<Checker> checker) const {
  std::lock_guard lock(mu_);
  idle_.push_back(std::move(checker));
}

CheckVerdict HumanEvalChecker::check(const TaskItem &item, const std::string &completion) const {
  for (int attempt = 0;; ++attempt) {
    CheckVerdict v = check_once(item, completion);
    if (v.outcome != "setup-error" || attempt == 2) return v;
    std::this_thread::sleep_for(std::chrono::milliseconds(200 << (2 * attempt)));
  }
}

CheckVerdict HumanEvalChecker::check_once(const TaskItem &item, const std::string &completion) const {
  using Clock = std::chrono::steady_clock;
  CheckVerdict v;
  auto checker = take();
  auto candidate = sandbox_.spawn(candidate_program(item, completion), limits_);
  if (!checker->process->running() || !candidate->running()) {
    v.outcome = "setup-error";
    v.detail = last_line(!checker->process->running() ? checker->process->setup_error() : candidate->setup_error());
    return v;
  }
  sandbox::SandboxProcess &ck = *checker->process;
  std::string to_checker = frame('I', encode_pair(item.prompt, item.test)), to_candidate, from_candidate;
  std::optional<std::pair<char, std::string>> verdict;
  bool checker_clean = true, candidate_open = true, timed_out = false, checker_output_open = true;
  auto deadline = Clock::now() + std::chrono::duration<double>(limits_.timeout_seconds);
  auto end_candidate = [&](const std::string &why) {
    if (!candidate_open) return;
    candidate_open = false;
    to_checker += frame('Z', why);
  };
  while (!verdict) {
    const auto now = Clock::now();
    if (now >= deadline) {
      if (timed_out) { // the checker itself did not finish after the candidate was stopped: it goes too
        checker_clean = false;
        break;
      }
      timed_out = true;
      candidate->finish(true);
      end_candidate("timed out");
      deadline = now + std::chrono::seconds(2);
    }
    std::vector<pollfd> fds = {{ck.from_program(), POLLIN, 0}, {ck.output(), static_cast<short>(checker_output_open ? POLLIN : 0), 0},
                               {ck.to_program(), static_cast<short>(to_checker.empty() ? 0 : POLLOUT), 0}};
    if (candidate_open)
      fds.insert(fds.end(), {{candidate->from_program(), POLLIN, 0}, {candidate->output(), POLLIN, 0},
                             {candidate->to_program(), static_cast<short>(to_candidate.empty() ? 0 : POLLOUT), 0}});
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count();
    if (poll(fds.data(), fds.size(), static_cast<int>(std::clamp<int64_t>(left, 1, 1000))) < 0 && errno != EINTR) break;
    // The checker: calls go to the candidate, a verdict ends the item; anything else breaks it.
    if (fds[0].revents) {
      const bool open = read_some(ck.from_program(), checker->from);
      std::vector<std::pair<char, std::string>> frames;
      if (!take_frames(checker->from, frames)) checker_clean = false;
      for (auto &[kind, payload] : frames) {
        if (kind == 'C' && !verdict) to_candidate += frame('C', payload);
        else if ((kind == 'P' || kind == 'X') && !verdict) verdict.emplace(kind, std::move(payload));
        else checker_clean = false;
      }
      if (!open && !verdict) {
        checker_clean = false;
        break;
      }
    }
    if (fds[1].revents && !ck.read_output()) checker_output_open = false;
    if (fds[2].revents && !write_some(ck.to_program(), to_checker)) {
      checker_clean = false;
      break;
    }
    if (candidate_open) {
      // The candidate: whole frames go to the checker as they are (answers are all it can send); its end is said.
      if (fds[3].revents) {
        const bool open = read_some(candidate->from_program(), from_candidate);
        std::vector<std::pair<char, std::string>> frames;
        const bool well_formed = take_frames(from_candidate, frames);
        for (auto &[kind, payload] : frames) to_checker += frame(kind, payload);
        if (!well_formed) end_candidate("the candidate sent a malformed message");
        else if (!open) end_candidate("the candidate's program ended before it answered");
      }
      if (fds[4].revents) candidate->read_output();
      if (candidate_open && fds[5].revents && !write_some(candidate->to_program(), to_candidate))
        end_candidate("the candidate's program ended before it answered");
      if (to_checker.size() > 2 * kMaxFrame) { // answers nobody asked for, faster than the checker reads
        checker_clean = false;
        break;
      }
    }
  }
  const sandbox::SandboxResult cand = candidate->finish(timed_out);
  v.passed = verdict && verdict->first == 'P';
  if (v.passed) {
    v.outcome = "ok";
  } else if (timed_out) {
    v.outcome = "timeout";
    v.detail = "timed out";
  } else if (cand.outcome == sandbox::SandboxResult::Outcome::memory_exceeded) {
    v.outcome = "memory-cap";
    v.detail = "exceeded the memory cap";
  } else if (verdict) {
    v.outcome = "failed";
    v.detail = verdict->second;
  } else {
    const sandbox::SandboxResult ended = ck.finish(false, /*grace_seconds=*/0.5); // it closed its end: let it exit
    // The checker is our code: a sandbox that failed to start it is aio's failure, not the candidate's. (A candidate's
    // own run is not read this way - its program could print bwrap's words and exit 1.)
    v.outcome = ended.outcome == sandbox::SandboxResult::Outcome::setup_error ? "setup-error" : "failed";
    v.detail = "the checker ended without a verdict: " + last_line(ended.output);
  }
  // A checker goes back for the next item only when its channel holds nothing of this one (no half-sent frame).
  if (verdict && checker_clean && to_checker.empty() && checker->from.empty() && ++checker->items < kItemsPerChecker)
    give_back(std::move(checker));
  return v;
}

} // namespace aio::eval
