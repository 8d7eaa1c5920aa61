// RFC 4180 CSV: quoted fields may hold commas, doubled quotes and line breaks (benchmark questions often do).
#pragma once

#include <string>
#include <vector>

#include "aio/status.h"

namespace aio::eval {

using CsvRow = std::vector<std::string>;

// Parses a whole CSV document. An unterminated quoted field is an error naming the line it started on.
Expected<std::vector<CsvRow>> parse_csv(const std::string &text, const std::string &source);
Expected<std::vector<CsvRow>> read_csv_file(const std::string &path);

} // namespace aio::eval
