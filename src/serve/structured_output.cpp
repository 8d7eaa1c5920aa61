#include "serve/structured_output.h"

#include "json-schema-to-grammar.h"

namespace aio::serve {

Expected<std::string> json_schema_grammar(const std::string &schema_json) {
  try {
    std::string grammar = json_schema_to_grammar(common_json::parse(schema_json));
    if (grammar.empty()) return invalid_argument("response_format: the JSON schema gives an empty grammar");
    return grammar;
  } catch (const std::exception &e) {
    return invalid_argument(std::string("response_format.json_schema: llama.cpp's JSON-schema conversion cannot "
                                        "express this schema: ") + e.what());
  }
}

} // namespace aio::serve
