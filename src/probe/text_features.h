// How the fastText probe sees text: a whitespace-separated token string that works for English, Chinese and code.
#pragma once

#include <string>
#include <string_view>

namespace aio::probe {

// Bumped whenever text_features() changes what a model sees: a model trained on other features is refused at load.
inline constexpr int kTextFeaturesVersion = 2;

// Lowercases ASCII letters, writes each digit run as "0" (numbers vary, their presence matters), splits punctuation
// and every CJK character into tokens of their own (Chinese has no spaces between words), and marks line breaks
// ("<nl>"), indentation ("<indent>") and fill-in blanks ("<blank>" for "____"). The request's layout
// (structure.h: a signature, a code block, a trace, a shell command, a formula, lettered options) goes up front as
// marker tokens, repeated in proportion to the text's length so that a long text does not drown them.
// max_tokens > 0 keeps only the first and last max_tokens / 2 tokens (the task statement and any answer options),
// so a classifier's cost stays flat however long the request; the layout is read from the whole text.
std::string text_features(std::string_view text, size_t max_tokens = 0);

} // namespace aio::probe
