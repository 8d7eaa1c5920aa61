#include "eval/results_log.h"

#include "util/files.h"
#include "util/json_limits.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace aio::eval {
namespace fs = std::filesystem;

std::string ResultsLog::key(const std::string &scenario, const std::string &policy, const std::string &id) {
  ResultRecord r;
  r.scenario = scenario;
  r.policy = policy;
  r.id = id;
  return r.key();
}

namespace {

// Reads the complete lines; `good_bytes` gets the length of the file up to the end of the last complete record.
Expected<std::vector<ResultRecord>> read_records(const std::string &path, size_t *good_bytes) {
  auto contents = read_file(path, "results file");
  if (!contents) return contents.status();
  const std::string &text = *contents;
  std::vector<ResultRecord> out;
  size_t pos = 0, good = 0;
  for (int n = 1; pos < text.size(); ++n) {
    const size_t nl = text.find('\n', pos);
    const bool last = nl == std::string::npos;
    const std::string line = text.substr(pos, last ? std::string::npos : nl - pos);
    pos = last ? text.size() : nl + 1;
    if (line.find_first_not_of(" \t\r") == std::string::npos) {
      good = pos;
      continue;
    }
    // Deeper than any record: refused before parsing (what walks a parsed document recurses over its depth).
    nlohmann::json j = json_nesting_depth(line, kDefaultMaxJsonDepth) > kDefaultMaxJsonDepth
                           ? nlohmann::json(nlohmann::json::value_t::discarded)
                           : nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      if (last) break; // torn by a crash mid-write: dropped
      return invalid_argument(path + ":" + std::to_string(n) + ": not a results record (bad JSON)");
    }
    if (last) break; // complete JSON but no newline yet: also from an interrupted write; redo it
    auto record = result_record_from_json(j);
    if (!record)
      return invalid_argument(path + ":" + std::to_string(n) + ": not a results record (" + record.status().message() +
                              "); was it written by `aio bench`?");
    out.push_back(std::move(*record));
    good = pos;
  }
  if (good_bytes) *good_bytes = good;
  return out;
}

} // namespace

Expected<std::vector<ResultRecord>> read_results(const std::string &path) { return read_records(path, nullptr); }

Expected<ResultsLog> ResultsLog::open(const std::string &path, bool resume) {
  std::error_code ec;
  const bool exists = fs::exists(path, ec);
  if (exists && fs::is_directory(path, ec))
    return invalid_argument("results file " + path + " is a folder; give the path of a .jsonl file (-o DIR/run.jsonl)");
  if (exists && !resume)
    return invalid_argument(path + " already exists; pass --resume to continue that run, or choose another -o");
  ResultsLog log;
  log.path_ = path;
  if (exists) {
    size_t good = 0;
    auto records = read_records(path, &good);
    if (!records) return records.status();
    for (const auto &r : *records) log.done_.insert(r.key());
    fs::resize_file(path, good, ec); // cut a torn last line
    if (ec) return internal_error("cannot repair " + path + ": " + ec.message());
  }
  if (const auto parent = fs::path(path).parent_path(); !parent.empty()) fs::create_directories(parent, ec);
  log.file_ = std::fopen(path.c_str(), "ab");
  if (log.file_ == nullptr) return invalid_argument("cannot write " + path);
  return log;
}

ResultsLog::ResultsLog(ResultsLog &&other) noexcept
    : path_(std::move(other.path_)), file_(other.file_), done_(std::move(other.done_)) {
  other.file_ = nullptr;
}

ResultsLog::~ResultsLog() {
  if (file_) std::fclose(file_);
}

Status ResultsLog::append(const ResultRecord &record) {
  const std::string line =
      result_record_json(record).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  if (std::fwrite(line.data(), 1, line.size(), file_) != line.size() || std::fflush(file_) != 0 ||
      fsync(fileno(file_)) != 0)
    return internal_error("writing " + path_ + " failed (disk full?); the records before this one are safe");
  done_.insert(record.key());
  return {};
}

} // namespace aio::eval
