// The YAML loaders users point at their own files: a policy table, an aio.yaml config, a scenario. The first byte picks
// the loader ('p', 'c', 's'; others: all three), the rest is the file. Property: an answer or a clear error, never a
// crash, an exception or an abort.
#include "config/config.h"
#include "eval/scenario.h"
#include "fuzz_target.h"
#include "policy/policy_config.h"

AIO_FUZZ_TARGET(fuzz_yaml_loaders) {
  if (size == 0) return 0;
  const char which = static_cast<char>(data[0]);
  const std::string path = aio::fuzz::write_input(data + 1, size - 1, ".yaml");
  if (which == 'p' || (which != 'c' && which != 's')) {
    auto p = aio::policy::load_policy_file(path);
    aio::fuzz::require(p.ok() || !p.status().message().empty());
  }
  if (which == 'c' || (which != 'p' && which != 's')) {
    auto c = aio::config::load_config(path);
    aio::fuzz::require(c.ok() || !c.status().message().empty());
  }
  if (which == 's' || (which != 'p' && which != 'c')) {
    auto s = aio::eval::load_scenario(path);
    aio::fuzz::require(s.ok() || !s.status().message().empty());
  }
  return 0;
}
