#include "openai/upstream.h"

#include "util/json_limits.h"

#include <climits>

namespace aio::openai {
using nlohmann::json;

namespace {
// A JSON text of the request (a schema) as JSON; one that is not valid JSON goes up as a string, for the upstream to
// refuse (every reader of requests validates them first).
json json_of(const std::string &text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  return j.is_discarded() ? json(text) : j;
}

// A tool as the API defines it, from its parsed form.
json tool_json(const Tool &t) {
  json f = {{"name", t.name}};
  if (!t.description.empty()) f["description"] = t.description;
  if (!t.parameters.empty()) f["parameters"] = json_of(t.parameters);
  if (t.strict) f["strict"] = true;
  return {{"type", "function"}, {"function", std::move(f)}};
}

// tools, tool_choice and parallel_tool_calls of a chat request as the API defines them.
void add_tools(const Request &req, json &body) {
  if (!req.has_tools()) return;
  json tools = json::array();
  for (const Tool &t : req.tools)
    // A named function goes up as "required" over that one tool: the same demand, in the form every
    // OpenAI-compatible server takes (llama-server reads tool_choice as a string only).
    if (req.tool_choice.mode != ToolChoice::Mode::function || t.name == req.tool_choice.function)
      tools.push_back(tool_json(t));
  body["tools"] = std::move(tools);
  switch (req.tool_choice.mode) {
  case ToolChoice::Mode::automatic: break; // the API's default
  case ToolChoice::Mode::none: body["tool_choice"] = "none"; break;
  case ToolChoice::Mode::required:
  case ToolChoice::Mode::function: body["tool_choice"] = "required"; break;
  }
  if (!req.parallel_tool_calls) body["parallel_tool_calls"] = false;
}

json messages_json(const std::vector<Message> &messages) {
  json out = json::array();
  for (const auto &m : messages) {
    json msg = {{"role", m.role}, {"content", m.content}};
    if (!m.tool_calls.empty()) {
      msg["tool_calls"] = tool_calls_json(m.tool_calls);
      if (m.content.empty()) msg["content"] = nullptr;
    }
    if (!m.tool_call_id.empty()) msg["tool_call_id"] = m.tool_call_id;
    if (!m.name.empty()) msg["name"] = m.name;
    out.push_back(std::move(msg));
  }
  return out;
}
} // namespace

json upstream_body(const Request &req, const GenerateParams &p, const std::string &model) {
  json body = {{"model", model},
               {"max_tokens", p.max_tokens},
               {"temperature", p.sampling.temperature},
               {"top_p", p.sampling.top_p},
               {"seed", p.sampling.seed},
               {"stream", true},
               {"stream_options", {{"include_usage", true}}}};
  if (req.chat()) {
    body["messages"] = messages_json(req.messages);
    // Tools go up in the API's form: the upstream formats them with its own template and parses its own output
    // (A-IO relays the calls it reports).
    add_tools(req, body);
  } else {
    body["prompt"] = req.prompt;
  }
  if (!p.stop.empty()) body["stop"] = p.stop;
  if (p.ignore_eos) body["ignore_eos"] = true;
  // What constrains tokens goes upstream as the request said it (the upstream decodes).
  const TokenConstraints &c = p.constraints;
  if (c.presence_penalty != 0.0f) body["presence_penalty"] = c.presence_penalty;
  if (c.frequency_penalty != 0.0f) body["frequency_penalty"] = c.frequency_penalty;
  if (!c.logit_bias.empty()) {
    json bias = json::object();
    for (const auto &[token, b] : c.logit_bias) bias[std::to_string(token)] = b;
    body["logit_bias"] = bias;
  }
  if (p.logprobs >= 0) { // relayed back to the client (SseReader reads them from each event)
    if (req.chat()) {
      body["logprobs"] = true;
      body["top_logprobs"] = p.logprobs;
    } else {
      body["logprobs"] = p.logprobs;
    }
  }
  const ResponseFormat &rf = req.response_format;
  if (rf.type == ResponseFormat::Type::json_object) body["response_format"] = {{"type", "json_object"}};
  if (rf.type == ResponseFormat::Type::json_schema)
    body["response_format"] = {
        {"type", "json_schema"},
        {"json_schema", {{"name", rf.name}, {"strict", true}, {"schema", json_of(rf.schema)}}}};
  return body;
}

namespace {

// A token's text as the upstream gave it: its bytes when it sent them (exact for partial UTF-8), else the string.
std::string token_text(const json &entry) {
  if (entry.contains("bytes") && entry["bytes"].is_array()) {
    std::string s;
    for (const json &b : entry["bytes"])
      if (b.is_number_integer() && b.get<int64_t>() >= 0 && b.get<int64_t>() < 256) s.push_back(static_cast<char>(b.get<int>()));
    return s;
  }
  return entry.contains("token") && entry["token"].is_string() ? entry["token"].get<std::string>() : std::string();
}

float number_or(const json &j, float fallback) { return j.is_number() ? j.get<float>() : fallback; }

// choices[0].logprobs in either shape: chat {"content": [...]}, completions {"tokens", "token_logprobs", ...}.
std::vector<engine::TokenLogprob> parse_logprobs(const json &lp) {
  std::vector<engine::TokenLogprob> out;
  if (!lp.is_object()) return out;
  if (lp.contains("content") && lp["content"].is_array()) {
    for (const json &e : lp["content"]) {
      if (!e.is_object()) continue;
      engine::TokenLogprob t;
      t.piece = token_text(e);
      t.logprob = number_or(e.value("logprob", json()), 0.0f);
      if (e.contains("top_logprobs") && e["top_logprobs"].is_array())
        for (const json &a : e["top_logprobs"])
          if (a.is_object()) t.top.push_back({-1, token_text(a), number_or(a.value("logprob", json()), 0.0f)});
      out.push_back(std::move(t));
    }
  } else if (lp.contains("tokens") && lp["tokens"].is_array()) {
    const json &tokens = lp["tokens"];
    const json lps = lp.value("token_logprobs", json::array()), tops = lp.value("top_logprobs", json::array());
    for (size_t i = 0; i < tokens.size(); ++i) {
      engine::TokenLogprob t;
      t.piece = tokens[i].is_string() ? tokens[i].get<std::string>() : std::string();
      t.logprob = lps.is_array() && i < lps.size() ? number_or(lps[i], 0.0f) : 0.0f;
      if (tops.is_array() && i < tops.size() && tops[i].is_object())
        for (const auto &[piece, v] : tops[i].items()) t.top.push_back({-1, piece, number_or(v, 0.0f)});
      out.push_back(std::move(t));
    }
  }
  return out;
}

// delta.tool_calls: [{index, id?, type?, function: {name?, arguments?}}], kept in the order sent. Entries of another
// shape are skipped (never thrown on); an index out of range is read as the first call.
std::vector<chat::OutputDelta> parse_tool_call_deltas(const json &calls) {
  std::vector<chat::OutputDelta> out;
  if (!calls.is_array()) return out;
  for (const json &c : calls) {
    if (!c.is_object()) continue;
    chat::OutputDelta d;
    const json index = c.value("index", json(0));
    d.tool_index = index.is_number_integer() && index.get<int64_t>() >= 0 && index.get<int64_t>() < 1024
                       ? static_cast<int32_t>(index.get<int64_t>()) : 0;
    if (c.contains("id") && c["id"].is_string()) d.tool_id = c["id"];
    if (c.contains("function") && c["function"].is_object()) {
      const json &f = c["function"];
      if (f.contains("name") && f["name"].is_string()) d.tool_name = f["name"];
      if (f.contains("arguments") && f["arguments"].is_string()) d.arguments = f["arguments"];
    }
    out.push_back(std::move(d));
  }
  return out;
}

UpstreamEvent parse_event(std::string_view data) {
  UpstreamEvent ev;
  if (data == "[DONE]") {
    ev.done = true;
    return ev;
  }
  // An upstream is not trusted more than a client: its events are bounded in depth like a request body.
  if (json_nesting_depth(data, kDefaultMaxJsonDepth) > kDefaultMaxJsonDepth) {
    ev.error = "the upstream sent an event nested deeper than " + std::to_string(kDefaultMaxJsonDepth) + " levels";
    return ev;
  }
  json j = json::parse(data, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    ev.error = "the upstream sent an event that is not JSON: " + std::string(data.substr(0, 200));
    return ev;
  }
  if (j.contains("error")) {
    ev.error = upstream_error_message(j.dump());
    return ev;
  }
  if (j.contains("choices") && j["choices"].is_array() && !j["choices"].empty()) {
    const json &c = j["choices"][0];
    if (c.contains("delta") && c["delta"].is_object() && c["delta"].contains("content") &&
        c["delta"]["content"].is_string())
      ev.text = c["delta"]["content"].get<std::string>();
    else if (c.contains("text") && c["text"].is_string())
      ev.text = c["text"].get<std::string>();
    if (c.contains("finish_reason") && c["finish_reason"].is_string()) ev.finish_reason = c["finish_reason"];
    if (c.contains("logprobs")) ev.logprobs = parse_logprobs(c["logprobs"]);
    if (c.contains("delta") && c["delta"].is_object() && c["delta"].contains("tool_calls"))
      ev.tool_calls = parse_tool_call_deltas(c["delta"]["tool_calls"]);
  }
  if (j.contains("usage") && j["usage"].is_object()) {
    // Counts of another type (a string, a float, a number beyond int) are read as absent, never thrown on.
    auto count = [&](const char *key) -> int32_t {
      const json &u = j["usage"];
      if (!u.contains(key) || !u[key].is_number_integer()) return 0;
      const int64_t v = u[key].get<int64_t>();
      return v < 0 || v > INT32_MAX ? 0 : static_cast<int32_t>(v);
    };
    Usage u;
    u.prompt_tokens = count("prompt_tokens");
    u.completion_tokens = count("completion_tokens");
    const json &u_json = j["usage"];
    if (u_json.contains("prompt_tokens_details") && u_json["prompt_tokens_details"].is_object()) {
      const json &d = u_json["prompt_tokens_details"];
      if (d.contains("cached_tokens") && d["cached_tokens"].is_number_integer()) {
        const int64_t v = d["cached_tokens"].get<int64_t>();
        u.cached_tokens = v < 0 || v > INT32_MAX ? 0 : static_cast<int32_t>(v);
      }
    }
    ev.usage = u;
  }
  return ev;
}

} // namespace

bool SseReader::feed(std::string_view bytes, const std::function<bool(const UpstreamEvent &)> &on_event) {
  pending_.append(bytes);
  // A line is held until its newline comes: an upstream that never sends one must not grow it without end.
  const auto line_too_long = [&] {
    UpstreamEvent ev;
    ev.error = "the upstream sent a stream line longer than " + std::to_string(max_line_bytes_) +
               " bytes without ending it (--max-upstream-line)";
    pending_.clear();
    on_event(ev);
    return false;
  };
  if (pending_.size() > max_line_bytes_ && pending_.find('\n') == std::string::npos) return line_too_long();
  size_t start = 0;
  for (size_t nl; (nl = pending_.find('\n', start)) != std::string::npos; start = nl + 1) {
    std::string_view line(pending_.data() + start, nl - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.rfind("data:", 0) != 0) continue; // blank separators, comments, `event:` lines
    std::string_view data = line.substr(5);
    if (!data.empty() && data.front() == ' ') data.remove_prefix(1);
    if (!on_event(parse_event(data))) {
      pending_.clear();
      return false;
    }
  }
  pending_.erase(0, start);
  if (pending_.size() > max_line_bytes_) return line_too_long(); // whole lines came, but the rest is too long already
  return true;
}

std::string upstream_error_message(const std::string &body) {
  if (json_nesting_depth(body, kDefaultMaxJsonDepth) > kDefaultMaxJsonDepth) return body.substr(0, 300);
  json j = json::parse(body, nullptr, false);
  if (j.is_object() && j.contains("error")) {
    const json &e = j["error"];
    if (e.is_object() && e.contains("message") && e["message"].is_string()) return e["message"];
    if (e.is_string()) return e;
  }
  return body.substr(0, 300);
}

} // namespace aio::openai
