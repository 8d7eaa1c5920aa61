// The route record rendered, in one place: as JSON - the shape `aio route --json`, `aio generate --json`, the server's
// `aio` object and the results log share, written here and read back here, so the reader cannot drift from the
// writer - as the server's x-aio-* headers, and as a row of the live stats' recent requests.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "aio/route.h"

namespace aio {

nlohmann::json probe_json(const ProbeResult &p);
nlohmann::json route_record_json(const RouteRecord &r);
// The record back from route_record_json's JSON. Errors name the first field that is missing or of the wrong type.
Expected<RouteRecord> route_record_from_json(const nlohmann::json &j);
// The route as HTTP headers, for clients that cannot read the body's `aio` object (e.g. while streaming):
// x-aio-model, x-aio-policy, x-aio-strategy, and when the probe ran x-aio-category and x-aio-entropy-bits.
std::vector<std::pair<std::string, std::string>> route_record_headers(const RouteRecord &r);
// A short summary of one request for a live view: its category and entropy, the probe, model, strategy and reason,
// the probe's added latency, the load that decided (if any), and what answering took (replica, tokens, time to first
// token, decode speed, draft acceptance) from `answered`, or record.generation when null. A request no probe read
// has the category "unprobed".
nlohmann::json route_record_row(const RouteRecord &r, const GenerationStats *answered = nullptr);

} // namespace aio
