// A-IO embedded in a program through its public face alone (include/aio/aio.h): load a config, route a request and
// answer it. Built by the project's build and run by its tests (tests/e2e/embed_example_test.cpp), so this stays
// enough to use A-IO as a library.
//
//   aio-embed-example CONFIG.yaml "a request"
#include <cstdio>

#include "aio/aio.h"

int main(int argc, char **argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s CONFIG.yaml \"a request\"\n", argv[0]);
    return 2;
  }
  auto orchestrator = aio::Orchestrator::open(argv[1]);
  if (!orchestrator) {
    std::fprintf(stderr, "error: %s\n", orchestrator.status().message().c_str());
    return 1;
  }
  aio::Orchestrator &a = **orchestrator;

  aio::Request request;
  request.messages = {aio::Message::user(argv[2])};
  // Where it would go, without generating.
  auto route = a.route(request);
  if (!route) {
    std::fprintf(stderr, "error: %s\n", route.status().message().c_str());
    return 1;
  }
  std::printf("route: %s -> %s (%s)\n", route->probe.category().c_str(), route->route.model.c_str(),
              route->route.reason.c_str());

  // The answer, streamed as it comes.
  aio::GenerateParams params;
  params.max_tokens = 16;
  auto answer = a.generate(request, params, [](std::string_view piece) {
    std::fwrite(piece.data(), 1, piece.size(), stdout);
    return true;
  });
  if (!answer) {
    std::fprintf(stderr, "\nerror: %s\n", answer.status().message().c_str());
    return 1;
  }
  std::printf("\nrecord: %s\n", aio::route_record_json(answer->record).dump().c_str());
  return 0;
}
