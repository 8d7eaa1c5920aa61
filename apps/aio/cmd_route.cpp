// `aio route`: probe a request and show where the policy sends it, without generating.
#include <cstdio>

#include "commands.h"
#include "aio/route_json.h"
#include "core/router.h"

namespace aio::cli {
namespace {

struct RouteOptions {
  ConfigSource source;
  std::string prompt;
  bool chat = false;
  std::string policy;
  std::string label;
  bool json = false;
};

void print_route(const RouteRecord &r) {
  const ProbeResult &p = r.probe;
  std::printf("category     %s (", p.category().c_str());
  for (size_t i = 0; i < p.categories.size(); ++i)
    std::printf("%s%s %.3f", i ? ", " : "", p.categories[i].c_str(), p.distribution[i]);
  std::printf(")\nentropy      %.4f bits\ncontext      %d tokens\n", p.entropy_bits, p.n_context_tokens);
  std::printf("route        %s / %s%s%s  [policy %s, rule %s]\n", r.route.model.c_str(),
              strategy_name(r.route.strategy), r.route.draft_model.empty() ? "" : " drafted by ",
              r.route.draft_model.c_str(), r.route.policy.c_str(), r.route.rule.c_str());
  std::printf("reason       %s\n", r.route.reason.c_str());
  std::printf("timings      template %.3f ms, probe %.3f ms (%s; queued %.3f ms), route %.4f ms\n", p.template_ms,
              p.probe_ms, p.probe_kind.c_str(), p.wait_ms, r.route_ms);
}

int run_route(const RouteOptions &o) {
  auto router = load_router(o.source);
  if (!router) return report_error(router.status());
  Request req = make_request(o.prompt, o.chat);
  req.policy = o.policy;
  if (!o.label.empty()) req.true_label = o.label;
  auto rec = (*router)->route(req);
  if (!rec) return report_error(rec.status());
  if (o.json) {
    std::printf("%s\n", route_record_json(*rec).dump(2).c_str());
  } else {
    print_route(*rec);
  }
  return 0;
}

} // namespace

void add_route_command(CLI::App &app, Runner &runner) {
  auto opts = std::make_shared<RouteOptions>();
  CLI::App *sub = app.add_subcommand("route", "Probe a request and show the model and strategy the policy picks");
  add_config_source(sub, opts->source, "A-IO config file (e.g. configs/aio.yaml); or --small and --large");
  sub->add_option("-p,--prompt", opts->prompt, "The request text")->required();
  sub->add_flag("--chat", opts->chat, "Treat the prompt as a user chat message (apply the chat template)");
  sub->add_option("--policy", opts->policy, "Policy to use instead of the config's default");
  sub->add_option("--label", opts->label, "The request's true category (only the oracle policy reads it)");
  sub->add_flag("--json", opts->json, "Print JSON");
  sub->callback([opts, &runner] { runner = [opts] { return run_route(*opts); }; });
}

} // namespace aio::cli
