#include "serve/openai_json.h"

#include <cmath>

namespace aio::serve {
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
    if (!part.is_object() || part.value("type", "") != "text" || !part.contains("text") || !part["text"].is_string())
      return bad(p, "'" + p + "' must be {\"type\": \"text\", \"text\": \"...\"}; only text content is supported");
    out += part["text"].get<std::string>();
  }
  return std::nullopt;
}

} // namespace

json ApiError::to_json() const {
  return {{"error", {{"message", message}, {"type", type}, {"param", param.empty() ? json(nullptr) : json(param)},
                     {"code", nullptr}}}};
}

std::optional<ApiError> parse_request(const std::string &body, Endpoint endpoint, const RequestLimits &limits,
                                      ApiRequest &out) {
  json j;
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
  out = ApiRequest{};
  out.endpoint = endpoint;

  if (!j.contains("model") || !j["model"].is_string() || j["model"].get<std::string>().empty())
    return bad("model", "'model' is required: \"aio\" routes the request, a model name pins it");
  out.model = j["model"];

  if (endpoint == Endpoint::chat_completions) {
    if (!j.contains("messages") || !j["messages"].is_array() || j["messages"].empty())
      return bad("messages", "'messages' must be a non-empty list of {\"role\", \"content\"}");
    for (size_t i = 0; i < j["messages"].size(); ++i) {
      const json &m = j["messages"][i];
      const std::string p = "messages[" + std::to_string(i) + "]";
      if (!m.is_object() || !m.contains("role") || !m["role"].is_string())
        return bad(p + ".role", "'" + p + ".role' must be a string");
      const std::string role = m["role"];
      if (role != "system" && role != "user" && role != "assistant" && role != "developer")
        return bad(p + ".role", "'" + p + ".role' must be system, user or assistant (got '" + role + "')");
      engine::ChatMessage msg{role == "developer" ? "system" : role, ""};
      if (!m.contains("content") || m["content"].is_null()) return bad(p + ".content", "'" + p + ".content' is required");
      if (auto e = read_content(m["content"], p + ".content", msg.content)) return e;
      out.messages.push_back(std::move(msg));
    }
  } else {
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
  }

  std::optional<int64_t> max_tokens, seed, n;
  std::optional<double> temperature, top_p;
  const char *max_key = j.contains("max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
  if (auto e = read_int(j, max_key, 1, limits.max_tokens_cap, max_tokens)) return e;
  if (auto e = read_number(j, "temperature", 0.0, 2.0, temperature)) return e;
  if (auto e = read_number(j, "top_p", 1e-9, 1.0, top_p)) return e;
  if (auto e = read_int(j, "seed", INT64_MIN, INT64_MAX, seed)) return e;
  if (auto e = read_int(j, "n", 1, 1, n)) return e; // one choice per request
  out.params.max_tokens = static_cast<int32_t>(max_tokens.value_or(limits.default_max_tokens));
  out.params.max_tokens = std::min(out.params.max_tokens, limits.max_tokens_cap);
  // OpenAI's default temperature is 1; we default to greedy only when the client says 0.
  out.params.sampling.temperature = static_cast<float>(temperature.value_or(1.0));
  out.params.sampling.top_p = static_cast<float>(top_p.value_or(1.0));
  out.params.sampling.top_k = 0;
  out.params.sampling.seed = static_cast<uint32_t>(seed.value_or(0));

  if (j.contains("stop") && !j["stop"].is_null()) {
    const json &s = j["stop"];
    if (s.is_string()) {
      out.params.stop.push_back(s.get<std::string>());
    } else if (s.is_array() && s.size() <= 4) {
      for (size_t i = 0; i < s.size(); ++i) {
        if (!s[i].is_string()) return bad("stop", "'stop' must be a string or a list of up to 4 strings");
        out.params.stop.push_back(s[i].get<std::string>());
      }
    } else {
      return bad("stop", "'stop' must be a string or a list of up to 4 strings");
    }
  }
  if (j.contains("stream") && !j["stream"].is_null()) {
    if (!j["stream"].is_boolean()) return bad("stream", "'stream' must be true or false");
    out.stream = j["stream"];
  }
  // Extension shared with llama-server, for benchmarks: keep generating past end-of-generation tokens.
  if (j.contains("ignore_eos") && !j["ignore_eos"].is_null()) {
    if (!j["ignore_eos"].is_boolean()) return bad("ignore_eos", "'ignore_eos' must be true or false");
    out.params.ignore_eos = j["ignore_eos"];
  }
  if (j.contains("stream_options") && j["stream_options"].is_object())
    out.include_usage = j["stream_options"].value("include_usage", false);
  // A-IO's own extension: {"aio": {"label": "code"}} gives the request's true category (a shadow label).
  if (j.contains("aio") && !j["aio"].is_null()) {
    const json &a = j["aio"];
    if (!a.is_object()) return bad("aio", "'aio' must be an object, e.g. {\"label\": \"code\"}");
    for (const auto &[key, value] : a.items()) {
      if (key != "label") return bad("aio." + key, "'aio." + key + "' is not an A-IO option (known: label)");
      if (!value.is_string() || value.get<std::string>().empty())
        return bad("aio.label", "'aio.label' must be a category name, e.g. \"code\"");
      out.label = value.get<std::string>();
    }
  }
  return std::nullopt;
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
  return {code, s.message(), type, code == 404 ? "model" : ""};
}

const char *openai_finish_reason(engine::FinishReason r) {
  switch (r) {
  case engine::FinishReason::stop_string:
  case engine::FinishReason::end_of_generation: return "stop";
  default: return "length";
  }
}

json Usage::to_json() const {
  return {{"prompt_tokens", prompt_tokens}, {"completion_tokens", completion_tokens},
          {"total_tokens", prompt_tokens + completion_tokens}};
}

json completion_response(const ApiRequest &req, const std::string &id, int64_t created, const std::string &model,
                         const std::string &text, engine::FinishReason finish, const Usage &usage, const json &aio) {
  const bool chat = req.endpoint == Endpoint::chat_completions;
  json choice = {{"index", 0}, {"finish_reason", openai_finish_reason(finish)}, {"logprobs", nullptr}};
  if (chat) choice["message"] = {{"role", "assistant"}, {"content", text}};
  else choice["text"] = text;
  return {{"id", id},
          {"object", chat ? "chat.completion" : "text_completion"},
          {"created", created},
          {"model", model},
          {"choices", json::array({choice})},
          {"usage", usage.to_json()},
          {"aio", aio}};
}

json stream_chunk(const ApiRequest &req, const std::string &id, int64_t created, const std::string &model,
                  const std::string &delta, std::optional<engine::FinishReason> finish) {
  const bool chat = req.endpoint == Endpoint::chat_completions;
  json choice = {{"index", 0}, {"finish_reason", finish ? json(openai_finish_reason(*finish)) : json(nullptr)}};
  if (chat) choice["delta"] = finish ? json::object() : json{{"content", delta}};
  else choice["text"] = finish ? "" : delta;
  return {{"id", id},
          {"object", chat ? "chat.completion.chunk" : "text_completion"},
          {"created", created},
          {"model", model},
          {"choices", json::array({choice})}};
}

} // namespace aio::serve
