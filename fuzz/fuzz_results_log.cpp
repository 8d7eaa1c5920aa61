// The results log of a long run: the reader (`aio report`, `--resume`) and the repair on resume (a torn last line is
// cut off). Properties: no crash; a file the resume accepts reads back whole after a record is appended, with that
// record last; the repair never loses a record the reader saw.
#include "eval/results_log.h"
#include "fuzz_target.h"

AIO_FUZZ_TARGET(fuzz_results_log) {
  using namespace aio::eval;
  const std::string path = aio::fuzz::write_input(data, size, ".jsonl");
  auto before = read_results(path);
  aio::fuzz::require(before.ok() || !before.status().message().empty());
  auto log = ResultsLog::open(path, /*resume=*/true);
  if (!log.ok()) return 0;
  ResultRecord r;
  r.scenario = "fuzz";
  r.policy = "aio";
  r.id = "appended";
  r.task = "gsm8k";
  r.true_label = "math";
  r.error = "appended by the fuzzer";
  aio::fuzz::require(log->append(r).ok());
  auto after = read_results(path);
  aio::fuzz::require(after.ok() && !after->empty() && after->back().id == "appended");
  if (before.ok()) aio::fuzz::require(after->size() == before->size() + 1);
  return 0;
}
