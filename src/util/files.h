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

// The whole file, after the same checks. A read error (an I/O error, a file that vanished) is invalid_file.
Expected<std::string> read_file(const std::string &path, const std::string &what = "file");

} // namespace aio
