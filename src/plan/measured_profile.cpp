#include "plan/measured_profile.h"

#include <set>

#include "eval/report.h"

namespace aio::plan {

Profile measured_profile(const std::vector<eval::ResultRecord> &records, const std::vector<std::string> &categories,
                         const std::map<std::string, std::string> &task_category) {
  Profile prof;
  prof.categories = categories;
  prof.task_category = task_category;
  struct Key {
    bool long_context;
    std::string config, task;
    bool operator<(const Key &o) const {
      return std::tie(long_context, config, task) < std::tie(o.long_context, o.config, o.task);
    }
  };
  std::map<Key, eval::Aggregate> cells; // (long context, model/strategy, task)
  std::set<std::string> probed;
  for (const auto &r : records) {
    if (!r.route || r.scenario != "profile") continue;
    const std::string config = r.route->route.model + "/" + strategy_name(r.route->route.strategy);
    cells[{r.context_tokens > 0, config, r.task}].add(r);
    const ProbeResult &probe = r.route->probe;
    if (probe.probe_kind != "none" && probed.insert(r.id).second) {
      prof.confusion[r.true_label][probe.category()] += 1;
      prof.entropies[r.true_label].push_back(probe.entropy_bits);
    }
  }
  for (const auto &[cell, agg] : cells) {
    if (agg.tokens_per_second() <= 0) continue;
    auto &table = cell.long_context ? prof.long_context : prof.configurations;
    table[cell.config][cell.task] = {100 * agg.accuracy(), agg.tokens_per_second()};
  }
  return prof;
}

} // namespace aio::plan
