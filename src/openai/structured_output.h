// Structured outputs: the grammar a response_format asks for, made by llama.cpp's own JSON-schema-to-grammar
// conversion (common/json-schema-to-grammar), so A-IO adds no grammar engine of its own. The executor enforces it
// while decoding (engine::Constrainer, llama.cpp's grammar sampler), on every strategy.
//
// This header and its source see no JSON library: llama.cpp's common code vendors its own nlohmann/json, a different
// version from Debian's that the rest of A-IO uses, so the two must never meet in one translation unit. It is built as
// its own library (aio_grammar) that alone links llama-common.
#pragma once

#include <string>

#include "aio/status.h"

namespace aio::openai {

// GBNF for a JSON Schema given as JSON text. A schema the conversion cannot express is an invalid_argument naming
// what failed.
Expected<std::string> json_schema_grammar(const std::string &schema_json);

// Whether llama.cpp's conversion honours a JSON-Schema `pattern`. Where it cannot (an unanchored pattern, lookahead,
// an escape it lacks) it only warns on stderr and accepts any string in its place; a request relying on the pattern
// must be refused instead (invalid_argument naming the pattern).
Status check_schema_pattern(const std::string &pattern);

} // namespace aio::openai
