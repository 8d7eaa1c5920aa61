// The dataset loaders (JSONL and CSV in the benchmarks' official formats, gzipped or not), a completions file, and
// labelled probe data. The first byte picks the loader, the rest is the file. Property: items or a clear error - never
// a crash, an exception, or an item without an id.
#include "eval/csv.h"
#include "eval/labeled_data.h"
#include "eval/scoring.h"
#include "eval/tasks.h"
#include "fuzz_target.h"

AIO_FUZZ_TARGET(fuzz_dataset_loaders) {
  using namespace aio::eval;
  if (size == 0) return 0;
  const uint8_t which = data[0] % 9;
  const uint8_t *rest = data + 1;
  const size_t n = size - 1;
  auto task = [&](Task t, const char *suffix) {
    auto items = load_task(t, aio::fuzz::write_input(rest, n, suffix));
    aio::fuzz::require(items.ok() ? !items->empty() : !items.status().message().empty());
    if (items.ok())
      for (const auto &it : *items) aio::fuzz::require(!it.id.empty());
  };
  switch (which) {
  case 0: task(Task::humaneval, ".jsonl"); break;
  case 1: task(Task::gsm8k, ".jsonl"); break;
  case 2: task(Task::mmlu, ".csv"); break;
  case 3: task(Task::ceval, ".csv"); break;
  case 4: task(Task::gpqa, ".csv"); break;
  case 5: task(Task::humaneval, ".jsonl.gz"); break;
  case 6: {
    auto c = read_completions(aio::fuzz::write_input(rest, n, ".jsonl"));
    aio::fuzz::require(c.ok() || !c.status().message().empty());
    break;
  }
  case 7: {
    auto l = load_labeled(aio::fuzz::write_input(rest, n, ".jsonl"));
    aio::fuzz::require(l.ok() || !l.status().message().empty());
    break;
  }
  default: {
    auto rows = parse_csv(std::string(reinterpret_cast<const char *>(rest), n), "fuzz.csv");
    aio::fuzz::require(rows.ok() || !rows.status().message().empty());
  }
  }
  return 0;
}
