// Bounds on JSON text checked before anything parses it. Parsers, copies, dumps and llama.cpp's schema conversion all
// recurse over a document's nesting, so a deep enough document (10,000 levels fit in 20 KB) overflows the stack of
// whatever touches it next. The scan here is linear, holds no stack, and runs on the raw bytes first.
#pragma once

#include <cstddef>
#include <string_view>

namespace aio {

// The deepest nesting of arrays and objects in JSON text (0 for a scalar), counted without parsing: strings (with
// their escapes) are skipped, everything else is taken as it comes. Stops counting once `stop_above` is passed and
// returns stop_above + 1, so a 1 GB document of brackets costs no more than its first levels. Malformed text is
// counted as far as it goes (the parser that follows says what is wrong with it).
size_t json_nesting_depth(std::string_view text, size_t stop_above = static_cast<size_t>(-1));

// The default nesting a request may hold, body and every JSON text inside it (tool-call arguments, schemas):
// OpenAI's structured outputs allow 10 levels of object nesting, about 25 levels of JSON; 64 leaves room for the
// request's own envelope and generous tool schemas while staying far below any recursion's stack.
constexpr size_t kDefaultMaxJsonDepth = 64;

} // namespace aio
