#include "serve/batch_engine.h"

#include <algorithm>

#include "decode/adaptive_draft.h"
#include "decode/prompt_lookup.h"

namespace aio::serve {

struct BatchEngine::Slot {
  llama_seq_id seq = 0;
  std::optional<Job> job;
  std::unique_ptr<engine::OutputTracker> out;
  llama_sampler_ptr sampler;                         // plain decoding's draws
  std::unique_ptr<engine::ProbSampler> prob;         // speculative: the target's draws and the acceptance rule
  std::unique_ptr<engine::ProbSampler> draft_prob;   // draft: the drafter's draws
  BatchDrafter *drafter = nullptr;                   // draft: who proposes
  std::optional<decode::AdaptiveDraftLength> adaptive;
  std::vector<llama_token> history;                  // speculative: prompt + output, where lookups search
  decode::Proposal proposal;                         // this step's drafts (verified after the pending token)
  size_t n_prefilled = 0;     // prompt tokens in the KV cache
  llama_pos n_past = 0;       // positions used by this sequence
  llama_token pending = -1;   // sampled but not yet decoded (-1 while prefilling)
  int32_t output_row = -1;    // the first batch output holding this slot's logits in this step
  // Prompt caching: what this idle slot's sequence still holds in the KV cache from its last request (prompt +
  // output), so a request that starts the same way (the next turn of a chat, a shared system prompt) skips that part.
  std::vector<llama_token> cached;
  uint64_t last_used = 0;     // admission counter when the slot last took a request (least recently used goes first)
  bool active() const { return job.has_value(); }
  bool speculative() const { return job->strategy != Strategy::plain; }
};

Status BatchEngineParams::validate() const {
  if (n_slots < 1) return invalid_argument("n_slots must be at least 1");
  if (n_ctx_per_slot < 16) return invalid_argument("n_ctx_per_slot must be at least 16");
  if (n_batch < n_slots) return invalid_argument("n_batch must be at least n_slots (one decode token per slot)");
  return {};
}

BatchEngine::BatchEngine(const BatchEngineParams &params) : params_(params), queue_(params.queue_capacity) {}

BatchEngine::~BatchEngine() {
  if (batch_.token != nullptr) llama_batch_free(batch_);
}

Expected<std::unique_ptr<BatchEngine>> BatchEngine::create(std::shared_ptr<const engine::Model> model,
                                                           const BatchEngineParams &params) {
  AIO_RETURN_IF_ERROR(params.validate());
  std::unique_ptr<BatchEngine> e(new BatchEngine(params));
  engine::SessionParams sp;
  sp.n_ctx = params.n_ctx_per_slot * static_cast<uint32_t>(params.n_slots);
  sp.n_batch = static_cast<uint32_t>(params.n_batch);
  sp.n_seq_max = static_cast<uint32_t>(params.n_slots);
  sp.n_threads = params.n_threads;
  sp.kv_unified = params.kv_unified;
  auto session = engine::Session::create(std::move(model), sp);
  if (!session) return session.status();
  e->session_ = std::move(*session);
  for (int32_t i = 0; i < params.n_slots; ++i) {
    e->slots_.push_back(std::make_unique<Slot>());
    e->slots_.back()->seq = i;
  }
  e->batch_ = llama_batch_init(params.n_batch, 0, 1);
  return e;
}

Status BatchEngine::add_drafter(const std::string &name, std::shared_ptr<const engine::Model> draft) {
  if (drafters_.count(name)) return {};
  auto drafter = BatchDrafter::create(std::move(draft), model(), params_.n_slots, params_.n_ctx_per_slot,
                                      params_.n_batch, params_.n_threads);
  if (!drafter) return drafter.status();
  drafters_[name] = std::move(*drafter);
  return {};
}

bool BatchEngine::submit(Job job) { return queue_.try_push(std::move(job)); }

size_t BatchEngine::n_active() const {
  return static_cast<size_t>(std::count_if(slots_.begin(), slots_.end(), [](const auto &s) { return s->active(); }));
}

void BatchEngine::finish(Slot &slot, Expected<engine::GenerationRecord> result) {
  if (slot.out && result.ok()) {
    // Keep the sequence's KV for prompt caching: exactly the prompt + output tokens decoded so far.
    slot.cached = slot.job->prompt;
    slot.cached.insert(slot.cached.end(), result->tokens.begin(), result->tokens.end());
    slot.cached.resize(std::min(slot.cached.size(), static_cast<size_t>(slot.n_past)));
  } else if (slot.out) {
    session_->truncate(slot.seq); // after a failed decode the sequence's cache is in an unknown state
    slot.cached.clear();
  }
  if (slot.drafter) slot.drafter->reset(slot.seq);
  Job job = std::move(*slot.job);
  slot.job.reset();
  slot.out.reset();
  slot.sampler.reset();
  slot.prob.reset();
  slot.draft_prob.reset();
  slot.drafter = nullptr;
  slot.adaptive.reset();
  slot.history.clear();
  slot.proposal = {};
  if (job.on_done) job.on_done(std::move(result));
}

void BatchEngine::abort_all(const Status &why) {
  for (auto &s : slots_)
    if (s->active()) finish(*s, why);
  while (std::optional<Job> job = queue_.try_pop())
    if (job->on_done) job->on_done(why);
}

namespace {
// Length of the common prefix of a and b, at most `limit`.
size_t common_prefix(const std::vector<llama_token> &a, const std::vector<llama_token> &b, size_t limit) {
  const size_t n = std::min({a.size(), b.size(), limit});
  size_t i = 0;
  while (i < n && a[i] == b[i]) ++i;
  return i;
}
} // namespace

int32_t BatchEngine::reuse_kv(Slot &slot, Job &job) {
  // The last prompt token is always decoded again, for its logits.
  const size_t limit = job.prompt.size() - 1;
  const size_t from_slot = common_prefix(slot.cached, job.prompt, limit);
  const size_t from_probe = job.cached_state.empty() ? 0 : common_prefix(job.cached_tokens, job.prompt, limit);
  size_t keep = from_slot;
  if (from_probe > from_slot) // the probe's KV replaces the slot's; a load that fails leaves the sequence empty
    keep = session_->load_sequence(slot.seq, job.cached_state).ok() ? from_probe : 0;
  session_->truncate(slot.seq, static_cast<llama_pos>(keep));
  job.cached_state = {};
  job.cached_tokens = {};
  slot.cached.clear();
  return static_cast<int32_t>(keep);
}

BatchEngine::Slot &BatchEngine::pick_slot(const std::vector<llama_token> &prompt) {
  // The slot holding the longest prefix of the prompt, if that prefix is worth the slot's cache it overwrites (more
  // than the BOS token, and at least a tenth of what the slot holds, like llama-server's default similarity);
  // otherwise the least recently used free slot, so unrelated requests do not evict each other's conversations.
  Slot *by_prefix = nullptr, *lru = nullptr;
  size_t best_len = 1;
  for (auto &s : slots_) {
    if (s->active()) continue;
    if (lru == nullptr || s->last_used < lru->last_used) lru = s.get();
    const size_t len = common_prefix(s->cached, prompt, prompt.size());
    if (len > best_len && len * 10 >= s->cached.size()) {
      by_prefix = s.get();
      best_len = len;
    }
  }
  AIO_CHECK(lru != nullptr);
  return by_prefix ? *by_prefix : *lru;
}

void BatchEngine::admit() {
  while (n_active() < slots_.size()) {
    std::optional<Job> job = queue_.try_pop();
    if (!job) return;
    Slot &slot = pick_slot(job->prompt);
    slot.last_used = ++n_admitted_;
    slot.job = std::move(job);
    Job &j = *slot.job;
    Status bad = j.params.validate();
    if (bad.ok()) bad = j.strategy_params.validate();
    if (bad.ok() && j.prompt.empty()) bad = invalid_argument("the prompt is empty");
    if (bad.ok() && j.strategy == Strategy::draft) {
      auto d = drafters_.find(j.draft_model);
      if (d == drafters_.end())
        bad = invalid_argument("no drafter '" + j.draft_model + "' is set up for model " + model().info().name);
      else
        slot.drafter = d->second.get();
    }
    if (bad.ok() && j.prompt.size() >= params_.n_ctx_per_slot)
      bad = context_overflow("the prompt is " + std::to_string(j.prompt.size()) + " tokens but a request may use " +
                             std::to_string(params_.n_ctx_per_slot) + "; shorten it or raise the per-slot context");
    if (!bad.ok()) {
      finish(slot, bad);
      continue;
    }
    const int32_t n_cached = reuse_kv(slot, j);
    slot.out = std::make_unique<engine::OutputTracker>(session_->model(), j.params, j.on_token, params_.n_ctx_per_slot);
    slot.out->start(static_cast<int32_t>(j.prompt.size()), n_cached);
    const int32_t n_vocab = model().info().n_vocab;
    if (j.strategy == Strategy::plain) {
      slot.sampler = engine::make_sampler(j.params.sampling);
    } else {
      slot.prob = std::make_unique<engine::ProbSampler>(j.params.sampling, n_vocab);
      slot.history = j.prompt;
    }
    if (slot.drafter) {
      slot.draft_prob = std::make_unique<engine::ProbSampler>(decode::drafter_sampling(j.params.sampling), n_vocab);
      slot.adaptive.emplace(j.strategy_params.draft_tokens);
      slot.drafter->reset(slot.seq);
    }
    slot.n_prefilled = static_cast<size_t>(n_cached);
    slot.n_past = n_cached;
    slot.pending = -1;
  }
}

void BatchEngine::propose() {
  // Proposals beyond this share of the batch would crowd out other sequences' tokens.
  const int32_t max_drafts_per_seq = params_.n_batch / params_.n_slots - 1;
  std::map<BatchDrafter *, std::vector<BatchDrafter::Want>> wants;
  for (auto &s : slots_) {
    if (!s->active()) continue;
    s->proposal = {};
    if (s->pending < 0 || !s->speculative()) continue;
    const Job &j = *s->job;
    // Never draft past the token budget or the context: room for the pending token and the drafts.
    const int32_t budget = std::min({max_drafts_per_seq, j.params.max_tokens - s->out->record().n_generated,
                                     static_cast<int32_t>(params_.n_ctx_per_slot) - s->n_past - 1});
    if (j.strategy == Strategy::pld) {
      const int32_t k = std::min(budget, j.strategy_params.pld_lookahead);
      if (k > 0) s->proposal.tokens = decode::propose_prompt_lookup(s->history, j.strategy_params.pld_window, k);
    } else if (j.strategy == Strategy::draft) {
      const int32_t k = std::min(budget, s->adaptive->next());
      if (k > 0)
        wants[s->drafter].push_back({s->seq, s->history, k, s->draft_prob.get(), !j.params.sampling.greedy(),
                                     &s->proposal});
    }
  }
  for (auto &[drafter, list] : wants) {
    Status st = drafter->propose(list);
    if (st.ok()) continue;
    // The drafter's cache is in an unknown state for these sequences: end their requests.
    for (auto &s : slots_)
      if (s->active() && s->drafter == drafter) finish(*s, st);
  }
}

void BatchEngine::take_output(Slot &s) {
  const float *first = session_->logits(s.output_row);
  engine::GenerationRecord &rec = s.out->record();
  std::vector<llama_token> tokens;
  if (!s.speculative()) {
    const engine::GenerateParams &p = s.job->params;
    tokens.push_back(p.sampling.greedy() ? engine::argmax(first, model().info().n_vocab)
                                         : llama_sampler_sample(s.sampler.get(), session_->raw(), s.output_row));
  } else if (s.proposal.tokens.empty()) {
    tokens.push_back(s.prob->draw(s.prob->distribution(first)));
  } else {
    const int32_t k = static_cast<int32_t>(s.proposal.tokens.size());
    int32_t accepted = 0;
    tokens = decode::accept_drafts([&](int32_t i) { return session_->logits(s.output_row + i); }, s.proposal,
                                   *s.prob, accepted);
    rec.n_drafted += k;
    rec.n_accepted += accepted;
    if (s.adaptive) s.adaptive->observe(k, accepted);
    // The cache holds pending + k drafts; keep pending and the accepted ones.
    const llama_pos kept = s.n_past - k + accepted;
    if (accepted < k) session_->truncate(s.seq, kept);
    s.n_past = kept;
    if (s.drafter) s.drafter->keep(s.seq, kept);
  }
  if (s.pending >= 0) rec.n_decode_steps += 1;
  for (llama_token t : tokens) {
    if (!s.out->emit(t)) {
      finish(s, s.out->finish());
      return;
    }
    if (s.speculative()) s.history.push_back(t);
  }
  s.pending = tokens.back();
}

bool BatchEngine::step() {
  admit();
  propose();
  // Decode tokens first (each decoding slot's pending token and its drafts), then prefill chunks fill the rest of
  // the batch, oldest slot first.
  batch_.n_tokens = 0;
  auto add = [&](llama_token t, llama_pos pos, llama_seq_id seq, bool logits) {
    return engine::batch_add(batch_, t, pos, seq, logits);
  };
  for (auto &s : slots_) {
    s->output_row = -1;
    if (!s->active() || s->pending < 0) continue;
    s->output_row = add(s->pending, s->n_past++, s->seq, true);
    for (llama_token d : s->proposal.tokens) add(d, s->n_past++, s->seq, true);
  }
  for (auto &s : slots_) {
    if (!s->active() || s->pending >= 0) continue;
    const auto &prompt = s->job->prompt;
    const size_t room = static_cast<size_t>(params_.n_batch - batch_.n_tokens);
    const size_t n = std::min(room, prompt.size() - s->n_prefilled);
    for (size_t k = 0; k < n; ++k) {
      const bool last = s->n_prefilled + k + 1 == prompt.size();
      const int32_t row = add(prompt[s->n_prefilled + k], s->n_past++, s->seq, last);
      if (last) s->output_row = row;
    }
    s->n_prefilled += n;
  }
  if (batch_.n_tokens == 0) return false;

  Status st = session_->decode(batch_);
  ++n_decode_calls_;
  if (!st.ok()) {
    // The KV cache state of these sequences is unknown now: fail every sequence that was in the batch.
    for (auto &s : slots_)
      if (s->active()) finish(*s, st);
    return true;
  }
  for (auto &s : slots_)
    if (s->active() && s->output_row >= 0) take_output(*s);
  return true;
}

} // namespace aio::serve
