// TextStream turns generated token pieces into text that is safe to show: it never emits half a UTF-8 character,
// never emits the beginning of what may become a stop string, and cuts the text where a stop string appears.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace aio::engine {

class TextStream {
public:
  explicit TextStream(std::vector<std::string> stop_strings = {});

  // Appends one token's bytes; returns the text that can now be emitted (possibly empty).
  std::string push(std::string_view piece);
  // Ends the stream: returns whatever was held back (nothing if a stop string matched).
  std::string finish();

  bool stopped() const { return stopped_; }          // a stop string matched; nothing more will be emitted
  const std::string &emitted() const { return emitted_; } // all text emitted so far

private:
  size_t bytes_to_hold() const;
  std::string emit(size_t n);

  std::vector<std::string> stops_;
  std::string pending_;
  std::string emitted_;
  bool stopped_ = false;
};

// Number of bytes at the end of `s` that start a UTF-8 character not yet complete (0..3).
size_t incomplete_utf8_tail(std::string_view s);

} // namespace aio::engine
