#include "synth/gguf_writer.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <thread>
#include <vector>

#include "ggml.h"
#include "gguf.h"

namespace aio::synth {
namespace {

// llama_ftype values (llama.h) written to general.file_type.
constexpr uint32_t kFtypeF16 = 1, kFtypeQ4_0 = 2, kFtypeQ8_0 = 7;

struct TensorPlan {
  std::string name;
  int64_t ne0 = 0, ne1 = 1;  // ggml order: ne0 is the row length
  bool is_norm = false;      // 1-D RMS-norm weights: F32 ones
};

std::vector<TensorPlan> plan_tensors(const ArchPreset &p, int64_t n_vocab) {
  const int64_t e = p.n_embd, head_dim = p.n_embd / p.n_head, kv = head_dim * p.n_head_kv;
  std::vector<TensorPlan> t;
  t.push_back({"token_embd.weight", e, n_vocab});
  t.push_back({"output_norm.weight", e, 1, true});
  if (!p.tied_embeddings) t.push_back({"output.weight", e, n_vocab});
  for (int i = 0; i < p.n_layer; ++i) {
    const std::string b = "blk." + std::to_string(i) + ".";
    t.push_back({b + "attn_norm.weight", e, 1, true});
    t.push_back({b + "attn_q.weight", e, e});
    t.push_back({b + "attn_k.weight", e, kv});
    t.push_back({b + "attn_v.weight", e, kv});
    t.push_back({b + "attn_output.weight", e, e});
    t.push_back({b + "ffn_norm.weight", e, 1, true});
    t.push_back({b + "ffn_gate.weight", e, p.n_ff});
    t.push_back({b + "ffn_up.weight", e, p.n_ff});
    t.push_back({b + "ffn_down.weight", p.n_ff, e});
  }
  return t;
}

ggml_type ggml_type_of(WeightType t) {
  switch (t) {
  case WeightType::f16: return GGML_TYPE_F16;
  case WeightType::q8_0: return GGML_TYPE_Q8_0;
  case WeightType::q4_0: return GGML_TYPE_Q4_0;
  }
  return GGML_TYPE_F32;
}

uint64_t splitmix64(uint64_t &state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// Row r of tensor i gets its own stream, so the values do not depend on how rows are split among threads.
void fill_row(float *out, int64_t n, uint64_t seed, size_t tensor_index, int64_t row, float amplitude) {
  uint64_t state = seed ^ (0xA5A5A5A5ULL * (tensor_index + 1)) ^ (static_cast<uint64_t>(row) << 20);
  splitmix64(state);
  for (int64_t j = 0; j < n; ++j) {
    const double u = static_cast<double>(splitmix64(state) >> 11) * (1.0 / 9007199254740992.0); // [0, 1)
    out[j] = static_cast<float>((2.0 * u - 1.0) * amplitude);
  }
}

struct FileCloser {
  void operator()(FILE *f) const { std::fclose(f); }
};
struct GgufFree {
  void operator()(gguf_context *c) const { gguf_free(c); }
};
struct GgmlFree {
  void operator()(ggml_context *c) const { ggml_free(c); }
};

void set_metadata(gguf_context *g, const SynthParams &p) {
  const ArchPreset &a = p.preset;
  const VocabSpec &v = p.vocab;
  gguf_set_val_str(g, "general.architecture", "llama");
  gguf_set_val_str(g, "general.name", ("aio-synthetic-" + a.name).c_str());
  const std::string desc = "SYNTHETIC: random weights at the " + a.name + " shape, made by `aio synth` (seed " +
                           std::to_string(p.seed) + "). Its outputs are meaningless; only speed and memory are real.";
  gguf_set_val_str(g, "general.description", desc.c_str());
  const uint32_t ftype = p.type == WeightType::f16 ? kFtypeF16 : p.type == WeightType::q8_0 ? kFtypeQ8_0 : kFtypeQ4_0;
  gguf_set_val_u32(g, "general.file_type", ftype);
  gguf_set_val_u32(g, "general.quantization_version", GGML_QNT_VERSION);
  gguf_set_val_bool(g, "aio.synthetic", true);
  gguf_set_val_str(g, "aio.synthetic.preset", a.name.c_str());
  gguf_set_val_u64(g, "aio.synthetic.seed", p.seed);
  gguf_set_val_str(g, "aio.synthetic.tokenizer", v.source.c_str());

  gguf_set_val_u32(g, "llama.context_length", a.n_ctx_train);
  gguf_set_val_u32(g, "llama.embedding_length", a.n_embd);
  gguf_set_val_u32(g, "llama.block_count", a.n_layer);
  gguf_set_val_u32(g, "llama.feed_forward_length", a.n_ff);
  gguf_set_val_u32(g, "llama.attention.head_count", a.n_head);
  gguf_set_val_u32(g, "llama.attention.head_count_kv", a.n_head_kv);
  gguf_set_val_u32(g, "llama.rope.dimension_count", a.n_embd / a.n_head);
  gguf_set_val_f32(g, "llama.rope.freq_base", a.rope_freq_base);
  gguf_set_val_f32(g, "llama.attention.layer_norm_rms_epsilon", a.rms_norm_eps);
  gguf_set_val_u32(g, "llama.vocab_size", static_cast<uint32_t>(v.tokens.size()));

  gguf_set_val_str(g, "tokenizer.ggml.model", "gpt2");
  gguf_set_val_str(g, "tokenizer.ggml.pre", v.pre.c_str());
  std::vector<const char *> strs;
  for (const auto &s : v.tokens) strs.push_back(s.c_str());
  gguf_set_arr_str(g, "tokenizer.ggml.tokens", strs.data(), strs.size());
  gguf_set_arr_data(g, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, v.token_types.data(), v.token_types.size());
  strs.clear();
  for (const auto &s : v.merges) strs.push_back(s.c_str());
  gguf_set_arr_str(g, "tokenizer.ggml.merges", strs.data(), strs.size());
  gguf_set_val_u32(g, "tokenizer.ggml.bos_token_id", static_cast<uint32_t>(v.bos_id));
  gguf_set_val_u32(g, "tokenizer.ggml.eos_token_id", static_cast<uint32_t>(v.eos_id));
  if (v.eot_id >= 0) gguf_set_val_u32(g, "tokenizer.ggml.eot_token_id", static_cast<uint32_t>(v.eot_id));
  gguf_set_val_bool(g, "tokenizer.ggml.add_bos_token", true);
  if (!v.chat_template.empty()) gguf_set_val_str(g, "tokenizer.chat_template", v.chat_template.c_str());
}

} // namespace

Expected<WeightType> parse_weight_type(const std::string &name) {
  if (name == "f16" || name == "F16") return WeightType::f16;
  if (name == "q8_0" || name == "Q8_0") return WeightType::q8_0;
  if (name == "q4_0" || name == "Q4_0") return WeightType::q4_0;
  return invalid_argument("unknown weight type '" + name + "'; use f16, q8_0 or q4_0");
}

const char *weight_type_name(WeightType t) {
  switch (t) {
  case WeightType::f16: return "f16";
  case WeightType::q8_0: return "q8_0";
  case WeightType::q4_0: return "q4_0";
  }
  return "?";
}

Status SynthParams::validate() const {
  if (out_path.empty()) return invalid_argument("no output path: pass -o FILE.gguf");
  if (vocab.tokens.empty()) return invalid_argument("the vocabulary is empty");
  if (preset.n_embd % preset.n_head != 0) return invalid_argument("preset hidden size is not a multiple of its heads");
  if (preset.n_embd % 32 != 0 || preset.n_ff % 32 != 0)
    return invalid_argument("preset widths must be multiples of 32 (the quantization block size)");
  if (n_threads < 0) return invalid_argument("n_threads must be >= 0");
  return {};
}

Status write_synthetic_gguf(const SynthParams &params, const SynthProgress &progress) {
  AIO_RETURN_IF_ERROR(params.validate());
  const int64_t n_vocab = static_cast<int64_t>(params.vocab.tokens.size());
  const std::vector<TensorPlan> plan = plan_tensors(params.preset, n_vocab);
  const ggml_type wtype = ggml_type_of(params.type);

  ggml_init_params ip = {ggml_tensor_overhead() * (plan.size() + 1), nullptr, /*no_alloc=*/true};
  std::unique_ptr<ggml_context, GgmlFree> gctx(ggml_init(ip));
  std::unique_ptr<gguf_context, GgufFree> gguf(gguf_init_empty());
  if (!gctx || !gguf) return internal_error("could not allocate GGUF metadata");
  set_metadata(gguf.get(), params);

  uint64_t total_bytes = 0;
  std::vector<ggml_type> types;
  for (const auto &t : plan) {
    const ggml_type type = t.is_norm ? GGML_TYPE_F32 : wtype;
    ggml_tensor *tensor = t.ne1 == 1 && t.is_norm ? ggml_new_tensor_1d(gctx.get(), type, t.ne0)
                                                  : ggml_new_tensor_2d(gctx.get(), type, t.ne0, t.ne1);
    ggml_set_name(tensor, t.name.c_str());
    gguf_add_tensor(gguf.get(), tensor);
    types.push_back(type);
    total_bytes += ggml_nbytes(tensor);
  }

  const std::string partial = params.out_path + ".partial";
  std::unique_ptr<FILE, FileCloser> f(std::fopen(partial.c_str(), "wb"));
  if (!f) return invalid_argument("cannot write " + partial + " (does the directory exist and is it writable?)");
  auto fail = [&](const std::string &what) {
    f.reset();
    std::remove(partial.c_str());
    return Status(StatusCode::internal, "writing " + params.out_path + " failed: " + what + " (disk full?)");
  };

  std::vector<uint8_t> meta(gguf_get_meta_size(gguf.get()));
  gguf_get_meta_data(gguf.get(), meta.data());
  if (std::fwrite(meta.data(), 1, meta.size(), f.get()) != meta.size()) return fail("metadata");
  const size_t align = gguf_get_alignment(gguf.get());

  const int n_threads = params.n_threads > 0 ? params.n_threads : std::max(1u, std::thread::hardware_concurrency());
  // Rows are produced in slabs of ~32 MiB of F32 so even an 8B model's embedding never needs gigabytes at once.
  constexpr int64_t kSlabFloats = 8 << 20;
  // Amplitude of the uniform weights: std 0.02, the usual initialiser scale, keeps activations finite.
  const float amplitude = 0.02f * std::sqrt(3.0f);
  uint64_t done = 0;
  std::vector<uint8_t> out;
  std::vector<float> src;
  for (size_t ti = 0; ti < plan.size(); ++ti) {
    const TensorPlan &t = plan[ti];
    const ggml_type type = types[ti];
    const size_t row_bytes = ggml_row_size(type, t.ne0);
    const int64_t rows_per_slab = std::max<int64_t>(1, kSlabFloats / t.ne0);
    for (int64_t r0 = 0; r0 < t.ne1; r0 += rows_per_slab) {
      const int64_t nrows = std::min(rows_per_slab, t.ne1 - r0);
      src.resize(static_cast<size_t>(nrows * t.ne0));
      out.resize(static_cast<size_t>(nrows) * row_bytes);
      auto work = [&](int64_t a, int64_t b) {
        for (int64_t r = a; r < b; ++r) {
          float *row = src.data() + r * t.ne0;
          if (t.is_norm) std::fill(row, row + t.ne0, 1.0f);
          else fill_row(row, t.ne0, params.seed, ti, r0 + r, amplitude);
        }
        if (b <= a) return;
        float *s = src.data() + a * t.ne0;
        uint8_t *d = out.data() + static_cast<size_t>(a) * row_bytes;
        if (type == GGML_TYPE_F32) std::copy(s, s + (b - a) * t.ne0, reinterpret_cast<float *>(d));
        else if (type == GGML_TYPE_F16) ggml_fp32_to_fp16_row(s, reinterpret_cast<ggml_fp16_t *>(d), (b - a) * t.ne0);
        else ggml_quantize_chunk(type, s, d, 0, b - a, t.ne0, nullptr);
      };
      std::vector<std::thread> pool;
      const int64_t per = (nrows + n_threads - 1) / n_threads;
      for (int k = 1; k < n_threads; ++k) pool.emplace_back(work, std::min(nrows, k * per), std::min(nrows, (k + 1) * per));
      work(0, std::min(nrows, per));
      for (auto &th : pool) th.join();
      if (std::fwrite(out.data(), 1, out.size(), f.get()) != out.size()) return fail("tensor " + t.name);
      done += out.size();
      if (progress) progress(done, total_bytes);
    }
    const size_t nbytes = row_bytes * static_cast<size_t>(t.ne1);
    const size_t pad = GGML_PAD(nbytes, align) - nbytes;
    static const uint8_t zeros[256] = {};
    AIO_CHECK(pad <= sizeof(zeros));
    if (pad > 0 && std::fwrite(zeros, 1, pad, f.get()) != pad) return fail("padding");
  }
  if (std::fflush(f.get()) != 0) return fail("flush");
  f.reset();
  std::error_code ec;
  std::filesystem::rename(partial, params.out_path, ec);
  if (ec) return internal_error("cannot rename " + partial + " to " + params.out_path + ": " + ec.message());
  return {};
}

} // namespace aio::synth
