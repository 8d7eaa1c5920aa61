// The reader of an upstream's server-sent events, fed the bytes in two pieces split anywhere (as a network delivers
// them). Properties: no crash; splitting never changes the events read; an error body is always summarized.
#include <vector>

#include "fuzz_target.h"
#include "openai/upstream.h"

namespace {
std::vector<std::string> events(const std::vector<std::string_view> &pieces) {
  aio::openai::SseReader reader;
  std::vector<std::string> out;
  for (const auto piece : pieces)
    reader.feed(piece, [&](const aio::openai::UpstreamEvent &e) {
      out.push_back(e.text + "|" + e.finish_reason.value_or("-") + "|" + e.error.value_or("-") + "|" +
                    (e.done ? "done" : "") + "|" + (e.usage ? std::to_string(e.usage->completion_tokens) : "-") + "|" + std::to_string(e.logprobs.size()));
      return true;
    });
  return out;
}
} // namespace

AIO_FUZZ_TARGET(fuzz_upstream_sse) {
  if (size == 0) return 0;
  const std::string_view bytes(reinterpret_cast<const char *>(data) + 1, size - 1);
  const size_t split = bytes.empty() ? 0 : data[0] % (bytes.size() + 1);
  const auto whole = events({bytes});
  const auto pieces = events({bytes.substr(0, split), bytes.substr(split)});
  aio::fuzz::require(whole == pieces);
  (void)aio::openai::upstream_error_message(std::string(bytes));
  return 0;
}
