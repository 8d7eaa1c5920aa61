// The route record as JSON: the shape `aio route --json`, `aio generate --json`, the server's `aio` object and the
// results log share - written here and read back here, so the reader cannot drift from the writer.
#pragma once

#include <nlohmann/json.hpp>

#include "aio/route.h"

namespace aio {

nlohmann::json probe_json(const ProbeResult &p);
nlohmann::json route_record_json(const RouteRecord &r);
// The record back from route_record_json's JSON. Errors name the first field that is missing or of the wrong type.
Expected<RouteRecord> route_record_from_json(const nlohmann::json &j);

} // namespace aio
