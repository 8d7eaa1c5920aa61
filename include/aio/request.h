// One request as every entry point hands it to A-IO (HTTP, the CLI, the benchmark runner): the conversation or the
// prompt, and what the caller pins or knows about it. A plain struct, read by the probe, the policy and the record.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace aio {

// A function call the assistant made (OpenAI's tool_calls entry).
struct ToolCall {
  std::string id;        // names the call; the tool's result message quotes it
  std::string name;      // the function called
  std::string arguments; // its arguments: JSON text (an object)
};

// One turn of a conversation.
struct Message {
  std::string role;                // "system", "user", "assistant" or "tool"
  std::string content;
  std::vector<ToolCall> tool_calls; // assistant turns that called tools
  std::string tool_call_id;         // tool turns: the call this is the result of
  std::string name;                 // tool turns: the function's name, when the client gave it

  static Message user(std::string text) {
    Message m;
    m.role = "user";
    m.content = std::move(text);
    return m;
  }
};

// A function the model may call (OpenAI's tools entry of type "function").
struct Tool {
  std::string name;
  std::string description;
  std::string parameters; // JSON Schema text of its arguments ("" = no arguments)
  bool strict = false;    // the caller asked for arguments that follow the schema exactly (passed on to upstreams)
};

// Whether and which tool the model must call (OpenAI's tool_choice).
struct ToolChoice {
  enum class Mode { automatic, none, required, function };
  Mode mode = Mode::automatic; // the model decides
  std::string function;        // Mode::function: the one it must call
};

// The shape the answer must take (OpenAI's response_format): free text, any JSON object, or JSON under a schema. A
// local model enforces it with a grammar (GenerateParams' constraints); a remote server is sent it as it is.
struct ResponseFormat {
  enum class Type { text, json_object, json_schema };
  Type type = Type::text;
  std::string schema;             // json_schema: the JSON Schema, as JSON text
  std::string name = "response";  // json_schema: the schema's name

  bool text() const { return type == Type::text; }
};

struct Request {
  std::vector<Message> messages;          // a chat: each model formats it with its own chat template
  std::string prompt;                     // a plain completion prompt (used when messages is empty)
  std::string policy;                     // "" = the config's serving policy
  std::string pinned_model;               // a configured model's name: served there, plain decoding, no probe
  // The request's true category when the caller knows it: the oracle policy routes on it, and with shadow_probe the
  // configured probe still runs and its verdict is recorded beside the label (trialling a probe on live traffic).
  std::optional<std::string> true_label;
  bool shadow_probe = false;              // run the probe even when the policy does not read it
  uint64_t id = 0;                        // seeds per-request random choices (the random baseline)
  std::vector<Tool> tools;                // functions the model may call (chat only)
  ToolChoice tool_choice;
  bool parallel_tool_calls = true;        // several calls in one answer allowed (the API's default)
  ResponseFormat response_format;

  bool chat() const { return !messages.empty(); }
  bool has_tools() const { return !tools.empty(); }
  // What the fastText probe classifies: the last user turn of a chat (the request being made now; earlier turns and
  // the system prompt are context), else the prompt. The lm probe reads the whole conversation as the model would.
  const std::string &probe_text() const {
    for (auto it = messages.rbegin(); it != messages.rend(); ++it)
      if (it->role == "user") return it->content;
    return messages.empty() ? prompt : messages.back().content;
  }
  // True when there is no text at all to answer.
  bool empty() const {
    if (!chat()) return prompt.empty();
    for (const auto &m : messages)
      if (!m.content.empty() || !m.tool_calls.empty()) return false;
    return true;
  }
};

} // namespace aio
