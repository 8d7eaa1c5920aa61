// One request as every entry point hands it to A-IO (HTTP, the CLI, the benchmark runner): the conversation or the
// prompt, and what the caller pins or knows about it. A plain struct, read by the probe, the policy and the record.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace aio {

// One turn of a conversation.
struct Message {
  std::string role;    // "system", "user" or "assistant"
  std::string content;
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

  bool chat() const { return !messages.empty(); }
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
      if (!m.content.empty()) return false;
    return true;
  }
};

} // namespace aio
