// OutputParser: one answer's text read back into content and tool calls by the parser llama.cpp generated for the
// answering model's chat template (chat::OutputFormat), as the text grows: each update returns what changed since
// the last one, so a stream sends content and tool-call deltas the way the OpenAI API does.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "aio/request.h"
#include "aio/status.h"
#include "chat/chat_template.h"

namespace aio::chat {

// One change of the answer: content text added, or a tool call started (index, id, name) or its arguments grown.
struct OutputDelta {
  std::string content;
  int32_t tool_index = -1;   // >= 0: this delta belongs to tool call `tool_index`
  std::string tool_id;       // set on the call's first delta
  std::string tool_name;     // set on the call's first delta
  std::string arguments;     // arguments text added
};

struct ParsedOutput {
  std::string content;
  std::vector<ToolCall> tool_calls;
};

class OutputParser {
public:
  explicit OutputParser(OutputFormat format);
  ~OutputParser();

  // Takes more of the answer's text. `final` = the answer is complete (the last call); a complete answer that breaks
  // the format is read as far as it goes, like a partial one.
  Expected<std::vector<OutputDelta>> update(const std::string &more_text, bool final);
  // The answer as parsed so far.
  const ParsedOutput &parsed() const { return parsed_; }

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  ParsedOutput parsed_;
};

} // namespace aio::chat
