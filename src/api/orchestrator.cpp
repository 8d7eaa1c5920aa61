// aio::Orchestrator (include/aio/aio.h): the public face over the Router.
#include "aio/aio.h"

#include "config/config.h"
#include "core/router.h"

namespace aio {

struct Orchestrator::Impl {
  std::unique_ptr<core::Router> router;
};

Orchestrator::Orchestrator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Orchestrator::~Orchestrator() = default;

Expected<std::unique_ptr<Orchestrator>> Orchestrator::open(const std::string &config_path, const OpenOptions &options) {
  if (options.slots < 1) return invalid_argument("OpenOptions.slots must be at least 1 (got " +
                                                 std::to_string(options.slots) + ")");
  auto cfg = config::load_config(config_path);
  if (!cfg) return cfg.status();
  auto router = core::Router::create(std::move(*cfg), {.n_slots = options.slots, .queue_capacity = options.queue});
  if (!router) return router.status();
  auto impl = std::make_unique<Impl>();
  impl->router = std::move(*router);
  return std::unique_ptr<Orchestrator>(new Orchestrator(std::move(impl)));
}

Expected<RouteRecord> Orchestrator::route(const Request &request) { return impl_->router->route(request); }

Expected<Answer> Orchestrator::generate(const Request &request, const GenerateParams &params,
                                        const std::function<bool(std::string_view)> &on_text) {
  engine::TokenCallback on_token;
  if (on_text)
    on_token = [&on_text](std::string_view piece, llama_token, std::span<const engine::TokenLogprob>) {
      return on_text(piece);
    };
  auto done = impl_->router->generate(request, params, on_token);
  if (!done) return done.status();
  return Answer{std::move(done->generation.text), std::move(done->record)};
}

std::vector<std::string> Orchestrator::models() const { return impl_->router->model_names(); }
const std::string &Orchestrator::policy() const { return impl_->router->config().policy; }

} // namespace aio
