// BatchEngine: the one executor. Every token A-IO generates - for `aio serve`, `aio generate`, `aio bench`, the
// probe - is decoded here. Up to n_slots sequences share one llama_context; every step puts the next token of each
// decoding sequence and prefill chunks of newly admitted ones into ONE llama_decode, so the weights are read once per
// step for all of them (the memory-bound cost the paper is about). New jobs join between steps; a long prompt is
// prefilled in chunks so it does not stall the others. A finished job's KV stays in its slot, and a new job goes to
// the slot that already holds the longest prefix of its prompt (prompt caching, as llama-server does).
//
// Speculation: a job's strategy names a Proposer (prompt lookup, or a draft model); the proposals of every speculative
// sequence are verified inside the same batched step (a sequence contributes its pending token plus its drafts).
//
// The lm probe is a job stage: the request's tokens and then a classification suffix are prefilled like any prompt,
// riding in the same steps as everyone's decode tokens; the logits after the suffix go to the job's ProbeStage, which
// decides (the policy, upstream) whether the job generates here - the request's KV stays in place, only the suffix's
// is dropped - or is released to continue elsewhere.
//
// Thread-safety: submit() and the counters are thread-safe; one thread drives step() (exec::Scheduler).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "aio/route.h"
#include "decode/draft_proposer.h"
#include "decode/proposer.h"
#include "engine/generation.h"
#include "engine/output_tracker.h"
#include "exec/admission_queue.h"
#include "exec/load_estimate.h"
#include "exec/step_budget.h"

namespace aio::exec {

struct BatchEngineParams {
  int32_t n_slots = 4;            // sequences decoded together
  // Extra sequences for reading requests: the lm probe's pass over a request needs a sequence but no generation slot,
  // so with every slot generating it still goes in beside them instead of queueing behind them (it decides where the
  // request runs; a request routed elsewhere would otherwise wait for this model's slot first). A probed job that is
  // to generate here waits in its lane, its prompt's KV ready, until one of the n_slots frees up.
  int32_t probe_lanes = 0;
  uint32_t n_ctx_per_slot = 2048; // context each sequence may use (prompt + output)
  int32_t n_batch = 512;          // most tokens per llama_decode: decode tokens first, prefill chunks fill the rest
  int32_t n_threads = 0;          // CPU threads (0 = all)
  size_t queue_capacity = 64;     // waiting jobs beyond the slots; more are refused
  // One KV cache for all sequences (true, the default), or a stream of n_ctx_per_slot cells each (false, as
  // llama-server has it with several slots). Split, each sequence's attention reads only its own cells, and 8 streams
  // decoding together ran at 0.986 of llama-server's rate against 0.963 unified (six alternated repeats) - but over
  // split caches the pinned llama.cpp puts only sequences with consecutive ids in one ubatch (llama_batch_allocr::
  // split_equal, sequential), so streams in non-adjacent slots decode in separate forward passes: two streams ran at
  // one stream's rate (9.1 instead of 17.8 tok/s) in every fourth pair of bench/serve_vs_llama_server.py's 2-stream
  // level, as the slots they were given came round. Slots are picked for their cached prompts, not their ids, so the
  // cache stays unified by default. Split, the engine fills such gaps with a throwaway token per idle sequence (its KV
  // dropped after the step), unless that sequence's cache is deeper than the step's (BatchEngine::emission_order).
  bool kv_unified = true;
  llama_flash_attn_type flash_attn = LLAMA_FLASH_ATTN_TYPE_AUTO; // config's models.NAME.flash_attn
  StepBudgetParams step_budget;   // prefill tokens per step beside running decodes (step_budget.h)
  bool count_passes = false;      // tests: count llama.cpp's forward passes (n_forward_passes)
  Status validate() const;
};

// How a job decodes once it generates.
struct Decoding {
  Strategy strategy = Strategy::plain;
  StrategyParams params;
  std::shared_ptr<const engine::Model> draft_model; // Strategy::draft: the model that drafts (same vocabulary)
  Status validate() const;
};

// What a probe stage decided when its logits arrived.
struct ProbeVerdict {
  enum class Next { generate_here, release } next = Next::release;
  Decoding decoding; // generate_here: how
  Status error;      // not ok: the job ends with this error (its on_done is called)
};

// The lm probe's stage of a job: `suffix` after the prompt; on_logits gets the logits after the suffix and the
// stage's timings (queued, then prefilling) and decides. On release the engine forgets the job without calling its
// on_done: whoever released it now owns the request. Called on the engine thread.
struct ProbeStage {
  std::vector<llama_token> suffix;
  std::function<ProbeVerdict(const float *logits, double wait_ms, double probe_ms)> on_logits;
};

struct Job {
  std::vector<llama_token> prompt;
  GenerateParams params;
  Decoding decoding;
  std::optional<ProbeStage> probe;                                  // classify first (the lm probe)
  engine::TokenCallback on_token;                                   // on the engine thread; false cancels
  std::function<void(Expected<engine::GenerationRecord>)> on_done;   // exactly once (unless released), engine thread
};

class BatchEngine {
public:
  static Expected<std::unique_ptr<BatchEngine>> create(std::shared_ptr<const engine::Model> model,
                                                       const BatchEngineParams &params);
  ~BatchEngine();

  // Queues a job; false when the queue is full or closed (the caller answers 429 or 503). Thread-safe.
  bool submit(Job job);
  // Called after every successful submit (the scheduler's wake-up). Set before jobs arrive.
  void set_on_submit(std::function<void()> notify) { on_submit_ = std::move(notify); }
  // Admits queued jobs into free slots, runs one batched decode, emits each sequence's next token(s). Returns false
  // when there was nothing to do.
  bool step();
  // Refuses new jobs; queued and running ones still finish when step() is driven.
  void close() { queue_.close(); }
  // Ends every running and queued job now with `why` (shutdown past its grace period). Engine thread only.
  void abort_all(const Status &why);
  // True once close() was called (submit refuses from then on).
  bool closed() const { return queue_.closed(); }
  // True while a job is running or queued.
  bool busy() const { return n_active() > 0 || n_queued() > 0; }

  size_t n_active() const { return n_active_.load(); }
  size_t n_queued() const { return queue_.size(); }
  int32_t n_slots() const { return params_.n_slots; }
  // Busy slots, queue and the expected wait of a new request of `prompt_tokens` for its first token (for a slot, then
  // its prefill; load_estimate.h). Thread-safe.
  ModelLoad load(int32_t prompt_tokens = 0) const {
    return load_.load(static_cast<int32_t>(n_queued()), prompt_tokens);
  }
  int64_t n_decode_calls() const { return n_decode_calls_; }
  // The forward passes those calls ran (BatchEngineParams::count_passes; else 0): one per call, unless llama.cpp split
  // a call's batch (over split KV caches: per run of consecutive sequence ids).
  int64_t n_forward_passes() const { return session_->n_passes(); }
  // Since when its requests have waited (engine thread only; what a scheduler's turn order reads): the oldest without
  // a first token (queued, probing or prefilling: since it was submitted), and its decoding streams for their next
  // token (since the engine's last step); each nullopt when there is none. first_token_ratio: the highest response
  // ratio among the requests without a first token (StepBudget::response_ratio of their whole prompts at this
  // engine's measured costs; 0 when there is none) - which engine's first tokens go first, across models.
  struct Waiting {
    std::optional<std::chrono::steady_clock::time_point> first_token, next_token;
    double first_token_ratio = 0;
  };
  Waiting waiting() const;
  // Whether any stream waits for its next token: waiting().next_token without walking the queue (scheduler thread).
  bool streams_waiting() const;
  // The earlier of the two: since when its longest-waiting request has waited for a token; nullopt when idle.
  std::optional<std::chrono::steady_clock::time_point> waiting_since() const;
  // Who else is on the cores through the next step - another model's engine taking turns with this one, and whether
  // its streams wait for their next token: the scheduler sets it before each step (engine thread), and the step
  // budget holds this engine's prompt-only steps to match (step_budget.h).
  void set_neighbours(Neighbours n) { neighbours_ = n; }
  // The step cost model (engine thread; its figures are plain doubles, read elsewhere only for display).
  const StepBudget &step_budget() const { return budget_; }
  // What the engine's last step with work carried (engine thread): its decode tokens (every stream's next token and
  // drafts), its prefill tokens (prompts and probe suffixes), and how long the batched forward pass itself took.
  struct StepTokens {
    int32_t decode = 0, prefill = 0;
    double forward_ms = 0;
  };
  const StepTokens &last_step() const { return last_step_; }
  const engine::Model &model() const { return session_->model(); }

private:
  struct Slot;
  struct Queued {
    Job job;
    std::chrono::steady_clock::time_point t_submit; // the probe stage reports how long it waited
  };
  BatchEngine(const BatchEngineParams &params);
  int32_t n_seqs() const { return params_.n_slots + params_.probe_lanes; }
  // Jobs holding a generation slot: generating or prefilling to generate (not probing, not parked in a lane).
  int32_t n_generating() const;
  void admit();
  Status check(const Job &job) const;
  // The free slot whose cached tokens share the longest prefix with `prompt` (least recently used on a tie).
  Slot &pick_slot(const std::vector<llama_token> &prompt);
  // Sets up how the slot's job decodes: samplers and its proposer (a draft model's is made on first use).
  Status start_decoding(Slot &slot);
  // Asks the proposers for this step's drafts of every decoding speculative sequence.
  void propose();
  // Fills the batch: each decoding slot's pending token and drafts, then prefill chunks, highest response ratio first,
  // up to the step budget (in sequence order, with fillers over a split cache). Returns the number of decode tokens,
  // of throwaway filler tokens (the rest are prefill) and whether a prompt was waiting for its prefill (the step
  // budget's duty cycle counts such steps).
  struct Filled {
    int32_t n_decode = 0;
    int32_t n_fillers = 0;
    bool prompt_waited = false;
  };
  Filled fill_batch();
  // The slots whose tokens this step carries, in the order they go into the batch; over a split KV cache also the idle
  // slots that get a throwaway token (Slot::filler) to keep the step in few forward passes.
  std::vector<Slot *> emission_order();
  // Takes the output of one decoded sequence: emits its next token(s) and keeps its KV consistent with them.
  void take_output(Slot &slot, const float *logits);
  // The probe stage's logits arrived: ask the stage, then generate here or release the slot.
  void finish_probe(Slot &slot);
  // Starts a probed job generating from its prompt's KV: its first token from the logits the probe kept.
  void resume(Slot &slot);
  void finish(Slot &slot, Expected<engine::GenerationRecord> result);
  // Ends the slot's job without a result (released elsewhere); the prompt's KV stays cached.
  void release(Slot &slot);
  void reset(Slot &slot);
  // Updates the count other threads read (n_active()): after every change of a slot, before callbacks run.
  void publish_n_active();
  // Publishes the steps each busy slot still needs (for load()): after every step.
  void publish_load();

  BatchEngineParams params_;
  std::unique_ptr<engine::Session> session_;
  std::vector<std::unique_ptr<Slot>> slots_;
  decode::PromptLookupProposer prompt_lookup_;
  std::map<const engine::Model *, std::unique_ptr<decode::DraftModelProposer>> drafters_;
  AdmissionQueue<Queued> queue_;
  std::function<void()> on_submit_;
  llama_batch batch_{};
  StepBudget budget_;
  Neighbours neighbours_ = Neighbours::none; // set_neighbours
  StepTokens last_step_;                     // last_step
  LoadEstimate load_;
  std::chrono::steady_clock::time_point t_last_step_{}; // when the last step's tokens were emitted
  bool had_work_ = false; // the last step left work behind (the next one follows on: its interval is a step's time)
  int64_t n_decode_calls_ = 0;
  uint64_t n_admitted_ = 0;
  std::atomic<size_t> n_active_{0};
};

// Generates one job's continuation with `engine`, driving its steps on the calling thread until the job is done: the
// sequential form of the executor (tests, `aio generate -m`). The engine must have no other driver.
Expected<engine::GenerationRecord> generate(BatchEngine &engine, const std::vector<llama_token> &prompt,
                                            const GenerateParams &params, Decoding decoding = {},
                                            const engine::TokenCallback &on_token = {});

} // namespace aio::exec
