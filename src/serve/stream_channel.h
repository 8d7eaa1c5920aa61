// StreamChannel: hands one request's text from the engine thread to the HTTP thread that streams it, and the
// client's disconnect back the other way. The engine never blocks on a slow client: pieces are buffered.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "aio/status.h"
#include "chat/chat_template.h"
#include "chat/output_parser.h"
#include "engine/generation.h"

namespace aio::serve {

// One piece of streamed text and the log-probabilities of the tokens it completes (when the request asked for them).
struct StreamPiece {
  std::string text;
  std::vector<engine::TokenLogprob> logprobs;
  std::optional<chat::OutputDelta> tool_call; // a remote model's tool-call delta, relayed as it came (text is empty)
};

class StreamChannel {
public:
  // streaming = false: the consumer only wants the outcome (the record holds the whole text), so pieces are neither
  // kept nor signalled. That matters on a small CPU: a wake-up per token of a thread that has nothing to do preempts
  // the inference threads, which wait for each other at every op's barrier.
  explicit StreamChannel(bool streaming = true) : streaming_(streaming) {}

  // Engine side. push() returns false once the consumer has cancelled (the engine then stops generating).
  bool push(std::string piece, std::span<const engine::TokenLogprob> logprobs = {});
  // The request's route, once decided (before any text).
  void set_route(RouteRecord route);
  // How to read the answer into content and tool calls (a request with tools answered locally; before any text).
  void set_output_format(chat::OutputFormat format);
  // A remote model's tool-call delta: streamed like text, and gathered into whole calls (tool_calls()) for a
  // non-streamed answer. Returns false once the consumer has cancelled.
  bool push_tool_call(const chat::OutputDelta &delta);
  void finish(Expected<engine::GenerationRecord> result);

  // HTTP side. Waits up to `timeout` for the next piece; nullopt when none came in time or the stream is finished
  // (then done() is true and result() holds the outcome).
  std::optional<StreamPiece> next(std::chrono::milliseconds timeout);
  bool done() const;
  // Waits up to `timeout` until a piece is waiting or the stream has finished; true when one of them holds.
  bool wait_output(std::chrono::milliseconds timeout);
  Expected<engine::GenerationRecord> result() const;
  // The route, when one was decided (a request refused before routing has none).
  std::optional<RouteRecord> route() const;
  std::optional<chat::OutputFormat> output_format() const;
  std::vector<ToolCall> tool_calls() const; // the calls pushed so far, whole
  // Blocks until the stream has finished.
  void wait_finished();
  void cancel(); // the client went away

  bool cancelled() const;

private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<StreamPiece> pieces_;
  std::optional<Expected<engine::GenerationRecord>> result_;
  std::optional<RouteRecord> route_;
  std::optional<chat::OutputFormat> output_format_;
  std::vector<ToolCall> tool_calls_;
  bool cancelled_ = false;
  const bool streaming_;
};

} // namespace aio::serve
