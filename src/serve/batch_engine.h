// BatchEngine: continuous batching for one model. Up to n_slots sequences share one llama_context; every step puts
// the next token of each decoding sequence and prefill chunks of newly admitted ones into ONE llama_decode, so the
// weights are read once per step for all of them (the memory-bound cost the paper is about). New requests join
// between steps; a long prompt is prefilled in chunks so it does not stall the others. A finished request's KV stays
// in its slot, and a new request goes to the slot that already holds the longest prefix of its prompt (prompt caching,
// as llama-server does: the next turn of a chat prefills only what is new). Each sequence decodes with its
// request's strategy: plain, PLD or draft-model speculation, whose proposals are verified inside the same batched
// step (a sequence contributes its pending token plus its drafts), so speculation and batching add up.
// Not thread-safe except submit(): one thread drives step().
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "aio/route.h"
#include "engine/output_tracker.h"
#include "engine/sampling.h"
#include "serve/admission_queue.h"
#include "serve/batch_drafter.h"

namespace aio::serve {

struct BatchEngineParams {
  int32_t n_slots = 4;            // sequences decoded together
  uint32_t n_ctx_per_slot = 2048; // context each sequence may use (prompt + output)
  int32_t n_batch = 512;          // most tokens per llama_decode: decode tokens first, prefill chunks fill the rest
  int32_t n_threads = 0;          // CPU threads (0 = all)
  size_t queue_capacity = 64;     // waiting requests beyond the slots; more are refused
  bool kv_unified = true;         // one KV cache for all slots (false: n_ctx_per_slot cells each)
  Status validate() const;
};

struct Job {
  std::vector<llama_token> prompt;
  engine::GenerateParams params;
  Strategy strategy = Strategy::plain;
  StrategyParams strategy_params;
  std::string draft_model;                                          // Strategy::draft: a drafter added before
  // KV already computed for a prefix of `prompt` in another session of this model (the lm probe's; bytes from
  // Session::save_sequence): loaded into the slot instead of prefilling those tokens again.
  std::vector<llama_token> cached_tokens;
  std::vector<uint8_t> cached_state;
  engine::TokenCallback on_token;                                   // on the engine thread; false cancels
  std::function<void(Expected<engine::GenerationRecord>)> on_done;   // exactly once, on the engine thread
};

class BatchEngine {
public:
  static Expected<std::unique_ptr<BatchEngine>> create(std::shared_ptr<const engine::Model> model,
                                                       const BatchEngineParams &params);
  ~BatchEngine();

  // Lets jobs use `draft` (named `name`) as their draft model. Call before step() runs. Fails when its vocabulary
  // differs from this engine's model.
  Status add_drafter(const std::string &name, std::shared_ptr<const engine::Model> draft);

  // Queues a job; false when the queue is full or closed (the caller answers 429 or 503). Thread-safe.
  bool submit(Job job);
  // Admits queued jobs into free slots, runs one batched decode, emits each sequence's next token. Returns false when
  // there was nothing to do.
  bool step();
  // Refuses new jobs; queued and running ones still finish when step() is driven.
  void close() { queue_.close(); }
  // Ends every running and queued job now with `why` (shutdown past its grace period). Engine thread only.
  void abort_all(const Status &why);
  // Blocks up to `timeout` until a job is queued (an idle worker's wait between steps).
  template <typename Rep, typename Period> void wait_for_work(std::chrono::duration<Rep, Period> timeout) {
    queue_.wait_nonempty_for(timeout);
  }

  size_t n_active() const;
  size_t n_queued() const { return queue_.size(); }
  int64_t n_decode_calls() const { return n_decode_calls_; }
  const engine::Model &model() const { return session_->model(); }

private:
  struct Slot;
  BatchEngine(const BatchEngineParams &params);
  void admit();
  // The free slot whose cached tokens share the longest prefix with `prompt` (least recently used on a tie).
  Slot &pick_slot(const std::vector<llama_token> &prompt);
  // Readies the slot's KV for `job`: keeps what the slot cached from its last request or loads the job's lm-probe
  // prefix, whichever covers more of the prompt. Returns how many prompt tokens need no prefill.
  int32_t reuse_kv(Slot &slot, Job &job);
  // Asks PLD lookups and the drafters for this step's proposals of every decoding speculative sequence.
  void propose();
  // Takes the output of one decoded sequence: emits its next token(s) and keeps its KV consistent with them.
  void take_output(Slot &slot);
  void finish(Slot &slot, Expected<engine::GenerationRecord> result);

  BatchEngineParams params_;
  std::unique_ptr<engine::Session> session_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::map<std::string, std::unique_ptr<BatchDrafter>> drafters_;
  AdmissionQueue<Job> queue_;
  llama_batch batch_{};
  int64_t n_decode_calls_ = 0;
  uint64_t n_admitted_ = 0;
};

} // namespace aio::serve
