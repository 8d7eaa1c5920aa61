#include "engine/session.h"

#include <algorithm>
#include <cstring>
#include <thread>

#include "engine/backend.h"

namespace aio::engine {
namespace {
// llama.cpp asks this about each node of every graph it computes; the first layer's attention norm is in each
// forward pass once. Nothing is observed (false), so the graph still runs in one piece.
bool count_pass(ggml_tensor *t, bool ask, void *passes) {
  if (ask && std::strcmp(t->name, "attn_norm-0") == 0) ++*static_cast<int64_t *>(passes);
  return false;
}
} // namespace

Status SessionParams::validate() const {
  if (n_batch == 0) return invalid_argument("n_batch must be at least 1");
  if (n_seq_max == 0) return invalid_argument("n_seq_max must be at least 1");
  if (n_seq_max > llama_max_parallel_sequences())
    return invalid_argument("n_seq_max must be at most " + std::to_string(llama_max_parallel_sequences()));
  if (n_threads < 0) return invalid_argument("n_threads must be >= 0 (0 = all hardware threads)");
  return {};
}

Expected<std::unique_ptr<Session>> Session::create(std::shared_ptr<const Model> model, const SessionParams &params) {
  AIO_RETURN_IF_ERROR(params.validate());
  AIO_CHECK(model != nullptr);
  ensure_backend();
  clear_backend_error();

  llama_context_params cp = llama_context_default_params();
  cp.n_ctx = params.n_ctx;
  cp.n_batch = params.n_batch;
  cp.n_ubatch = std::min(params.n_batch, cp.n_ubatch);
  cp.n_seq_max = params.n_seq_max;
  const int32_t threads =
      params.n_threads > 0 ? params.n_threads : static_cast<int32_t>(std::max(1u, std::thread::hardware_concurrency()));
  cp.n_threads = threads;
  cp.n_threads_batch = threads;
  cp.no_perf = true;
  cp.kv_unified = params.kv_unified;
  cp.flash_attn_type = params.flash_attn;

  std::unique_ptr<Session> s(new Session());
  if (params.count_passes) {
    cp.cb_eval = count_pass;
    cp.cb_eval_user_data = &s->passes_;
  }
  llama_context *ctx = llama_init_from_model(model->raw(), cp);
  if (ctx == nullptr) {
    std::string why = last_backend_error();
    return resource_exhausted("could not create a context of " + std::to_string(params.n_ctx) + " tokens for " +
                              model->info().name + (why.empty() ? "" : ": " + why) +
                              "; try a smaller context size");
  }
  s->model_ = std::move(model);
  s->ctx_.reset(ctx);
  return s;
}

uint32_t Session::n_ctx() const { return llama_n_ctx(ctx_.get()); }
uint32_t Session::n_batch() const { return llama_n_batch(ctx_.get()); }

Status Session::decode(const llama_batch &batch) {
  const int32_t rc = llama_decode(ctx_.get(), batch);
  switch (rc) {
  case 0: return {};
  case 1:
    return resource_exhausted("no room in the KV cache for a batch of " + std::to_string(batch.n_tokens) +
                              " tokens (context " + std::to_string(n_ctx()) + "); free a sequence or use a larger context");
  case 2: return aborted("decode was aborted");
  case -1: return invalid_argument("llama_decode rejected the batch as invalid: " + last_backend_error());
  default:
    return internal_error("llama_decode failed with code " + std::to_string(rc) + ": " + last_backend_error());
  }
}


const float *Session::logits(int32_t i) const { return llama_get_logits_ith(ctx_.get(), i); }

void Session::truncate(llama_seq_id seq, llama_pos from) {
  llama_memory_seq_rm(llama_get_memory(ctx_.get()), seq, from, -1);
}

int32_t batch_add(llama_batch &batch, llama_token token, llama_pos pos, llama_seq_id seq, bool logits) {
  const int32_t i = batch.n_tokens++;
  batch.token[i] = token;
  batch.pos[i] = pos;
  batch.n_seq_id[i] = 1;
  batch.seq_id[i][0] = seq;
  batch.logits[i] = logits;
  return i;
}



void Session::clear() { llama_memory_clear(llama_get_memory(ctx_.get()), true); }

llama_pos Session::last_pos(llama_seq_id seq) const {
  return llama_memory_seq_pos_max(llama_get_memory(ctx_.get()), seq);
}

} // namespace aio::engine
