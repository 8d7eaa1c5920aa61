#include "serve/stream_channel.h"

#include <algorithm>

namespace aio::serve {

bool StreamChannel::push(std::string piece, std::span<const engine::TokenLogprob> logprobs) {
  {
    std::lock_guard lock(mu_);
    if (cancelled_) return false;
    if (!streaming_ || (piece.empty() && logprobs.empty())) return true;
    pieces_.push_back({std::move(piece), {logprobs.begin(), logprobs.end()}, std::nullopt});
  }
  cv_.notify_one();
  return true;
}

bool StreamChannel::push_tool_call(const chat::OutputDelta &delta) {
  {
    std::lock_guard lock(mu_);
    if (cancelled_) return false;
    const size_t i = static_cast<size_t>(std::max(delta.tool_index, 0));
    if (tool_calls_.size() <= i) tool_calls_.resize(i + 1);
    ToolCall &call = tool_calls_[i];
    call.id += delta.tool_id;
    call.name += delta.tool_name;
    call.arguments += delta.arguments;
    if (!streaming_) return true;
    pieces_.push_back({"", {}, delta});
  }
  cv_.notify_one();
  return true;
}

std::vector<ToolCall> StreamChannel::tool_calls() const {
  std::lock_guard lock(mu_);
  return tool_calls_;
}

void StreamChannel::set_route(RouteRecord route) {
  std::lock_guard lock(mu_);
  route_ = std::move(route);
}

std::optional<RouteRecord> StreamChannel::route() const {
  std::lock_guard lock(mu_);
  return route_;
}

void StreamChannel::set_output_format(chat::OutputFormat format) {
  std::lock_guard lock(mu_);
  output_format_ = std::move(format);
}

std::optional<chat::OutputFormat> StreamChannel::output_format() const {
  std::lock_guard lock(mu_);
  return output_format_;
}

void StreamChannel::finish(Expected<engine::GenerationRecord> result) {
  {
    std::lock_guard lock(mu_);
    result_ = std::move(result);
  }
  cv_.notify_all();
}

std::optional<StreamPiece> StreamChannel::next(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return !pieces_.empty() || result_.has_value(); });
  if (pieces_.empty()) return std::nullopt;
  StreamPiece piece = std::move(pieces_.front());
  pieces_.pop_front();
  return piece;
}

bool StreamChannel::wait_output(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return !pieces_.empty() || result_.has_value(); });
}

void StreamChannel::wait_finished() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return result_.has_value(); });
}

bool StreamChannel::done() const {
  std::lock_guard lock(mu_);
  return result_.has_value() && pieces_.empty();
}

Expected<engine::GenerationRecord> StreamChannel::result() const {
  std::lock_guard lock(mu_);
  return result_ ? *result_ : Expected<engine::GenerationRecord>(internal_error("the stream has not finished"));
}

void StreamChannel::cancel() {
  {
    std::lock_guard lock(mu_);
    cancelled_ = true;
  }
  cv_.notify_all();
}

bool StreamChannel::cancelled() const {
  std::lock_guard lock(mu_);
  return cancelled_;
}

} // namespace aio::serve
