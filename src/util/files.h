// Reading the files users name (configs, datasets, results, prompts) without ever aborting: every reason a path cannot
// be read comes back as a Status that says what the path is and what to do.
#pragma once

#include <string>

#include "aio/status.h"

namespace aio {

// Whether `path` can be read as a regular file. `what` names its role in messages ("config file", "results file").
// Errors: missing (not_found), a folder, a symbolic-link loop, not a regular file (a FIFO or a device, which could
// block), not readable (invalid_argument).
Status check_readable_file(const std::string &path, const std::string &what = "file");

// How large a file each kind of loader reads (docs/operations.md: Limits). Everything A-IO reads is read whole, so a bound here
// is what keeps a 2 GB file from costing gigabytes of memory and minutes: it is refused at once, by its size.
constexpr size_t kMaxConfigFileBytes = size_t{16} << 20; // configs, policies, scenarios, profiles, prompt files
constexpr size_t kMaxDataFileBytes = size_t{1} << 30;    // datasets, completions, results, labelled data
// `aio --max-file-size BYTES`: one bound for every loader instead of the defaults above (0: the defaults).
void set_max_file_bytes(size_t bytes);
size_t max_file_bytes(size_t kind_default);

// The whole file, after the same checks. A file larger than `max_bytes` (or the --max-file-size override) is an
// invalid_argument naming its size, the limit and the flag - refused before a byte is read. A read error (an I/O
// error, a file that vanished) is invalid_file.
Expected<std::string> read_file(const std::string &path, const std::string &what = "file",
                                size_t max_bytes = kMaxDataFileBytes);

// "2.0 GB", "16 MiB"-style sizes for messages.
std::string format_bytes(size_t bytes);

} // namespace aio
