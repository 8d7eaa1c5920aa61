#include "openai/openai_json.h"

#include <algorithm>
#include <cmath>

#include "util/json_limits.h"

namespace aio::openai {
using nlohmann::json;

namespace {

ApiError bad(const std::string &param, const std::string &message) { return {400, message, "invalid_request_error", param}; }

std::optional<ApiError> read_int(const json &body, const char *key, int64_t lo, int64_t hi, std::optional<int64_t> &out) {
  if (!body.contains(key) || body[key].is_null()) return std::nullopt;
  const json &v = body[key];
  if (!v.is_number_integer()) return bad(key, std::string("'") + key + "' must be an integer");
  const int64_t x = v.get<int64_t>();
  if (x < lo || x > hi)
    return bad(key, std::string("'") + key + "' must be between " + std::to_string(lo) + " and " + std::to_string(hi) +
                        " (got " + std::to_string(x) + ")");
  out = x;
  return std::nullopt;
}

std::optional<ApiError> read_number(const json &body, const char *key, double lo, double hi, std::optional<double> &out) {
  if (!body.contains(key) || body[key].is_null()) return std::nullopt;
  const json &v = body[key];
  if (!v.is_number()) return bad(key, std::string("'") + key + "' must be a number");
  const double x = v.get<double>();
  if (!std::isfinite(x) || x < lo || x > hi)
    return bad(key, std::string("'") + key + "' must be between " + std::to_string(lo).substr(0, 4) + " and " +
                        std::to_string(hi).substr(0, 4));
  out = x;
  return std::nullopt;
}

// Message content is a string, or a list of parts of which only {"type": "text"} ones are supported.
std::optional<ApiError> read_content(const json &content, const std::string &param, std::string &out) {
  if (content.is_string()) {
    out = content.get<std::string>();
    return std::nullopt;
  }
  if (!content.is_array()) return bad(param, "'" + param + "' must be a string or a list of text parts");
  for (size_t i = 0; i < content.size(); ++i) {
    const json &part = content[i];
    const std::string p = param + "[" + std::to_string(i) + "]";
    if (!part.is_object() || !part.contains("type") || part["type"] != "text" || !part.contains("text") || !part["text"].is_string())
      return bad(p, "'" + p + "' must be {\"type\": \"text\", \"text\": \"...\"}; only text content is supported");
    out += part["text"].get<std::string>();
  }
  return std::nullopt;
}

bool is_extension(const std::string &key) { return key == "aio" || key == "ignore_eos"; }

// A JSON Schema within the limits that bound what llama.cpp's conversion makes of it: its size as text (`bytes`, from
// the caller's dump of it), the objects in it (each a subschema or a map of them), the enum and const values in all.
// Walked with a stack of its own (the depth was bounded already, but nothing here needs to recurse). The patterns it
// holds are collected for the caller, which checks that llama.cpp can honour each.
std::optional<ApiError> check_schema(const json &schema, size_t bytes, const std::string &param,
                                     const RequestLimits &limits, std::vector<std::string> *patterns) {
  if (bytes > limits.max_schema_bytes)
    return bad(param, "'" + param + "' is " + std::to_string(bytes) + " bytes of JSON; schemas over " +
                          std::to_string(limits.max_schema_bytes) + " bytes are refused (--max-schema-bytes)");
  size_t nodes = 0, values = 0;
  std::vector<const json *> todo = {&schema};
  while (!todo.empty()) {
    const json &v = *todo.back();
    todo.pop_back();
    if (v.is_object()) {
      if (++nodes > limits.max_schema_nodes)
        return bad(param, "'" + param + "' has more than " + std::to_string(limits.max_schema_nodes) +
                              " subschemas; larger schemas are refused (--max-schema-nodes)");
      if (auto e = v.find("enum"); e != v.end() && e->is_array()) values += e->size();
      if (v.contains("const")) ++values;
      if (auto p = v.find("pattern"); p != v.end() && p->is_string() && patterns != nullptr)
        patterns->push_back(p->get<std::string>());
      for (const auto &[key, child] : v.items())
        if ((key != "enum" && key != "const") && (child.is_object() || child.is_array())) todo.push_back(&child);
    } else if (v.is_array()) {
      for (const json &child : v)
        if (child.is_object() || child.is_array()) todo.push_back(&child);
    }
    if (values > limits.max_enum_values)
      return bad(param, "'" + param + "' has more than " + std::to_string(limits.max_enum_values) +
                            " enum/const values; the grammar they make would slow every request on the model "
                            "(--max-enum-values)");
  }
  return std::nullopt;
}

} // namespace

const std::vector<ApiField> &api_fields() {
  static const std::vector<ApiField> fields = {
      {"model", true, true, nullptr},
      {"messages", true, false, nullptr},
      {"prompt", false, true, nullptr},
      {"max_tokens", true, true, nullptr},
      {"max_completion_tokens", true, false, nullptr},
      {"temperature", true, true, nullptr},
      {"top_p", true, true, nullptr},
      {"seed", true, true, nullptr},
      {"stop", true, true, nullptr},
      {"stream", true, true, nullptr},
      {"stream_options", true, true, nullptr},
      {"n", true, true, nullptr},
      {"presence_penalty", true, true, nullptr},
      {"frequency_penalty", true, true, nullptr},
      {"logit_bias", true, true, nullptr},
      {"logprobs", true, true, nullptr},
      {"top_logprobs", true, false, nullptr},
      {"echo", false, true, nullptr},
      {"best_of", false, true, nullptr},
      {"response_format", true, false, nullptr},
      {"modalities", true, false, nullptr},
      {"store", true, false, nullptr},
      {"service_tier", true, false, nullptr},
      {"user", true, true, nullptr},
      {"safety_identifier", true, false, nullptr},
      {"prompt_cache_key", true, false, nullptr},
      {"metadata", true, false, nullptr},
      {"tools", true, false, nullptr},
      {"tool_choice", true, false, nullptr},
      {"parallel_tool_calls", true, false, nullptr},
      {"functions", true, false, "'functions' is deprecated in the OpenAI API and not supported; use 'tools'"},
      {"function_call", true, false, "'function_call' is deprecated in the OpenAI API and not supported; use 'tool_choice'"},
      {"audio", true, false, "audio output is not supported: A-IO serves text models"},
      {"prediction", true, false, "predicted outputs are not supported (A-IO picks its own speculation per request)"},
      {"reasoning_effort", true, false, "reasoning effort is not supported: the served models have no reasoning mode"},
      {"verbosity", true, false, "'verbosity' is not supported"},
      {"web_search_options", true, false, "web search is not supported"},
      {"suffix", false, true, "'suffix' (insertion) is not supported; send the prompt only"},
  };
  return fields;
}

json ApiError::to_json() const {
  return {{"error", {{"message", message}, {"type", type}, {"param", param.empty() ? json(nullptr) : json(param)},
                     {"code", nullptr}}}};
}

namespace {

// An assistant message's tool_calls: [{id, type: "function", function: {name, arguments (JSON text)}}].
std::optional<ApiError> read_tool_calls(const json &calls, const std::string &p, const RequestLimits &limits,
                                        std::vector<ToolCall> &out) {
  if (!calls.is_array()) return bad(p, "'" + p + "' must be a list of {\"id\", \"type\": \"function\", \"function\"}");
  for (size_t i = 0; i < calls.size(); ++i) {
    const json &c = calls[i];
    const std::string q = p + "[" + std::to_string(i) + "]";
    if (!c.is_object() || !c.contains("function") || !c["function"].is_object())
      return bad(q, "'" + q + "' must be {\"id\", \"type\": \"function\", \"function\": {\"name\", \"arguments\"}}");
    if (c.contains("type") && c["type"] != "function")
      return bad(q + ".type", "'" + q + ".type' must be \"function\"");
    const json &f = c["function"];
    if (!f.contains("name") || !f["name"].is_string() || f["name"].get<std::string>().empty())
      return bad(q + ".function.name", "'" + q + ".function.name' must be the called function's name");
    ToolCall call;
    call.name = f["name"];
    if (c.contains("id") && !c["id"].is_null()) {
      if (!c["id"].is_string()) return bad(q + ".id", "'" + q + ".id' must be a string");
      call.id = c["id"];
    }
    if (!f.contains("arguments") || !f["arguments"].is_string())
      return bad(q + ".function.arguments", "'" + q + ".function.arguments' must be the arguments as a JSON string");
    call.arguments = f["arguments"];
    // The arguments are parsed again later (by llama.cpp's chat templates): nested too deep, they would overflow it.
    if (json_nesting_depth(call.arguments, limits.max_json_depth) > limits.max_json_depth)
      return bad(q + ".function.arguments", "'" + q + ".function.arguments' nests deeper than " +
                                                std::to_string(limits.max_json_depth) + " levels (--max-json-depth)");
    if (!json::accept(call.arguments))
      return bad(q + ".function.arguments", "'" + q + ".function.arguments' is not valid JSON");
    out.push_back(std::move(call));
  }
  return std::nullopt;
}

// tools, tool_choice and parallel_tool_calls.
std::optional<ApiError> read_tools(const json &j, const RequestLimits &limits, ApiRequest &out) {
  if (j.contains("tools") && !j["tools"].is_null()) {
    const json &tools = j["tools"];
    if (!tools.is_array())
      return bad("tools", "'tools' must be a list of {\"type\": \"function\", \"function\": {\"name\", ...}}");
    // Bounded before any tool is read: each is rendered into the prompt by the chat template and compiled into the
    // tool-call grammar, whose cost grows with all of them together.
    if (tools.size() > limits.max_tools)
      return bad("tools", "'tools' lists " + std::to_string(tools.size()) + " tools; at most " +
                              std::to_string(limits.max_tools) + " are accepted (--max-tools)");
    if (const size_t bytes = tools.dump().size(); bytes > limits.max_tools_bytes)
      return bad("tools", "'tools' is " + std::to_string(bytes) + " bytes of JSON; at most " +
                              std::to_string(limits.max_tools_bytes) + " are accepted (--max-tools-bytes)");
    for (size_t i = 0; i < tools.size(); ++i) {
      const json &t = tools[i];
      const std::string p = "tools[" + std::to_string(i) + "]";
      if (!t.is_object() || t.value("type", "") != "function" || !t.contains("function") || !t["function"].is_object())
        return bad(p, "'" + p + "' must be {\"type\": \"function\", \"function\": {\"name\", \"description\", "
                      "\"parameters\"}} (the only tool type of the Chat Completions API)");
      const json &f = t["function"];
      Tool tool;
      if (!f.contains("name") || !f["name"].is_string()) return bad(p + ".function.name", "'" + p + ".function.name' is required");
      tool.name = f["name"];
      const bool valid_name = !tool.name.empty() && tool.name.size() <= 64 &&
                              std::all_of(tool.name.begin(), tool.name.end(), [](char c) {
                                return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
                              });
      if (!valid_name)
        return bad(p + ".function.name", "'" + p + ".function.name' must be 1-64 letters, digits, '_' or '-' (got '" +
                                             tool.name + "')");
      if (std::any_of(out.tools.begin(), out.tools.end(), [&](const Tool &x) { return x.name == tool.name; }))
        return bad(p + ".function.name", "two tools are named '" + tool.name + "'; names must be unique");
      if (f.contains("description") && !f["description"].is_null()) {
        if (!f["description"].is_string()) return bad(p + ".function.description", "'" + p + ".function.description' must be a string");
        tool.description = f["description"];
      }
      if (f.contains("parameters") && !f["parameters"].is_null()) {
        if (!f["parameters"].is_object())
          return bad(p + ".function.parameters", "'" + p + ".function.parameters' must be a JSON Schema object");
        tool.parameters = f["parameters"].dump();
        if (auto e = check_schema(f["parameters"], tool.parameters.size(), p + ".function.parameters", limits,
                                  &out.schema_patterns))
          return e;
      }
      if (f.contains("strict") && !f["strict"].is_null() && !f["strict"].is_boolean())
        return bad(p + ".function.strict", "'" + p + ".function.strict' must be true or false");
      tool.strict = f.value("strict", json()).is_boolean() && f["strict"].get<bool>();
      out.tools.push_back(std::move(tool));
    }
  }
  if (j.contains("tool_choice") && !j["tool_choice"].is_null()) {
    const json &tc = j["tool_choice"];
    const char *shape = "'tool_choice' must be \"none\", \"auto\", \"required\" or {\"type\": \"function\", "
                        "\"function\": {\"name\": ...}}";
    if (tc.is_string()) {
      const std::string mode = tc;
      if (mode == "none") out.tool_choice.mode = ToolChoice::Mode::none;
      else if (mode == "auto") out.tool_choice.mode = ToolChoice::Mode::automatic;
      else if (mode == "required") out.tool_choice.mode = ToolChoice::Mode::required;
      else return bad("tool_choice", shape);
    } else if (tc.is_object() && tc.value("type", "") == "function" && tc.contains("function") &&
               tc["function"].is_object() && tc["function"].contains("name") && tc["function"]["name"].is_string()) {
      out.tool_choice = {ToolChoice::Mode::function, tc["function"]["name"].get<std::string>()};
      if (std::none_of(out.tools.begin(), out.tools.end(), [&](const Tool &t) { return t.name == out.tool_choice.function; }))
        return bad("tool_choice", "'tool_choice' names the function '" + out.tool_choice.function +
                                      "', which is not among 'tools'");
    } else {
      return bad("tool_choice", shape);
    }
    if (out.tools.empty() && out.tool_choice.mode != ToolChoice::Mode::none)
      return bad("tool_choice", "'tool_choice' is only allowed when 'tools' are given");
  }
  if (j.contains("parallel_tool_calls") && !j["parallel_tool_calls"].is_null()) {
    if (!j["parallel_tool_calls"].is_boolean())
      return bad("parallel_tool_calls", "'parallel_tool_calls' must be true or false");
    out.parallel_tool_calls = j["parallel_tool_calls"];
  }
  return std::nullopt;
}

// An optional true/false field of `obj`: absent or null leaves `out` as it is.
std::optional<ApiError> read_bool(const json &obj, const char *key, const std::string &param, bool &out) {
  if (!obj.contains(key) || obj[key].is_null()) return std::nullopt;
  if (!obj[key].is_boolean()) return bad(param, "'" + param + "' must be true or false");
  out = obj[key];
  return std::nullopt;
}

// The body as a JSON object. Its nesting is checked before parsing: everything that later copies, dumps or converts
// the document recurses over it.
std::optional<ApiError> read_body(const std::string &body, const RequestLimits &limits, json &j) {
  if (json_nesting_depth(body, limits.max_json_depth) > limits.max_json_depth)
    return bad("", "the request body nests arrays and objects deeper than " + std::to_string(limits.max_json_depth) +
                       " levels; such requests are refused (--max-json-depth)");
  try {
    j = json::parse(body);
  } catch (const json::parse_error &e) {
    std::string what = e.what();
    if (what.find("UTF-8") != std::string::npos) return bad("", "the request body is not valid UTF-8");
    // The parser quotes the bytes it last read, which may be anything the client sent (invalid UTF-8 included): say
    // where instead, so the error body is always valid JSON text.
    if (const auto cut = what.find("; last read"); cut != std::string::npos) what.erase(cut);
    return bad("", "the request body is not valid JSON: " + what + " (at byte " + std::to_string(e.byte) + ")");
  } catch (const json::exception &) {
    // e.g. a number beyond a double's range ({"temperature": 1e400}): the client's input, so a 400, not a 500.
    return bad("", "the request body holds a number too large to represent; send numbers within a double's range");
  }
  if (!j.is_object()) return bad("", "the request body must be a JSON object");
  return std::nullopt;
}

// Every field is honoured or refused: one this server would otherwise ignore is an error, as OpenAI's own API does.
std::optional<ApiError> check_fields(const json &j, bool chat) {
  const char *api_name = chat ? "/v1/chat/completions" : "/v1/completions";
  for (const auto &item : j.items()) {
    const std::string &key = item.key(); // not a structured binding: clang 14 cannot capture those in the lambda
    if (is_extension(key)) continue;
    const auto &fields = api_fields();
    const auto f = std::find_if(fields.begin(), fields.end(), [&](const ApiField &x) {
      return key == x.name && (chat ? x.chat : x.completions);
    });
    if (f == fields.end())
      return bad(key, "'" + key + "' is not a field of " + api_name + " (see the conformance table in A-IO's docs/serving.md)");
    if (f->refused != nullptr && !item.value().is_null()) return bad(key, f->refused);
  }
  return std::nullopt;
}

std::optional<ApiError> read_message(const json &m, const std::string &p, const RequestLimits &limits,
                                     Message &msg) {
  if (!m.is_object() || !m.contains("role") || !m["role"].is_string())
    return bad(p + ".role", "'" + p + ".role' must be a string");
  const std::string role = m["role"];
  if (role != "system" && role != "user" && role != "assistant" && role != "developer" && role != "tool")
    return bad(p + ".role", "'" + p + ".role' must be system, developer, user, assistant or tool (got '" + role + "')");
  msg.role = role == "developer" ? "system" : role;
  if (role == "assistant" && m.contains("tool_calls") && !m["tool_calls"].is_null()) {
    if (auto e = read_tool_calls(m["tool_calls"], p + ".tool_calls", limits, msg.tool_calls)) return e;
  }
  if (role == "tool") {
    if (!m.contains("tool_call_id") || !m["tool_call_id"].is_string())
      return bad(p + ".tool_call_id", "'" + p + ".tool_call_id' is required: the id of the call this is the result of");
    msg.tool_call_id = m["tool_call_id"];
  }
  if (m.contains("name") && !m["name"].is_null()) {
    if (!m["name"].is_string()) return bad(p + ".name", "'" + p + ".name' must be a string");
    msg.name = m["name"];
  }
  // An assistant turn that called tools may have no content (null), as every agent framework sends it.
  const bool content_optional = role == "assistant" && !msg.tool_calls.empty();
  if (!m.contains("content") || m["content"].is_null()) {
    if (!content_optional) return bad(p + ".content", "'" + p + ".content' is required");
    return std::nullopt;
  }
  return read_content(m["content"], p + ".content", msg.content);
}

std::optional<ApiError> read_messages(const json &j, const RequestLimits &limits, ApiRequest &out) {
  if (!j.contains("messages") || !j["messages"].is_array() || j["messages"].empty())
    return bad("messages", "'messages' must be a non-empty list of {\"role\", \"content\"}");
  const json &messages = j["messages"];
  if (messages.size() > limits.max_messages)
    return bad("messages", "'messages' holds " + std::to_string(messages.size()) + " messages; at most " +
                               std::to_string(limits.max_messages) + " are accepted (--max-messages)");
  for (size_t i = 0; i < messages.size(); ++i) {
    Message msg;
    if (auto e = read_message(messages[i], "messages[" + std::to_string(i) + "]", limits, msg)) return e;
    out.messages.push_back(std::move(msg));
  }
  return std::nullopt;
}

std::optional<ApiError> read_prompt(const json &j, ApiRequest &out) {
  if (!j.contains("prompt")) return bad("prompt", "'prompt' is required");
  const json &p = j["prompt"];
  if (p.is_string()) {
    out.prompt = p.get<std::string>();
  } else if (p.is_array() && p.size() == 1 && p[0].is_string()) {
    out.prompt = p[0].get<std::string>();
  } else {
    return bad("prompt", "'prompt' must be a string (a list of several prompts is not supported; send them separately)");
  }
  if (out.prompt.empty()) return bad("prompt", "'prompt' is empty");
  return std::nullopt;
}

std::optional<ApiError> read_logit_bias(const json &j, ApiRequest &out) {
  if (!j.contains("logit_bias") || j["logit_bias"].is_null()) return std::nullopt;
  const json &lb = j["logit_bias"];
  if (!lb.is_object()) return bad("logit_bias", "'logit_bias' must map token ids (as strings) to a bias in -100..100");
  for (const auto &[key, value] : lb.items()) {
    size_t used = 0;
    long long id = -1;
    try {
      id = std::stoll(key, &used);
    } catch (const std::exception &) {
    }
    if (used != key.size() || id < 0 || id > INT32_MAX)
      return bad("logit_bias", "'logit_bias' keys must be token ids, e.g. {\"50256\": -100} (got '" + key + "')");
    if (!value.is_number() || !std::isfinite(value.get<double>()) || value.get<double>() < -100 ||
        value.get<double>() > 100)
      return bad("logit_bias", "'logit_bias' values must be numbers between -100 and 100");
    out.params.constraints.logit_bias.emplace_back(static_cast<int32_t>(id), value.get<float>());
  }
  return std::nullopt;
}

// max_tokens (or max_completion_tokens), temperature, top_p, seed, n, best_of, the penalties and logit_bias.
std::optional<ApiError> read_sampling(const json &j, const RequestLimits &limits, ApiRequest &out) {
  std::optional<int64_t> max_tokens, seed, n, best_of;
  std::optional<double> temperature, top_p, presence, frequency;
  const char *max_key = j.contains("max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
  if (auto e = read_int(j, max_key, 1, limits.max_tokens_cap, max_tokens)) return e;
  if (auto e = read_number(j, "temperature", 0.0, 2.0, temperature)) return e;
  if (auto e = read_number(j, "top_p", 1e-9, 1.0, top_p)) return e;
  if (auto e = read_int(j, "seed", INT64_MIN, INT64_MAX, seed)) return e;
  if (j.contains("n") && j["n"].is_number_integer() && j["n"].get<int64_t>() > 1)
    return bad("n", "'n' > 1 is not supported: one choice per request; send n requests (with different seeds)");
  if (auto e = read_int(j, "n", 1, 1, n)) return e;
  if (auto e = read_int(j, "best_of", 1, 1, best_of)) return e;
  if (auto e = read_number(j, "presence_penalty", -2.0, 2.0, presence)) return e;
  if (auto e = read_number(j, "frequency_penalty", -2.0, 2.0, frequency)) return e;
  out.params.constraints.presence_penalty = static_cast<float>(presence.value_or(0.0));
  out.params.constraints.frequency_penalty = static_cast<float>(frequency.value_or(0.0));
  out.params.max_tokens = static_cast<int32_t>(std::min<int64_t>(max_tokens.value_or(limits.default_max_tokens),
                                                                 limits.max_tokens_cap));
  // OpenAI's default temperature is 1; we default to greedy only when the client says 0.
  out.params.sampling.temperature = static_cast<float>(temperature.value_or(1.0));
  out.params.sampling.top_p = static_cast<float>(top_p.value_or(1.0));
  out.params.sampling.top_k = 0;
  out.params.sampling.seed = static_cast<uint32_t>(seed.value_or(0));
  return read_logit_bias(j, out);
}

// logprobs: a boolean (chat, with top_logprobs alternatives) or the number of alternatives (completions, which may
// also echo the prompt).
std::optional<ApiError> read_logprobs(const json &j, bool chat, ApiRequest &out) {
  if (chat) {
    std::optional<int64_t> top;
    if (auto e = read_int(j, "top_logprobs", 0, 20, top)) return e;
    bool want = false;
    if (auto e = read_bool(j, "logprobs", "logprobs", want)) return e;
    if (top && !want) return bad("top_logprobs", "'top_logprobs' needs 'logprobs': true");
    if (want) out.params.logprobs = static_cast<int32_t>(top.value_or(0));
    return std::nullopt;
  }
  std::optional<int64_t> alternatives;
  if (auto e = read_int(j, "logprobs", 0, 20, alternatives)) return e;
  if (alternatives) out.params.logprobs = static_cast<int32_t>(*alternatives);
  if (auto e = read_bool(j, "echo", "echo", out.echo)) return e;
  if (out.echo && alternatives)
    return bad("echo", "'echo' with 'logprobs' (log-probabilities of the prompt's tokens) is not supported; "
                       "send one or the other");
  return std::nullopt;
}

std::optional<ApiError> read_response_format(const json &j, const RequestLimits &limits, ApiRequest &out) {
  if (!j.contains("response_format") || j["response_format"].is_null()) return std::nullopt;
  const json &rf = j["response_format"];
  const std::string type = rf.is_object() && rf.contains("type") && rf["type"].is_string() ? rf["type"].get<std::string>() : "";
  if (type != "text" && type != "json_object" && type != "json_schema")
    return bad("response_format", "'response_format' must be {\"type\": \"text\"}, {\"type\": \"json_object\"} or "
                                  "{\"type\": \"json_schema\", \"json_schema\": {\"name\": ..., \"schema\": {...}}}");
  out.response_format.type = type == "text"          ? ResponseFormat::Type::text
                             : type == "json_object" ? ResponseFormat::Type::json_object
                                                     : ResponseFormat::Type::json_schema;
  if (type != "json_schema") return std::nullopt;
  const json *js = rf.contains("json_schema") ? &rf["json_schema"] : nullptr;
  if (js == nullptr || !js->is_object() || !js->contains("name") || !(*js)["name"].is_string())
    return bad("response_format.json_schema", "'response_format.json_schema' needs a 'name' and a 'schema'");
  if (js->contains("schema") && !(*js)["schema"].is_object() && !(*js)["schema"].is_boolean())
    return bad("response_format.json_schema.schema", "'response_format.json_schema.schema' must be a JSON Schema object");
  const json schema = js->value("schema", json::object());
  out.response_format.schema = schema.dump();
  out.response_format.name = (*js)["name"].get<std::string>();
  return check_schema(schema, out.response_format.schema.size(), "response_format.json_schema.schema", limits,
                      &out.schema_patterns);
}

// Tools, and what cannot be combined with them.
std::optional<ApiError> read_tool_fields(const json &j, const RequestLimits &limits, ApiRequest &out) {
  if (auto e = read_tools(j, limits, out)) return e;
  if (!out.tools.empty() && !out.response_format.text())
    return bad("response_format", "'response_format' together with 'tools' is not supported: the tool-call grammar "
                                  "and the output schema would both constrain the answer; send one of them");
  if (!out.tools.empty() && out.params.logprobs >= 0)
    return bad("logprobs", "'logprobs' together with 'tools' is not supported (the log-probabilities would be of the "
                           "raw tool-call text, not of the message); send one of them");
  return std::nullopt;
}

// Fields that change nothing in the answer, checked for their shape (and, where OpenAI offers more than text
// generation, for asking only what A-IO does).
std::optional<ApiError> check_passive_fields(const json &j, bool chat) {
  for (const char *key : {"user", "safety_identifier", "prompt_cache_key"})
    if (j.contains(key) && !j[key].is_null() && !j[key].is_string())
      return bad(key, std::string("'") + key + "' must be a string");
  if (j.contains("metadata") && !j["metadata"].is_null()) {
    const json &md = j["metadata"];
    if (!md.is_object() || md.size() > 16 ||
        std::any_of(md.begin(), md.end(), [](const json &v) { return !v.is_string(); }))
      return bad("metadata", "'metadata' must be an object of up to 16 string values");
  }
  if (!chat) return std::nullopt;
  if (j.contains("modalities") && !j["modalities"].is_null() && j["modalities"] != json::array({"text"}))
    return bad("modalities", "'modalities' must be [\"text\"]: A-IO serves text models");
  if (j.contains("store") && !j["store"].is_null() && j["store"] != false)
    return bad("store", "'store': true (keeping outputs for OpenAI's evals and distillation) is not supported");
  if (j.contains("service_tier") && !j["service_tier"].is_null() && j["service_tier"] != "auto" &&
      j["service_tier"] != "default")
    return bad("service_tier", "'service_tier' must be \"auto\" or \"default\": A-IO has one tier");
  return std::nullopt;
}

std::optional<ApiError> read_stop(const json &j, const RequestLimits &limits, ApiRequest &out) {
  if (!j.contains("stop") || j["stop"].is_null()) return std::nullopt;
  const json &s = j["stop"];
  const auto too_long = [&](const json &v) { return v.is_string() && v.get_ref<const std::string &>().size() > limits.max_stop_bytes; };
  if (too_long(s) || (s.is_array() && std::any_of(s.begin(), s.end(), too_long)))
    return bad("stop", "a 'stop' string is longer than " + std::to_string(limits.max_stop_bytes) +
                           " bytes (--max-stop-bytes)");
  const auto shape = [] { return bad("stop", "'stop' must be a string or a list of up to 4 strings"); };
  if (s.is_string()) {
    out.params.stop.push_back(s.get<std::string>());
    return std::nullopt;
  }
  if (!s.is_array() || s.size() > 4) return shape();
  for (const json &x : s) {
    if (!x.is_string()) return shape();
    out.params.stop.push_back(x.get<std::string>());
  }
  return std::nullopt;
}

// stream, stream_options, and ignore_eos (an extension shared with llama-server, for benchmarks: keep generating past
// end-of-generation tokens).
std::optional<ApiError> read_streaming(const json &j, ApiRequest &out) {
  if (auto e = read_bool(j, "stream", "stream", out.stream)) return e;
  if (auto e = read_bool(j, "ignore_eos", "ignore_eos", out.params.ignore_eos)) return e;
  if (!j.contains("stream_options") || j["stream_options"].is_null()) return std::nullopt;
  const json &so = j["stream_options"];
  if (!so.is_object()) return bad("stream_options", "'stream_options' must be an object, e.g. {\"include_usage\": true}");
  for (const auto &[key, value] : so.items()) {
    if (key != "include_usage")
      return bad("stream_options." + key, "'stream_options." + key + "' is not supported (known: include_usage)");
    if (!value.is_boolean()) return bad("stream_options.include_usage", "'stream_options.include_usage' must be true or false");
    out.include_usage = value;
  }
  if (!out.stream) return bad("stream_options", "'stream_options' is only allowed with 'stream': true");
  return std::nullopt;
}

// A-IO's own extension: {"aio": {"label": "code", "policy": "..."}} - the request's true category (a shadow label)
// and the policy that routes it.
std::optional<ApiError> read_aio(const json &j, ApiRequest &out) {
  if (!j.contains("aio") || j["aio"].is_null()) return std::nullopt;
  const json &a = j["aio"];
  if (!a.is_object()) return bad("aio", "'aio' must be an object, e.g. {\"label\": \"code\"}");
  for (const auto &[key, value] : a.items()) {
    if (key == "label") {
      if (!value.is_string() || value.get<std::string>().empty())
        return bad("aio.label", "'aio.label' must be a category name, e.g. \"code\"");
      out.label = value.get<std::string>();
    } else if (key == "policy") {
      if (!value.is_string() || value.get<std::string>().empty())
        return bad("aio.policy", "'aio.policy' must be the name of a policy, e.g. \"static-large-pld\"");
      out.policy = value.get<std::string>();
    } else {
      return bad("aio." + key, "'aio." + key + "' is not an A-IO option (known: label, policy)");
    }
  }
  if (!out.policy.empty() && out.model != "aio")
    return bad("aio.policy", "'aio.policy' routes a request: use it with \"model\": \"aio\" (a named model is "
                             "served as it is, with no policy)");
  return std::nullopt;
}

} // namespace

std::optional<ApiError> parse_request(const std::string &body, Endpoint endpoint, const RequestLimits &limits,
                                      ApiRequest &out) {
  json j;
  if (auto e = read_body(body, limits, j)) return e;
  out = ApiRequest{};
  out.endpoint = endpoint;
  const bool chat = endpoint == Endpoint::chat_completions;
  if (auto e = check_fields(j, chat)) return e;
  if (!j.contains("model") || !j["model"].is_string() || j["model"].get<std::string>().empty())
    return bad("model", "'model' is required: \"aio\" routes the request, a model name pins it");
  out.model = j["model"];
  // In the order a client reads the API reference: what is asked, how to sample, what shape the answer takes, how it
  // is delivered. The first field that is wrong is the one reported.
  if (auto e = chat ? read_messages(j, limits, out) : read_prompt(j, out)) return e;
  if (auto e = read_sampling(j, limits, out)) return e;
  if (auto e = read_logprobs(j, chat, out)) return e;
  if (chat) {
    if (auto e = read_response_format(j, limits, out)) return e;
    if (auto e = read_tool_fields(j, limits, out)) return e;
  }
  if (auto e = check_passive_fields(j, chat)) return e;
  if (auto e = read_stop(j, limits, out)) return e;
  if (auto e = read_streaming(j, out)) return e;
  return read_aio(j, out);
}

ApiError error_from_status(const Status &s) {
  int code = 500;
  switch (s.code()) {
  case StatusCode::context_overflow:
  case StatusCode::invalid_argument: code = 400; break;
  case StatusCode::not_found: code = 404; break;
  case StatusCode::resource_exhausted: code = 429; break;
  case StatusCode::aborted: code = 503; break;
  case StatusCode::unavailable: code = 502; break;
  case StatusCode::deadline_exceeded: code = 504; break;
  default: break;
  }
  const char *type = code == 400 || code == 404 ? "invalid_request_error" : code == 429 ? "rate_limit_error"
                                                                                      : "server_error";
  return {code, s.message(), type, code == 404 ? "model" : "", s.retry_after_seconds()};
}

const char *openai_finish_reason(FinishReason r, bool has_tool_calls) {
  switch (r) {
  case FinishReason::stop_string:
  case FinishReason::end_of_generation: return has_tool_calls ? "tool_calls" : "stop";
  default: return "length";
  }
}

Request request_of(const ApiRequest &api, uint64_t id) {
  Request req;
  if (api.endpoint == Endpoint::chat_completions) {
    req.messages = api.messages;
    req.tools = api.tools;
    req.tool_choice = api.tool_choice;
    req.parallel_tool_calls = api.parallel_tool_calls;
    req.response_format = api.response_format;
  } else {
    req.prompt = api.prompt;
  }
  if (api.model != "aio") req.pinned_model = api.model;
  req.policy = api.policy;
  if (api.label) {
    req.true_label = api.label; // a shadow label: the oracle policy routes on it; the probe runs and is counted
    req.shadow_probe = true;
  }
  req.id = id;
  return req;
}

json tool_calls_json(const std::vector<ToolCall> &calls) {
  json out = json::array();
  for (const ToolCall &c : calls)
    out.push_back({{"id", c.id}, {"type", "function"}, {"function", {{"name", c.name}, {"arguments", c.arguments}}}});
  return out;
}

json Usage::to_json() const {
  return {{"prompt_tokens", prompt_tokens}, {"completion_tokens", completion_tokens},
          {"total_tokens", prompt_tokens + completion_tokens},
          {"prompt_tokens_details", {{"cached_tokens", cached_tokens}}}};
}

namespace {
json bytes_of(const std::string &piece) {
  json b = json::array();
  for (unsigned char c : piece) b.push_back(static_cast<int>(c));
  return b;
}
} // namespace

json logprobs_json(const ApiRequest &req, std::span<const engine::TokenLogprob> logprobs, size_t text_offset) {
  if (req.endpoint == Endpoint::chat_completions) {
    json content = json::array();
    for (const auto &lp : logprobs) {
      json top = json::array();
      for (const auto &alt : lp.top)
        top.push_back({{"token", alt.piece}, {"logprob", alt.logprob}, {"bytes", bytes_of(alt.piece)}});
      content.push_back({{"token", lp.piece}, {"logprob", lp.logprob}, {"bytes", bytes_of(lp.piece)}, {"top_logprobs", top}});
    }
    return {{"content", content}, {"refusal", nullptr}};
  }
  json tokens = json::array(), token_logprobs = json::array(), top_logprobs = json::array(), offsets = json::array();
  size_t offset = text_offset;
  for (const auto &lp : logprobs) {
    tokens.push_back(lp.piece);
    token_logprobs.push_back(lp.logprob);
    json top = json::object();
    for (const auto &alt : lp.top) top[alt.piece] = alt.logprob;
    top_logprobs.push_back(top);
    offsets.push_back(offset);
    offset += lp.piece.size();
  }
  return {{"tokens", tokens}, {"token_logprobs", token_logprobs}, {"top_logprobs", top_logprobs}, {"text_offset", offsets}};
}

json completion_response(const ApiRequest &req, const std::string &id, int64_t created, const std::string &model,
                         const std::string &text, FinishReason finish, const Usage &usage, const json &aio,
                         std::span<const engine::TokenLogprob> logprobs, const chat::ParsedOutput *parsed) {
  const bool chat = req.endpoint == Endpoint::chat_completions;
  const size_t offset = req.echo ? req.prompt.size() : 0;
  const bool calls = parsed != nullptr && !parsed->tool_calls.empty();
  json choice = {{"index", 0}, {"finish_reason", openai_finish_reason(finish, calls)},
                 {"logprobs", req.params.logprobs >= 0 ? logprobs_json(req, logprobs, offset) : json(nullptr)}};
  if (chat && parsed != nullptr) {
    choice["message"] = {{"role", "assistant"},
                         {"content", parsed->content.empty() && calls ? json(nullptr) : json(parsed->content)},
                         {"refusal", nullptr}};
    if (calls) choice["message"]["tool_calls"] = tool_calls_json(parsed->tool_calls);
  } else if (chat) {
    choice["message"] = {{"role", "assistant"}, {"content", text}, {"refusal", nullptr}};
  }
  else choice["text"] = req.echo ? req.prompt + text : text;
  return {{"id", id},
          {"object", chat ? "chat.completion" : "text_completion"},
          {"created", created},
          {"model", model},
          {"choices", json::array({choice})},
          {"usage", usage.to_json()},
          {"aio", aio}};
}

json stream_chunk(const ApiRequest &req, const std::string &id, int64_t created, const std::string &model,
                  const std::string &delta, std::optional<FinishReason> finish,
                  std::span<const engine::TokenLogprob> logprobs, size_t text_offset) {
  const bool chat = req.endpoint == Endpoint::chat_completions;
  json choice = {{"index", 0}, {"finish_reason", finish ? json(openai_finish_reason(*finish)) : json(nullptr)}};
  if (chat) choice["delta"] = finish ? json::object() : json{{"content", delta}};
  else choice["text"] = finish ? "" : delta;
  choice["logprobs"] = req.params.logprobs >= 0 && !finish ? logprobs_json(req, logprobs, text_offset) : json(nullptr);
  return {{"id", id},
          {"object", chat ? "chat.completion.chunk" : "text_completion"},
          {"created", created},
          {"model", model},
          {"choices", json::array({choice})}};
}

} // namespace aio::openai

namespace aio::openai {

namespace {
json chat_chunk(const std::string &id, int64_t created, const std::string &model, json delta, json finish_reason) {
  json choice = {{"index", 0}, {"delta", std::move(delta)}, {"logprobs", nullptr}, {"finish_reason", std::move(finish_reason)}};
  return {{"id", id}, {"object", "chat.completion.chunk"}, {"created", created}, {"model", model},
          {"choices", json::array({choice})}};
}
} // namespace

json tool_delta_chunk(const std::string &id, int64_t created, const std::string &model, const chat::OutputDelta &d) {
  if (d.tool_index < 0) return chat_chunk(id, created, model, {{"content", d.content}}, nullptr);
  json call = {{"index", d.tool_index}, {"function", {{"arguments", d.arguments}}}};
  // The call's first delta names it; later ones only add arguments (as the API streams them).
  if (!d.tool_id.empty()) call["id"] = d.tool_id;
  if (!d.tool_name.empty()) {
    call["type"] = "function";
    call["function"]["name"] = d.tool_name;
  }
  return chat_chunk(id, created, model, {{"tool_calls", json::array({call})}}, nullptr);
}

json finish_chunk(const std::string &id, int64_t created, const std::string &model, const char *finish_reason) {
  return chat_chunk(id, created, model, json::object(), finish_reason);
}

json role_chunk(const std::string &id, int64_t created, const std::string &model) {
  return chat_chunk(id, created, model, {{"role", "assistant"}, {"content", ""}}, nullptr);
}

json usage_chunk(const ApiRequest &req, const std::string &id, int64_t created, const std::string &model,
                 const Usage &usage) {
  const bool chat = req.endpoint == Endpoint::chat_completions;
  return {{"id", id}, {"object", chat ? "chat.completion.chunk" : "text_completion"}, {"created", created},
          {"model", model}, {"choices", json::array()}, {"usage", usage.to_json()}};
}

} // namespace aio::openai
