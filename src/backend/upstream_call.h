// UpstreamCall: one try of one routed request on one remote replica - an OpenAI-compatible server such as llama-server
// or vLLM - over HTTP, streamed: the request body sent, the server-sent events read as they come and relayed to the
// caller, and the outcome classified (whose fault a failure was, and whether any of the answer already went out).
#pragma once

#include <atomic>
#include <chrono>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "openai/upstream.h"

namespace aio::backend {

// Where and how to reach one replica.
struct UpstreamTarget {
  std::string origin;      // scheme://host:port
  std::string base_path;   // e.g. /v1
  std::string api_key;     // "" = none
  std::string name;        // the model's name in the config
  std::string model;       // its name on that server
  std::string where;       // "model large at http://... (replica r1)", for error messages
  double timeout_seconds = 600;
  size_t max_line_bytes = size_t{4} << 20; // the longest event-stream line held (--max-upstream-line)
};

// One try's outcome: the answer or why it failed, whether the failure says the replica is unwell (unreachable,
// erring, silent, a broken stream), and whether any of the answer was already relayed (then no retry elsewhere).
struct Attempt {
  Expected<engine::GenerationRecord> result;
  bool replica_failed = false;
  bool relayed = false;
};

class UpstreamCall {
public:
  // `cut_off` is the pool's shutdown flag: once set, the call stops reading and ends with 503.
  UpstreamCall(UpstreamTarget target, const std::atomic<bool> &cut_off)
      : target_(std::move(target)), cut_off_(cut_off), sse_(target_.max_line_bytes) {}

  // Sends `request` generated with `params`, relaying its answer through `cb` (on_token, on_tool_call) as it comes.
  Attempt run(const Request &request, const GenerateParams &params, const Callbacks &cb);

private:
  using Clock = std::chrono::steady_clock;
  bool on_bytes(const char *data, size_t n, const Callbacks &cb); // false stops reading
  bool on_event(const openai::UpstreamEvent &ev, const Callbacks &cb);
  // A non-2xx answer: the client's error (the upstream refused the request itself), or the replica's (5xx).
  Attempt error_reply() const;
  // A 2xx answer whose stream did not end with [DONE]: cut off, or not a stream at all.
  Attempt incomplete_stream() const;
  // The record once the stream ended well (or was cancelled); held tool calls go out now.
  Attempt complete(const GenerateParams &params, const Callbacks &cb);

  UpstreamTarget target_;
  const std::atomic<bool> &cut_off_;
  openai::SseReader sse_;
  engine::GenerationRecord rec_;
  int status_ = 0;
  std::string error_body_;           // the body of a non-2xx answer
  std::optional<std::string> error_; // an error event mid-stream
  bool cancelled_ = false, saw_usage_ = false, saw_done_ = false;
  bool relayed_ = false;                            // some of the answer went out to the caller
  std::vector<chat::OutputDelta> held_tool_calls_;  // a non-streaming caller's, until the answer is complete
  int32_t n_chunks_ = 0;
  std::string head_; // the first bytes of a 2xx answer, to say what it was when it was not a stream
  Clock::time_point t_start_, t_first_, t_end_;
};

} // namespace aio::backend
