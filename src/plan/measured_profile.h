// A planner profile from measurements: the records of `aio profile`'s runs (every task under fixed model/strategy
// configurations) aggregated into accuracy and tokens/s per task x configuration, plus the probe's confusion matrix
// and entropies. Pure data in, data out.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "eval/result_record.h"
#include "plan/planner.h"

namespace aio::plan {

// Records of scenario "profile" only; padded requests (context_tokens > 0) go to the profile's long-context table.
// The probe counts once per request id. `categories` are the config's; `task_category` maps each task to one.
Profile measured_profile(const std::vector<eval::ResultRecord> &records, const std::vector<std::string> &categories,
                         const std::map<std::string, std::string> &task_category);

} // namespace aio::plan
