// The OpenAI request parser, on request bodies as any client could send them, for both endpoints. Properties: it
// never crashes or throws; what it refuses is a 4xx with a message; what it accepts can be forwarded upstream
// (the upstream body serializes).
#include "fuzz_target.h"
#include "openai/openai_json.h"
#include "openai/upstream.h"

AIO_FUZZ_TARGET(fuzz_openai_request) {
  using namespace aio::openai;
  const std::string body(reinterpret_cast<const char *>(data), size);
  const RequestLimits limits;
  for (const Endpoint endpoint : {Endpoint::chat_completions, Endpoint::completions}) {
    ApiRequest request;
    if (const auto error = parse_request(body, endpoint, limits, request)) {
      aio::fuzz::require(error->http_status >= 400 && error->http_status < 500 && !error->message.empty());
      (void)error->to_json().dump();
      continue;
    }
    aio::fuzz::require(request.params.max_tokens > 0 && request.params.max_tokens <= limits.max_tokens_cap);
    (void)upstream_body(request_of(request), request.params, "upstream-model").dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  return 0;
}
