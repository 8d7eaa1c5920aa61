#include "engine/text_stream.h"

#include <algorithm>

namespace aio::engine {

TextStream::TextStream(std::vector<std::string> stop_strings) : stops_(std::move(stop_strings)) {
  std::erase_if(stops_, [](const std::string &s) { return s.empty(); });
}

size_t incomplete_utf8_tail(std::string_view s) {
  // Walk back over at most 3 continuation bytes to the lead byte and compare the character's length with what is there.
  const size_t n = s.size();
  for (size_t back = 1; back <= std::min<size_t>(4, n); ++back) {
    const auto c = static_cast<unsigned char>(s[n - back]);
    if ((c & 0xC0) == 0x80) continue; // continuation byte
    size_t need = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
    return need > back ? back : 0;
  }
  return 0; // only continuation bytes: invalid, emit as is rather than hold forever
}

size_t TextStream::bytes_to_hold() const {
  size_t hold = incomplete_utf8_tail(pending_);
  // The longest suffix of pending_ that is a proper prefix of a stop string might still grow into a match.
  for (const auto &stop : stops_) {
    const size_t max_len = std::min(stop.size() - 1, pending_.size());
    for (size_t len = max_len; len > hold; --len) {
      if (std::string_view(pending_).substr(pending_.size() - len) == std::string_view(stop).substr(0, len)) {
        hold = len;
        break;
      }
    }
  }
  return hold;
}

std::string TextStream::emit(size_t n) {
  std::string out = pending_.substr(0, n);
  pending_.erase(0, n);
  emitted_ += out;
  return out;
}

std::string TextStream::push(std::string_view piece) {
  if (stopped_) return {};
  pending_ += piece;
  size_t first = std::string::npos;
  for (const auto &stop : stops_) first = std::min(first, pending_.find(stop));
  if (first != std::string::npos) {
    std::string out = emit(first);
    pending_.clear();
    stopped_ = true;
    return out;
  }
  return emit(pending_.size() - bytes_to_hold());
}

std::string TextStream::finish() {
  if (stopped_) return {};
  return emit(pending_.size());
}

} // namespace aio::engine
