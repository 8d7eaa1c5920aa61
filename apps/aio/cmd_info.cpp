// `aio info`: load a model and report its shape.
#include <cstdio>

#include "commands.h"

namespace aio::cli {
namespace {

struct InfoOptions {
  std::string model;
  bool json = false;
};

int run_info(const InfoOptions &o) {
  auto model = engine::Model::load({.path = o.model});
  if (!model) return report_error(model.status());
  const engine::ModelInfo &i = (*model)->info();
  if (o.json) {
    std::printf("%s\n", model_info_json(i).dump(2).c_str());
    return 0;
  }
  std::printf("model        %s\n", i.path.c_str());
  std::printf("name         %s\n", i.name.c_str());
  std::printf("architecture %s (%s)\n", i.arch.c_str(), i.description.c_str());
  std::printf("parameters   %.2fM\n", i.n_params / 1e6);
  std::printf("weights      %.1f MiB, %s\n", i.n_bytes / 1048576.0, i.file_type.c_str());
  std::printf("layers       %d, hidden %d, heads %d (KV %d)\n", i.n_layer, i.n_embd, i.n_head, i.n_head_kv);
  std::printf("vocabulary   %d tokens%s\n", i.n_vocab, i.has_chat_template ? ", with chat template" : "");
  std::printf("context      %d tokens (training)\n", i.n_ctx_train);
  if (i.synthetic) std::printf("%s (preset %s)\n", kSyntheticNotice, i.synthetic_preset.c_str());
  return 0;
}

} // namespace

void add_info_command(CLI::App &app, Runner &runner) {
  auto opts = std::make_shared<InfoOptions>();
  CLI::App *sub = app.add_subcommand("info", "Show a GGUF model's architecture, size, vocabulary and context");
  sub->add_option("model", opts->model, "Path of the .gguf file")->required();
  sub->add_flag("--json", opts->json, "Print JSON");
  sub->callback([opts, &runner] { runner = [opts] { return run_info(*opts); }; });
}

} // namespace aio::cli
