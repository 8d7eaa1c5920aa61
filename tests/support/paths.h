// Where tests find things: the aio binary, the pinned tokenizer, and ../shared/data (optional).
#pragma once

#include <optional>
#include <string>

namespace aio::test {

std::string aio_binary();
// The Llama-3 tokenizer directory fetched at configure time, or "" when unavailable.
std::string llama3_tokenizer_dir();
// ../shared/data beside the repository (or $AIO_SHARED_DATA), when present.
std::optional<std::string> shared_data_dir();
// A fresh temporary directory, removed at process exit.
std::string make_temp_dir(const std::string &tag);

} // namespace aio::test
