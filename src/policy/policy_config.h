// Policies as YAML rule tables: parsing with file:line errors, and the built-in set (configs/policies.yaml, compiled
// into the binary): the paper's `aio` policy, its baselines and its ablations.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "policy/policy.h"

namespace aio::policy {

using PolicySet = std::map<std::string, Policy>;

// Parses a `policies:` mapping (name -> {description, vars, seed, rules}). `source` names the file in errors.
Expected<PolicySet> parse_policies(const YAML::Node &policies, const std::string &source);

// Reads a file whose top level has a `policies:` key.
Expected<PolicySet> load_policy_file(const std::string &path);

// The policies every configuration has, unless it redefines one by name.
const PolicySet &builtin_policies();

// Model names a policy routes to (including draft models) or reads the load of, for checking them against the
// configured models.
std::vector<std::string> models_used(const Policy &policy);
// Whether any rule reads the probe (a category or entropy condition). Policies that do not - the static and random
// baselines, the oracle - are served without running the probe, so they do not pay for it.
bool uses_probe(const Policy &policy);

} // namespace aio::policy
