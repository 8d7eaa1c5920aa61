// The route record as JSON: the shape `aio route --json`, `aio generate --json` and (later) the server's `aio` object
// share.
#pragma once

#include <nlohmann/json.hpp>

#include "aio/route.h"

namespace aio::core {

nlohmann::json probe_json(const ProbeResult &p);
nlohmann::json route_record_json(const RouteRecord &r);

} // namespace aio::core
