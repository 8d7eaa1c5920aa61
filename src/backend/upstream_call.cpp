#include "backend/upstream_call.h"

#include <httplib.h>

namespace aio::backend {
namespace {
using Clock = std::chrono::steady_clock;
double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}
constexpr auto kConnectTimeout = std::chrono::seconds(5);
} // namespace

Attempt UpstreamCall::run(const Request &request, const GenerateParams &params, const Callbacks &cb) {
  httplib::Client client(target_.origin);
  client.set_connection_timeout(kConnectTimeout);
  const auto timeout = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::duration<double>(target_.timeout_seconds));
  client.set_read_timeout(timeout);
  client.set_write_timeout(timeout);

  httplib::Request req;
  req.method = "POST";
  req.path = target_.base_path + (request.chat() ? "/chat/completions" : "/completions");
  req.headers = {{"Accept", "text/event-stream"}};
  if (!target_.api_key.empty()) req.headers.emplace("Authorization", "Bearer " + target_.api_key);
  req.body = openai::upstream_body(request, params, target_.model).dump();
  req.set_header("Content-Type", "application/json");
  req.response_handler = [this](const httplib::Response &res) {
    status_ = res.status;
    return true;
  };
  req.content_receiver = [this, &cb](const char *data, size_t n, uint64_t, uint64_t) { return on_bytes(data, n, cb); };

  rec_.finish_reason = FinishReason::end_of_generation;
  t_start_ = t_first_ = Clock::now();
  httplib::Result res = client.send(req);
  t_end_ = Clock::now();
  // The replica's fault (it is unreachable, erring, silent, or broke its stream): eject it, retry elsewhere.
  auto replica_fault = [this](Status st) { return Attempt{std::move(st), true, relayed_}; };
  if (cancelled_) {
    rec_.finish_reason = FinishReason::cancelled;
    return complete(params, cb);
  }
  if (cut_off_)
    return {aborted("the server is shutting down; the forwarded request to " + target_.where + " was cut off"), false,
            relayed_};
  if (error_) return replica_fault(unavailable(target_.where + " failed mid-answer: " + *error_));
  if (!res && res.error() != httplib::Error::Canceled) {
    const httplib::Error e = res.error();
    const bool slow = e == httplib::Error::ConnectionTimeout ||
                      (e == httplib::Error::Read &&
                       ms_between(t_start_, t_end_) >= target_.timeout_seconds * 1000 * 0.9);
    if (slow)
      return replica_fault(deadline_exceeded(target_.where + " did not answer within " +
                                             std::to_string(target_.timeout_seconds).substr(0, 6) +
                                             " s (models." + target_.name + ".timeout_seconds)"));
    return replica_fault(unavailable("cannot reach " + target_.where + ": " + httplib::to_string(e) +
                                     (e == httplib::Error::Connection ? " (is the server running?)" : "")));
  }
  if (status_ < 200 || status_ >= 300) return error_reply();
  if (!saw_done_) return incomplete_stream();
  return complete(params, cb);
}

bool UpstreamCall::on_bytes(const char *data, size_t n, const Callbacks &cb) {
  if (cut_off_) return false;
  if (status_ < 200 || status_ >= 300) {
    if (error_body_.size() < 65536) error_body_.append(data, n);
    return true;
  }
  if (head_.size() < 200) head_.append(data, std::min(n, 200 - head_.size()));
  return sse_.feed(std::string_view(data, n), [&](const openai::UpstreamEvent &ev) { return on_event(ev, cb); });
}

bool UpstreamCall::on_event(const openai::UpstreamEvent &ev, const Callbacks &cb) {
  if (ev.error) {
    error_ = ev.error;
    return false;
  }
  // A streaming caller gets each piece as it comes; for one that waits for the whole answer the pieces are kept here
  // until the stream completed, so a replica that dies half-way costs a retry, not the answer.
  for (const chat::OutputDelta &d : ev.tool_calls) {
    if (n_chunks_++ == 0) t_first_ = Clock::now();
    if (!cb.streamed) {
      held_tool_calls_.push_back(d);
    } else if (cb.on_tool_call && !cb.on_tool_call(d)) {
      cancelled_ = true;
      return false;
    }
    relayed_ = relayed_ || cb.streamed;
  }
  if (!ev.text.empty() || !ev.logprobs.empty()) {
    if (n_chunks_++ == 0) t_first_ = Clock::now();
    rec_.text += ev.text;
    rec_.logprobs.insert(rec_.logprobs.end(), ev.logprobs.begin(), ev.logprobs.end());
    // A non-streaming caller is only asked whether it is still there ("").
    const bool go_on = !cb.on_token || (cb.streamed ? cb.on_token(ev.text, -1, ev.logprobs) : cb.on_token("", -1, {}));
    if (!go_on) {
      cancelled_ = true;
      return false;
    }
    relayed_ = relayed_ || cb.streamed;
  }
  if (ev.finish_reason)
    rec_.finish_reason = *ev.finish_reason == "length" ? FinishReason::max_tokens
                                                        : FinishReason::end_of_generation;
  if (ev.usage) {
    saw_usage_ = true;
    rec_.n_prompt_tokens = ev.usage->prompt_tokens;
    rec_.n_generated = ev.usage->completion_tokens;
    rec_.n_prefill_tokens_saved = ev.usage->cached_tokens; // the replica's prompt cache (affinity keeps it warm)
    rec_.n_prompt_tokens_cached = ev.usage->cached_tokens;
  }
  saw_done_ = saw_done_ || ev.done;
  return !ev.done;
}

Attempt UpstreamCall::error_reply() const {
  const std::string msg = target_.where + " answered HTTP " + std::to_string(status_) + ": " +
                          openai::upstream_error_message(error_body_);
  // The upstream refusing the request itself (too long, bad field) is the client's error; anything else is ours, and
  // only a 5xx says the replica is unwell (401/403/404/429 are its configuration or its load).
  if (status_ >= 400 && status_ < 500 && status_ != 401 && status_ != 403 && status_ != 404 && status_ != 429)
    return {invalid_argument(msg), false, relayed_};
  return {unavailable(msg), status_ >= 500, relayed_};
}

Attempt UpstreamCall::incomplete_stream() const {
  // A 2xx answer must be a complete stream: one that ends without `data: [DONE]` was cut (a crash, a proxy timeout),
  // and one with no events at all was not a stream (HTML from a proxy, a non-streamed JSON body). Neither succeeds.
  if (n_chunks_ == 0 && !saw_usage_)
    return {unavailable(target_.where + " answered HTTP " + std::to_string(status_) +
                        " but not with a stream of server-sent events (it began: " + head_.substr(0, 120) + ")"),
            true, relayed_};
  return {unavailable(target_.where + " ended its stream without [DONE]: the answer was cut off after " +
                      std::to_string(n_chunks_) + " pieces"),
          true, relayed_};
}

Attempt UpstreamCall::complete(const GenerateParams &params, const Callbacks &cb) {
  if (!saw_usage_) rec_.n_generated = n_chunks_; // servers that send no usage: one chunk per token is the norm
  // Asked for log-probabilities and got text without them: the upstream ignored the field. Say so, never answer with
  // an empty list as if there were none.
  if (!cancelled_ && params.logprobs >= 0 && rec_.logprobs.empty() && !rec_.text.empty())
    return {unavailable(target_.where + " did not return log-probabilities, which the request asked for"), false,
            relayed_};
  rec_.prefill_ms = ms_between(t_start_, n_chunks_ > 0 ? t_first_ : t_end_);
  rec_.decode_ms = n_chunks_ > 0 ? ms_between(t_first_, t_end_) : 0;
  for (const chat::OutputDelta &d : held_tool_calls_)
    if (cb.on_tool_call) cb.on_tool_call(d);
  return {std::move(rec_), false, relayed_};
}

} // namespace aio::backend
