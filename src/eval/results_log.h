// The results of a long evaluation run: one JSON line per finished request, flushed to disk before the next request
// starts, so a crash loses nothing; a resumed run skips what the file already holds.
#pragma once

#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "aio/status.h"
#include "eval/result_record.h"

namespace aio::eval {

class ResultsLog {
public:
  // resume = false: `path` must not exist yet (a finished run is never overwritten by accident).
  // resume = true: its complete records count as done; a torn last line (the process died while writing it) is cut
  // off. A missing file is simply started.
  static Expected<ResultsLog> open(const std::string &path, bool resume);
  ResultsLog(ResultsLog &&other) noexcept;
  ResultsLog &operator=(ResultsLog &&) = delete;
  ~ResultsLog();

  // The identity of a record: scenario, policy and workload item.
  static std::string key(const std::string &scenario, const std::string &policy, const std::string &id);
  bool done(const std::string &key) const { return done_.count(key) > 0; }
  size_t n_done() const { return done_.size(); }

  // Appends one record and syncs it to disk.
  Status append(const ResultRecord &record);

private:
  ResultsLog() = default;
  std::string path_;
  std::FILE *file_ = nullptr;
  std::set<std::string> done_;
};

// Every record of a results file, in order. A torn last line is skipped; any other bad line (bad JSON, or JSON that
// is not a complete record, e.g. `{}`) is an error naming it.
Expected<std::vector<ResultRecord>> read_results(const std::string &path);

} // namespace aio::eval
