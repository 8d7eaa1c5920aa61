#include "config/pair_config.h"

#include <filesystem>

namespace aio::config {
namespace fs = std::filesystem;

namespace {
// A path as a YAML double-quoted scalar: any character a file name may hold stays what it is.
std::string quoted(const std::string &s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string absolute(const std::string &path) {
  std::error_code ec;
  const fs::path abs = fs::absolute(path, ec);
  return ec ? path : abs.lexically_normal().string();
}
} // namespace

std::string pair_config_yaml(const PairSpec &pair) {
  const std::string ctx = std::to_string(pair.n_ctx);
  return "# A-IO configuration, written by `aio config init`: the paper's policy over a small and a large model, both\n"
         "# resident. `aio serve --config THIS_FILE` serves it; edit it to grow (the annotated aio.yaml in aio's data\n"
         "# directory, configs/, shows every key).\n"
         "\n"
         "categories: [code, qa, math]\n"
         "entropy_unit: bits          # tau and every entropy threshold are Shannon entropy in bits (max log2(3) = "
         "1.585)\n"
         "\n"
         "models:\n"
         "  # n_ctx: each model's context (KV cache) in tokens per slot; n_gpu_layers: layers on an accelerator (-1 = "
         "all);\n"
         "  # slots: the sequences this model decodes together (default: aio serve --slots)\n"
         "  small: {path: " + quoted(absolute(pair.small)) + ", n_ctx: " + ctx + "}\n"
         "  large: {path: " + quoted(absolute(pair.large)) + ", n_ctx: " + ctx + "}\n"
         "\n"
         "probe:\n"
         "  # fasttext: a word n-gram classifier trained on real requests, shipped with aio (microseconds per request).\n"
         "  # lm: the paper's probe - one forward pass of the small model over the request (kind: lm, model: small).\n"
         "  kind: fasttext\n"
         "  fasttext_model: builtin   # or the path of one made by `aio probe train` (with your own categories)\n"
         "\n"
         "policy: aio                 # the paper's; aio-load trades accuracy for capacity under load; the others are\n"
         "                            # baselines and ablations (policies.yaml in aio's data directory, configs/)\n"
         "\n"
         "decoding:\n"
         "  pld_window: 6             # prompt lookup decoding: the n-gram matched (the paper's N)\n"
         "  pld_lookahead: 2          # and the tokens proposed after a match (the paper's L)\n"
         "  draft_tokens: 4           # tokens the small model drafts per step in draft-model speculation\n"
         "\n"
         "threads: 0                  # CPU threads per model; 0 = all\n"
         "\n"
         "# Chunked prefill: a long prompt never stalls the running streams for long (auto measures this machine).\n"
         "step_budget: auto\n"
         "step_factor: 2.0\n"
         "# A short prompt goes whole beside running streams if it fits in this many ms (auto: 7 decode steps; 0: off).\n"
         "max_stall_ms: auto\n";
}

} // namespace aio::config
