#include "eval/csv.h"

#include "util/files.h"

#include <fstream>
#include <sstream>

namespace aio::eval {

Expected<std::vector<CsvRow>> parse_csv(const std::string &text, const std::string &source) {
  std::vector<CsvRow> rows;
  CsvRow row;
  std::string field;
  bool quoted = false, field_started = false;
  int line = 1, quote_line = 0;
  auto end_field = [&] {
    row.push_back(std::move(field));
    field.clear();
    field_started = false;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        if (c == '\n') ++line;
        field += c;
      }
      continue;
    }
    if (c == '"' && !field_started) {
      quoted = field_started = true;
      quote_line = line;
    } else if (c == ',') {
      end_field();
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      ++line;
      end_field();
      if (!(row.size() == 1 && row[0].empty())) rows.push_back(std::move(row)); // skip blank lines
      row.clear();
    } else {
      field += c;
      field_started = true;
    }
  }
  if (quoted) return invalid_argument(source + ":" + std::to_string(quote_line) + ": a quoted field is never closed");
  if (field_started || !row.empty()) {
    end_field();
    rows.push_back(std::move(row));
  }
  return rows;
}

Expected<std::vector<CsvRow>> read_csv_file(const std::string &path) {
  auto contents = read_file(path, "CSV file");
  if (!contents) return contents.status();
  std::string text = std::move(*contents);
  if (text.rfind("\xEF\xBB\xBF", 0) == 0) text.erase(0, 3); // UTF-8 byte order mark
  return parse_csv(text, path);
}

} // namespace aio::eval
