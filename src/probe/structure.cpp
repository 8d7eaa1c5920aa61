#include "probe/structure.h"

#include <array>
#include <cctype>

namespace aio::probe {
namespace {

bool is_ident_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }
bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
bool contains(std::string_view s, std::string_view p) { return s.find(p) != std::string_view::npos; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// `keyword name(` or `keyword name<`: the keyword, one identifier, then an opening bracket.
bool keyword_then_call(std::string_view line, std::string_view keyword) {
  if (!starts_with(line, keyword)) return false;
  size_t i = keyword.size();
  const size_t name_start = i;
  while (i < line.size() && is_ident_char(line[i])) ++i;
  return i > name_start && i < line.size() && (line[i] == '(' || line[i] == '<');
}

// Declarations and headers in the common languages, read from a line without its indentation.
bool is_signature_line(std::string_view line) {
  for (std::string_view kw : {"def ", "async def ", "function ", "func ", "fn ", "pub fn ", "fun "})
    if (keyword_then_call(line, kw)) return true;
  for (std::string_view kw : {"#include", "#define ", "using namespace ", "package main", "public class ",
                              "public static ", "private static ", "public int ", "public void ", "public boolean ",
                              "public String ", "public List<", "int main(", "std::", "template <", "template<"})
    if (starts_with(line, kw)) return true;
  if (starts_with(line, "class ")) { // "class Solution:", "class Foo(Base):", "class A {"
    size_t i = 6;
    while (i < line.size() && is_ident_char(line[i])) ++i;
    const std::string_view rest = line.substr(i);
    return i > 6 && (starts_with(rest, ":") || starts_with(rest, "(") || starts_with(rest, " {") ||
                     starts_with(rest, "{") || starts_with(rest, " extends") || starts_with(rest, " implements"));
  }
  if (starts_with(line, "from ") && contains(line, " import ")) return true;
  // A C-family definition: "<type> name(...) {"; LaTeX ("\left\{") is kept out by refusing backslashes.
  return line.size() > 4 && line.back() == '{' && contains(line, "(") && !contains(line, "\\");
}

bool ends_like_code(std::string_view line) {
  if (line.empty() || contains(line, "\\")) return false;
  const char last = line.back();
  return last == ';' || last == '{' || last == '}' || (line.size() > 2 && line.substr(line.size() - 2) == "):");
}

constexpr std::array<std::string_view, 40> kCommands = {
    "ls", "cd", "grep", "find", "sed", "awk", "cat", "echo", "git", "sudo", "apt", "apt-get", "pip", "npm",
    "docker", "kubectl", "curl", "wget", "chmod", "chown", "tar", "ssh", "scp", "rm", "cp", "mv", "mkdir", "ps",
    "kill", "xargs", "sort", "uniq", "head", "tail", "make", "cmake", "gcc", "python", "python3", "systemctl"};

bool is_shell_line(std::string_view line) {
  if (starts_with(line, "$ ") && line.size() > 2 && std::isalpha(static_cast<unsigned char>(line[2]))) return true;
  size_t end = 0;
  while (end < line.size() && (is_ident_char(line[end]) || line[end] == '-')) ++end;
  const std::string_view first = line.substr(0, end);
  bool command = false;
  for (std::string_view c : kCommands) command = command || first == c;
  if (!command) return false;
  // ... and it passes a flag ("-name", "--help") or pipes or redirects.
  for (size_t i = end; i + 1 < line.size(); ++i)
    if ((line[i] == ' ' && line[i + 1] == '-' && i + 2 < line.size() &&
         (std::isalpha(static_cast<unsigned char>(line[i + 2])) || line[i + 2] == '-')) ||
        (line[i] == ' ' && (line[i + 1] == '|' || line[i + 1] == '>')))
      return true;
  return false;
}

// "file.py", line 3 / Foo.java:12) / main.cpp:7:3: - a source location as tools print them.
bool has_source_location(std::string_view text) {
  for (std::string_view ext : {".py\", line ", ".java:", ".kt:", ".cpp:", ".cc:", ".c:", ".h:", ".go:", ".rs:",
                               ".js:", ".ts:", ".rb:", ".php:"}) {
    for (size_t at = text.find(ext); at != std::string_view::npos; at = text.find(ext, at + 1)) {
      const size_t d = at + ext.size();
      if (at > 0 && is_ident_char(text[at - 1]) && d < text.size() && std::isdigit(static_cast<unsigned char>(text[d])))
        return true;
    }
  }
  return false;
}

bool has_stack_trace(std::string_view text) {
  for (std::string_view s : {"Traceback (most recent call last)", "Exception in thread", "panicked at",
                             "Segmentation fault", "core dumped", "Stack trace:", "stack overflow at",
                             "UnhandledPromiseRejection", "NullPointerException", "undefined reference to"})
    if (contains(text, s)) return true;
  return has_source_location(text);
}

// Backtick spans on one line, with something in them.
bool has_inline_code(std::string_view text) {
  for (size_t open = text.find('`'); open != std::string_view::npos;) {
    const size_t close = text.find('`', open + 1);
    if (close == std::string_view::npos) return false;
    const std::string_view span = text.substr(open + 1, close - open - 1);
    if (!span.empty() && !contains(span, "\n")) return true;
    open = text.find('`', close + 1);
  }
  return false;
}

bool has_formula(std::string_view text) {
  for (std::string_view s : {"\\frac", "\\sqrt", "\\times", "\\cdot", "\\leq", "\\geq", "\\le ", "\\ge ", "\\pi",
                             "\\sin", "\\cos", "\\log", "\\int", "\\sum", "\\left", "\\mathrm", "\\dfrac"})
    if (contains(text, s)) return true;
  // An equation over a one-letter variable ("3x + 2 = 11", "x^2"), or $...$ around a formula: what is between two
  // dollars on one line holds no plain word of three or more letters ("$m month in $y" is a shell command's
  // variables, "$x^2 + 1$" a formula) and does not start like a variable ("$PATH", "${x}").
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '^' && i > 0 && i + 1 < text.size() && std::isalnum(static_cast<unsigned char>(text[i - 1])) &&
        (std::isalnum(static_cast<unsigned char>(text[i + 1])) || text[i + 1] == '{' || text[i + 1] == '('))
      return true;
    // a digit directly followed by one letter that is not part of a word: 3x, 2y (not "3rd", "10th", "2D")
    if (std::isdigit(static_cast<unsigned char>(c)) && i + 1 < text.size() &&
        std::islower(static_cast<unsigned char>(text[i + 1])) &&
        (i + 2 >= text.size() || !std::isalpha(static_cast<unsigned char>(text[i + 2]))) &&
        (i == 0 || !std::isalpha(static_cast<unsigned char>(text[i - 1]))))
      return true;
  }
  for (size_t open = text.find('$'); open != std::string_view::npos;) {
    const size_t close = text.find('$', open + 1);
    if (close == std::string_view::npos) break;
    const std::string_view inside = text.substr(open + 1, close - open - 1);
    const bool variable = !inside.empty() && (std::isupper(static_cast<unsigned char>(inside[0])) ||
                                              inside[0] == '{' || inside[0] == '_');
    bool plain_word = false;
    for (size_t k = 0, run = 0; k < inside.size() && !plain_word; ++k) {
      run = std::isalpha(static_cast<unsigned char>(inside[k])) ? run + 1 : 0;
      plain_word = run >= 3 && (k + 1 - run == 0 || inside[k - run] != '\\');
    }
    if (!inside.empty() && !contains(inside, "\n") && !variable && !plain_word) return true;
    open = text.find('$', close + 1);
  }
  return false;
}

// "write a function", "implement an algorithm", "give me a script": a verb of making, then within the next eight
// words of the same sentence a noun for a piece of software. "show"/"give" count only as "show me"/"give us".
bool asks_for_code_en(std::string_view text) {
  static constexpr std::array<std::string_view, 8> kVerbs = {"write", "implement", "create", "code", "build",
                                                             "design", "develop", "generate"};
  static constexpr std::array<std::string_view, 14> kNouns = {
      "function", "functions", "program", "script", "method", "class", "algorithm", "snippet", "regex", "query",
      "code", "subroutine", "module", "api"};
  auto is_one_of = [](std::string_view w, auto &list) {
    for (std::string_view x : list)
      if (w == x) return true;
    return false;
  };
  std::string word, previous;
  int verb_distance = -1; // words since the last verb of making (-1: none in this sentence)
  auto finish_word = [&]() -> bool {
    if (word.empty()) return false;
    bool hit = false;
    if (verb_distance >= 0 && ++verb_distance <= 8 && is_one_of(word, kNouns)) hit = true;
    if (verb_distance > 8) verb_distance = -1;
    if (is_one_of(word, kVerbs) || ((previous == "show" || previous == "give") && (word == "me" || word == "us")))
      verb_distance = 0;
    previous = word;
    word.clear();
    return hit;
  };
  for (char c : text) {
    if (std::isalpha(static_cast<unsigned char>(c))) {
      word += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      continue;
    }
    if (finish_word()) return true;
    if (c == '.' || c == '?' || c == '!' || c == '\n' || c == ';') verb_distance = -1;
  }
  return finish_word();
}

// "写一个函数", "编写程序", "用 Java 实现这个算法": a verb of writing, then within twenty characters a noun for code.
bool asks_for_code_zh(std::string_view text) {
  for (std::string_view verb : {"\u5199" /* 写 */, "\u5B9E\u73B0" /* 实现 */, "\u8BBE\u8BA1" /* 设计 */}) {
    for (size_t at = text.find(verb); at != std::string_view::npos; at = text.find(verb, at + 1)) {
      // "编写的程序" (a program someone wrote) describes code; it does not ask for it.
      if (text.substr(at + verb.size(), 3) == "\u7684" /* 的 */) continue;
      const std::string_view window = text.substr(at, 3 * 20); // 20 CJK characters of 3 bytes
      for (std::string_view noun : {"\u51FD\u6570" /* 函数 */, "\u7A0B\u5E8F" /* 程序 */, "\u811A\u672C" /* 脚本 */,
                                    "\u4EE3\u7801" /* 代码 */, "\u7B97\u6CD5" /* 算法 */})
        if (contains(window, noun)) return true;
    }
  }
  return false;
}

// True when the text offers lettered options A-D: "A. x" / "(A) x" / "A) x" / "A：x", each at a line start or after
// whitespace.
bool has_lettered_choices(std::string_view text) {
  int found = 0;
  for (char letter : {'A', 'B', 'C', 'D'}) {
    bool seen = false;
    for (size_t i = 0; i + 1 < text.size() && !seen; ++i) {
      if (text[i] != letter) continue;
      const bool boundary = i == 0 || text[i - 1] == '\n' || text[i - 1] == ' ' || text[i - 1] == '(' ||
                            text[i - 1] == '\t';
      if (!boundary) continue;
      const char next = text[i + 1];
      seen = next == '.' || next == ')' || next == ':' || (text.substr(i + 1, 3) == "\xEF\xBC\x9A") ||
             (text.substr(i + 1, 3) == "\xEF\xBC\x8E"); // fullwidth colon and full stop
    }
    found += seen;
  }
  return found == 4;
}

} // namespace

StructureSignals detect_structure(std::string_view text) {
  StructureSignals s;
  int code_endings = 0;
  for (size_t start = 0; start <= text.size();) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = trim(text.substr(start, end - start));
    start = end + 1;
    if (line.empty()) continue;
    s.signature = s.signature || is_signature_line(line);
    s.doctest = s.doctest || starts_with(line, ">>> ");
    s.shell = s.shell || is_shell_line(line);
    code_endings += ends_like_code(line);
    if (starts_with(line, "```")) s.code_block = true;
  }
  s.code_block = s.code_block || code_endings >= 2;
  s.stack_trace = has_stack_trace(text);
  s.code_request = asks_for_code_en(text) || asks_for_code_zh(text);
  s.inline_code = has_inline_code(text);
  s.formula = has_formula(text);
  s.choices = has_lettered_choices(text);
  return s;
}

std::string StructureSignals::markers() const {
  std::string out;
  auto add = [&](bool on, const char *marker) {
    if (!on) return;
    if (!out.empty()) out += ' ';
    out += marker;
  };
  add(signature, "<sig>");
  add(code_block, "<codeblock>");
  add(doctest, "<doctest>");
  add(stack_trace, "<trace>");
  add(shell, "<shell>");
  add(code_request, "<codeask>");
  add(inline_code, "<inline>");
  add(formula, "<formula>");
  add(choices, "<choices>");
  return out;
}

} // namespace aio::probe
