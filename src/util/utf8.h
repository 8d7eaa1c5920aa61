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

} // namespace aio::utf8
