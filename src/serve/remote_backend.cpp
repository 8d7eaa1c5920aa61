#include "serve/remote_backend.h"

#include <cstdlib>

#include <httplib.h>

#include "serve/openai_upstream.h"

namespace aio::serve {
namespace {
using Clock = std::chrono::steady_clock;
double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}
constexpr auto kConnectTimeout = std::chrono::seconds(5);
std::string api_key_of(const config::ModelEntry &e) {
  const char *key = e.api_key_env.empty() ? nullptr : std::getenv(e.api_key_env.c_str());
  return key ? key : "";
}
} // namespace

RemoteBackend::RemoteBackend(config::ModelEntry entry, int32_t n_workers, size_t queue_capacity, Metrics *metrics,
                             size_t max_line_bytes)
    : entry_(std::move(entry)), api_key_(api_key_of(entry_)), max_line_bytes_(max_line_bytes),
      pool_(entry_.name, entry_.replicas, entry_.health, metrics, api_key_), queue_(queue_capacity) {
  pool_.start_health_checks();
  for (int32_t i = 0; i < std::max(1, n_workers); ++i) workers_.emplace_back([this] { run(); });
}

RemoteBackend::~RemoteBackend() { stop(std::chrono::milliseconds(0)); }

void RemoteBackend::stop(std::chrono::milliseconds grace) {
  pool_.stop();
  if (workers_.empty()) return;
  queue_.close();
  // Queued requests are still forwarded within the grace period; after it, running ones are cut off.
  std::thread timer([this, grace] {
    const auto deadline = Clock::now() + grace;
    while (Clock::now() < deadline && (n_active_ > 0 || queue_.size() > 0))
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    cut_off_ = true;
  });
  for (auto &w : workers_) w.join();
  timer.join();
  workers_.clear();
}

void RemoteBackend::run() {
  for (;;) {
    std::optional<RemoteJob> job = queue_.pop_for(std::chrono::seconds(1)); // submit and close wake it
    if (!job) {
      if (queue_.closed() && queue_.size() == 0) return;
      continue;
    }
    if (cut_off_) {
      job->on_done(aborted("the server is shutting down; the request was not forwarded"));
      continue;
    }
    ++n_active_;
    std::optional<Expected<engine::GenerationRecord>> result = forward(*job);
    --n_active_;
    if (result) job->on_done(std::move(*result));
  }
}

std::optional<Expected<engine::GenerationRecord>> RemoteBackend::forward(const RemoteJob &job) {
  std::optional<size_t> failed_on;
  std::optional<Expected<engine::GenerationRecord>> first_failure;
  std::optional<size_t> placed = job.replica;
  if (placed && !pool_.takes_requests(*placed)) { // ejected while the request waited for a worker: choose again
    pool_.unstarted(*placed);
    placed.reset();
  }
  for (;;) {
    std::optional<size_t> i = placed;
    placed.reset();
    if (!i) {
      i = pool_.pick(job.affinity, failed_on, job.later_turn, /*include_local=*/static_cast<bool>(job.run_locally));
      if (i) pool_.started(*i);
    }
    if (i && pool_.replica(*i).local) {
      job.run_locally(*i);
      return std::nullopt;
    }
    if (!i) {
      if (first_failure) return std::move(*first_failure); // the only other replica is down too: say what failed
      std::string down;
      for (const ReplicaState &r : pool_.states())
        down += (down.empty() ? "" : "; ") + r.name + ": " + (r.last_error.empty() ? "ejected" : r.last_error);
      const int retry_after = pool_.retry_after_seconds();
      return aborted("no healthy replica of model " + entry_.name + " (" + down + "); retry in " +
                     std::to_string(retry_after) + " s")
          .set_retry_after(retry_after);
    }
    const auto t0 = Clock::now();
    Attempt a = forward_to(*i, job);
    pool_.finished(*i, a.replica_failed, a.result.ok() ? "" : a.result.status().message(),
                   ms_between(t0, Clock::now()) / 1000.0);
    if (a.result.ok()) a.result->replica = pool_.replica(*i).name;
    // Retried once, elsewhere, and only when nothing of the answer went out: a client never gets two answers spliced.
    if (a.result.ok() || !a.replica_failed || a.relayed || failed_on) return std::move(a.result);
    failed_on = *i;
    first_failure = std::move(a.result);
  }
}

RemoteBackend::Attempt RemoteBackend::forward_to(size_t replica, const RemoteJob &job) {
  const ApiRequest &api = job.request;
  const config::Replica &target = pool_.replica(replica);
  const std::string where = "model " + entry_.name + " at " + target.url + " (replica " + target.name + ")";
  httplib::Client client(pool_.origin(replica));
  client.set_connection_timeout(kConnectTimeout);
  const auto timeout = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::duration<double>(entry_.timeout_seconds));
  client.set_read_timeout(timeout);
  client.set_write_timeout(timeout);

  httplib::Request req;
  req.method = "POST";
  req.path = pool_.base_path(replica) + (api.endpoint == Endpoint::chat_completions ? "/chat/completions" : "/completions");
  req.headers = {{"Accept", "text/event-stream"}};
  if (!api_key_.empty()) req.headers.emplace("Authorization", "Bearer " + api_key_);
  req.body = upstream_body(api, entry_.remote_model.empty() ? entry_.name : entry_.remote_model).dump();
  req.set_header("Content-Type", "application/json");

  engine::GenerationRecord rec;
  rec.finish_reason = engine::FinishReason::end_of_generation;
  int status = 0;
  std::string error_body;           // the body of a non-2xx answer
  std::optional<std::string> error; // an error event mid-stream
  bool cancelled = false, saw_usage = false, saw_done = false;
  bool relayed = false;                          // some of the answer went out to the client
  std::vector<chat::OutputDelta> held_tool_calls; // a non-streaming client's, until the answer is complete
  int32_t n_chunks = 0;
  std::string head; // the first bytes of a 2xx answer, to say what it was when it was not a stream
  SseReader sse(max_line_bytes_);
  const auto t_start = Clock::now();
  auto t_first = t_start;
  req.response_handler = [&](const httplib::Response &res) {
    status = res.status;
    return true;
  };
  req.content_receiver = [&](const char *data, size_t n, uint64_t, uint64_t) {
    if (cut_off_) return false;
    if (status < 200 || status >= 300) {
      if (error_body.size() < 65536) error_body.append(data, n);
      return true;
    }
    if (head.size() < 200) head.append(data, std::min(n, 200 - head.size()));
    return sse.feed(std::string_view(data, n), [&](const UpstreamEvent &ev) {
      if (ev.error) {
        error = ev.error;
        return false;
      }
      // A streaming client gets each piece as it comes; for one that waits for the whole answer the pieces are kept
      // here until the stream completed, so a replica that dies half-way costs a retry, not the answer.
      for (const chat::OutputDelta &d : ev.tool_calls) {
        if (n_chunks++ == 0) t_first = Clock::now();
        if (!api.stream) {
          held_tool_calls.push_back(d);
        } else if (job.on_tool_call && !job.on_tool_call(d)) {
          cancelled = true;
          return false;
        }
        relayed = relayed || api.stream;
      }
      if (!ev.text.empty() || !ev.logprobs.empty()) {
        if (n_chunks++ == 0) t_first = Clock::now();
        rec.text += ev.text;
        rec.logprobs.insert(rec.logprobs.end(), ev.logprobs.begin(), ev.logprobs.end());
        const bool go_on = api.stream ? job.on_text(ev.text, ev.logprobs) : job.on_text("", {}); // "": still there?
        if (!go_on) {
          cancelled = true;
          return false;
        }
        relayed = relayed || api.stream;
      }
      if (ev.finish_reason) {
        rec.finish_reason = *ev.finish_reason == "length" ? engine::FinishReason::max_tokens
                                                          : engine::FinishReason::end_of_generation;
      }
      if (ev.usage) {
        saw_usage = true;
        rec.n_prompt_tokens = ev.usage->prompt_tokens;
        rec.n_generated = ev.usage->completion_tokens;
        rec.n_prefill_tokens_saved = ev.usage->cached_tokens; // the replica's prompt cache (affinity keeps it warm)
      }
      saw_done = saw_done || ev.done;
      return !ev.done;
    });
  };

  httplib::Result res = client.send(req);
  const auto t_end = Clock::now();
  // The replica's fault (it is unreachable, erring, silent, or broke its stream): eject it, retry elsewhere.
  auto replica_fault = [&](Status st) { return Attempt{std::move(st), true, relayed}; };
  if (cancelled) {
    rec.finish_reason = engine::FinishReason::cancelled;
  } else if (cut_off_) {
    return {aborted("the server is shutting down; the forwarded request to " + where + " was cut off"), false, relayed};
  } else if (error) {
    return replica_fault(unavailable(where + " failed mid-answer: " + *error));
  } else if (!res && res.error() != httplib::Error::Canceled) {
    const httplib::Error e = res.error();
    const bool slow = e == httplib::Error::ConnectionTimeout ||
                      (e == httplib::Error::Read && ms_between(t_start, t_end) >= entry_.timeout_seconds * 1000 * 0.9);
    if (slow)
      return replica_fault(deadline_exceeded(where + " did not answer within " +
                                             std::to_string(entry_.timeout_seconds).substr(0, 6) + " s (models." +
                                             entry_.name + ".timeout_seconds)"));
    return replica_fault(unavailable("cannot reach " + where + ": " + httplib::to_string(e) +
                                     (e == httplib::Error::Connection ? " (is the server running?)" : "")));
  } else if (status < 200 || status >= 300) {
    const std::string msg = where + " answered HTTP " + std::to_string(status) + ": " +
                            upstream_error_message(error_body);
    // The upstream refusing the request itself (too long, bad field) is the client's error; anything else is ours,
    // and only a 5xx says the replica is unwell (401/403/404/429 are its configuration or its load).
    if (status >= 400 && status < 500 && status != 401 && status != 403 && status != 404 && status != 429)
      return {invalid_argument(msg), false, relayed};
    return {unavailable(msg), status >= 500, relayed};
  }
  // A 2xx answer must be a complete stream: one that ends without `data: [DONE]` was cut (a crash, a proxy timeout), and
  // one with no events at all was not a stream (HTML from a proxy, a non-streamed JSON body). Neither is a success.
  if (!cancelled && !saw_done) {
    if (n_chunks == 0 && !saw_usage)
      return replica_fault(unavailable(where + " answered HTTP " + std::to_string(status) +
                                       " but not with a stream of server-sent events (it began: " + head.substr(0, 120) +
                                       ")"));
    return replica_fault(unavailable(where + " ended its stream without [DONE]: the answer was cut off after " +
                                     std::to_string(n_chunks) + " pieces"));
  }
  if (!saw_usage) rec.n_generated = n_chunks; // servers that send no usage: one chunk per token is the norm
  // Asked for log-probabilities and got text without them: the upstream ignored the field. Say so, never answer
  // with an empty list as if there were none.
  if (!cancelled && api.params.logprobs >= 0 && rec.logprobs.empty() && !rec.text.empty())
    return {unavailable(where + " did not return log-probabilities, which the request asked for"), false, relayed};
  rec.prefill_ms = ms_between(t_start, n_chunks > 0 ? t_first : t_end);
  rec.decode_ms = n_chunks > 0 ? ms_between(t_first, t_end) : 0;
  for (const chat::OutputDelta &d : held_tool_calls)
    if (job.on_tool_call) job.on_tool_call(d);
  return {std::move(rec), false, relayed};
}

} // namespace aio::serve
