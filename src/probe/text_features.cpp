#include "probe/text_features.h"

#include "probe/structure.h"
#include "util/utf8.h"

#include <algorithm>
#include <cstdint>

namespace aio::probe {
namespace {

// One strong marker per this many word tokens (at least two), one weak marker per this many (at least one).
constexpr size_t kStrongMarkerEvery = 4;
constexpr size_t kWeakMarkerEvery = 8;

bool is_cjk_or_wide(uint32_t cp) {
  return (cp >= 0x3000 && cp <= 0x303F) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x4E00 && cp <= 0x9FFF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0xFF00 && cp <= 0xFFEF) || (cp >= 0x20000 && cp <= 0x2FA1F);
}

} // namespace

std::string text_features(std::string_view text, size_t max_tokens) {
  std::string out;
  const StructureSignals structure = detect_structure(text);
  out.reserve(text.size() * 2);
  auto separate = [&] {
    if (!out.empty() && out.back() != ' ') out += ' ';
  };
  bool line_start = true;
  int leading_spaces = 0;
  for (size_t i = 0; i < text.size();) {
    const uint32_t cp = utf8::next(text, i);
    if (cp == '\n') {
      separate();
      out += "<nl> ";
      line_start = true;
      leading_spaces = 0;
      continue;
    }
    if (cp == ' ' || cp == '\t' || cp == '\r') {
      if (line_start && ++leading_spaces == (cp == '\t' ? 1 : 2)) {
        separate();
        out += "<indent>";
      }
      separate();
      continue;
    }
    line_start = false;
    if (cp < 0x80 && cp >= '0' && cp <= '9') {
      if (out.empty() || out.back() != '0') {
        separate();
        out += '0';
      }
      continue;
    }
    if (cp == '_' && i < text.size() && text[i] == '_') { // a run of underscores is a blank to fill in
      while (i < text.size() && text[i] == '_') ++i;
      separate();
      out += "<blank> ";
      continue;
    }
    if (cp < 0x80 && ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || cp == '_')) {
      if (!out.empty() && out.back() == '0') out += ' ';
      out += static_cast<char>(cp >= 'A' && cp <= 'Z' ? cp + 32 : cp);
      continue;
    }
    if (cp < 0x80 || is_cjk_or_wide(cp)) { // punctuation, symbols, CJK: a token each
      separate();
      utf8::append(out, cp);
      out += ' ';
      continue;
    }
    utf8::append(out, cp); // other letters (accented Latin, Cyrillic, ...) stay inside words
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  if (max_tokens > 0) {
    size_t n_spaces = static_cast<size_t>(std::count(out.begin(), out.end(), ' '));
    if (n_spaces + 1 > max_tokens) {
      // Cut at the space ending the first half and at the space starting the last half.
      size_t head_end = 0, tail_start = out.size();
      for (size_t k = 0, seen = 0; k < out.size(); ++k)
        if (out[k] == ' ' && ++seen == max_tokens / 2) { head_end = k; break; }
      for (size_t k = out.size(), seen = 0; k-- > 0;)
        if (out[k] == ' ' && ++seen == max_tokens / 2) { tail_start = k; break; }
      out = out.substr(0, head_end) + out.substr(tail_start);
    }
  }
  // The layout's markers go in front, repeated in proportion to the text's length: fastText averages its tokens'
  // vectors, so a single marker would drown in a long docstring about numbers. Code structure (a signature, a code
  // block, a trace, a command, an ask for a program) weighs more than the weaker hints (inline code, a formula, lettered options).
  const auto n_tokens = static_cast<size_t>(std::count(out.begin(), out.end(), ' ') + 1);
  std::string markers;
  auto repeat = [&](bool on, const char *marker, size_t copies) {
    for (size_t k = 0; on && k < copies; ++k) (markers += marker) += ' ';
  };
  const size_t strong = std::max<size_t>(2, n_tokens / kStrongMarkerEvery);
  const size_t weak = std::max<size_t>(1, n_tokens / kWeakMarkerEvery);
  repeat(structure.signature, "<sig>", strong);
  repeat(structure.code_block, "<codeblock>", strong);
  repeat(structure.doctest, "<doctest>", strong);
  repeat(structure.stack_trace, "<trace>", strong);
  repeat(structure.shell, "<shell>", strong);
  repeat(structure.code_request, "<codeask>", strong);
  repeat(structure.inline_code, "<inline>", weak);
  repeat(structure.formula, "<formula>", weak);
  repeat(structure.choices, "<choices>", weak);
  if (!markers.empty()) out = markers + out;
  return out;
}

} // namespace aio::probe
