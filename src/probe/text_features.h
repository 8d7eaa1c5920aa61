// How the fastText probe sees text: a whitespace-separated token string that works for English, Chinese and code.
#pragma once

#include <string>
#include <string_view>

namespace aio::probe {

// Lowercases ASCII letters, writes each digit run as "0" (numbers vary, their presence matters), splits punctuation
// and every CJK character into tokens of their own (Chinese has no spaces between words), and marks line breaks
// ("<nl>"), indentation ("<indent>") and fill-in blanks ("<blank>" for "____"). A request laid out as a multiple-choice
// question (options A-D) gets "<choices>" markers up front: the format, not the subject, makes it a QA request, and
// fastText averages token vectors, so a long question would otherwise drown its options.
// max_tokens > 0 keeps only the first and last max_tokens / 2 tokens (the task statement and any answer options),
// so a classifier's cost stays flat however long the request; the multiple-choice check still reads the whole text.
std::string text_features(std::string_view text, size_t max_tokens = 0);

} // namespace aio::probe
