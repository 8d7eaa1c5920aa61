// UTF-8 encoding and decoding of single code points.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace aio::utf8 {

// Appends the UTF-8 encoding of `cp` to `out`.
void append(std::string &out, uint32_t cp);

// Decodes the code point starting at s[i] and advances i past it; an invalid or cut-off sequence yields U+FFFD and
// advances one byte.
uint32_t next(std::string_view s, size_t &i);

// `s` made safe to print on a terminal, write to a log or store as JSON text: valid UTF-8 only (a byte that is not
// part of a valid sequence becomes the text \xNN) and no control characters (ESC, CR, BEL... become \u00NN; newline
// and tab \n and \t), so output a program chose cannot move a cursor, retitle a window or forge a line.
std::string printable(std::string_view s);

} // namespace aio::utf8
