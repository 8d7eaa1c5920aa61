#include "openai/structured_output.h"

#include "json-schema-to-grammar.h"

namespace aio::openai {

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

namespace {
std::string string_grammar(const std::string &pattern) {
  return json_schema_to_grammar(common_json{{"type", "string"}, {"pattern", pattern}});
}
} // namespace

Status check_schema_pattern(const std::string &pattern) {
  // The conversion's fallback for a pattern it cannot express is a plain string rule: the grammar of a pattern known
  // to be unsupported (unanchored) is that fallback, and a pattern converting to the same grammar fell back too.
  static const std::string fallback = string_grammar("unanchored");
  std::string grammar;
  try {
    grammar = string_grammar(pattern);
  } catch (const std::exception &e) {
    return invalid_argument("response_format/tools: the JSON-Schema pattern '" + pattern + "' is invalid: " + e.what());
  }
  if (grammar == fallback)
    return invalid_argument("the JSON-Schema pattern '" + pattern + "' cannot be enforced by llama.cpp's grammar "
                            "conversion (patterns must be anchored with ^ and $ and use no lookaround, backreferences "
                            "or unsupported escapes); rewrite it or leave it out");
  return {};
}

} // namespace aio::openai
