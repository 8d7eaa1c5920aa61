// What the fastText probe makes of any text (probe/structure.h, probe/text_features.h): the layout scan and the
// feature string, for bytes of any kind (invalid UTF-8, NULs, megabytes of one character). Properties: tokens are
// separated by exactly one space, and a bounded feature string keeps at most its bound of word tokens beside the
// layout markers.
#include <string>
#include <string_view>

#include "fuzz_target.h"
#include "probe/structure.h"
#include "probe/text_features.h"

AIO_FUZZ_TARGET(fuzz_probe_text) {
  const std::string_view text(reinterpret_cast<const char *>(data), size);
  (void)aio::probe::detect_structure(text).markers();
  for (size_t bound : {size_t{0}, size_t{16}, size_t{256}}) {
    const std::string f = aio::probe::text_features(text, bound);
    aio::fuzz::require(f.empty() || (f.front() != ' ' && f.back() != ' '));
    aio::fuzz::require(f.find("  ") == std::string::npos);
    if (bound == 0) continue;
    size_t words = 0;
    for (size_t start = 0; start < f.size();) {
      size_t end = f.find(' ', start);
      if (end == std::string::npos) end = f.size();
      const std::string_view token(f.data() + start, end - start);
      const bool marker = token.size() > 2 && token.front() == '<' && token.back() == '>' &&
                          token != "<nl>" && token != "<indent>" && token != "<blank>";
      words += !marker;
      start = end + 1;
    }
    aio::fuzz::require(words <= bound + 1);
  }
  return 0;
}
