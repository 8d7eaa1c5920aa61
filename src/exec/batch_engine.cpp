#include "exec/batch_engine.h"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace aio::exec {
namespace {
using Clock = std::chrono::steady_clock;
double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}
// Length of the common prefix of a and b, at most `limit`.
size_t common_prefix(const std::vector<llama_token> &a, const std::vector<llama_token> &b, size_t limit) {
  const size_t n = std::min({a.size(), b.size(), limit});
  size_t i = 0;
  while (i < n && a[i] == b[i]) ++i;
  return i;
}
} // namespace

struct BatchEngine::Slot {
  llama_seq_id seq = 0;
  std::optional<Job> job;
  std::vector<llama_token> input;                    // what is prefilled: the prompt (+ the probe's suffix)
  bool probing = false;                              // in the probe stage: no output yet, the verdict decides
  bool parked = false; // probed, to generate here, waiting for one of the n_slots (it holds a probe lane meanwhile)
  std::unique_ptr<engine::OutputTracker> out;        // set once the job generates
  llama_sampler_ptr sampler;                         // plain decoding's draws
  std::unique_ptr<engine::ProbSampler> prob;         // speculative: the target's draws and the acceptance rule
  decode::Proposer *proposer = nullptr;              // speculative: who proposes
  std::vector<llama_token> history;                  // speculative: prompt + output, what proposers read
  decode::Proposal proposal;                         // this step's drafts (verified after the pending token)
  size_t n_prefilled = 0;     // input tokens in the KV cache
  size_t n_cached = 0;        // of those, the prompt prefix an earlier request left in this slot (at admission)
  llama_pos n_past = 0;       // positions used by this sequence
  llama_token pending = -1;   // sampled but not yet decoded (-1 while prefilling)
  int32_t output_row = -1;    // this step's batch row holding the slot's (first) logits
  int32_t prompt_row = -1;    // probing: this step's row of the prompt's last token
  size_t step_prefill = 0;    // prompt tokens this step reads (fill_batch's plan)
  llama_pos filler = -1;      // split KV cache, idle slot: the position of this step's throwaway token (fill_batch)
  std::vector<float> prompt_logits; // probing: the logits after the prompt, kept for the first generated token
  Clock::time_point t_queued, t_admitted;
  // Prompt caching: the tokens this slot's sequence holds in the KV cache from its last job (prompt + output), so a
  // job that starts the same way (the next turn of a chat, a shared system prompt) skips that part.
  std::vector<llama_token> cached;
  uint64_t last_used = 0;     // admission counter when the slot last took a job (least recently used goes first)
  int32_t steps_held = 0;     // steps this job has been in the slot (the load estimate's service time)
  bool active() const { return job.has_value(); }
  bool speculative() const { return proposer != nullptr; }
  // What its request reads before its first token: the input less the prefix the slot had cached (the response
  // ratio's reading, whole - not what is left of it).
  int64_t reading() const { return static_cast<int64_t>(input.size() - n_cached); }
};

Status BatchEngineParams::validate() const {
  if (n_slots < 1) return invalid_argument("n_slots must be at least 1");
  if (n_ctx_per_slot < 16) return invalid_argument("n_ctx_per_slot must be at least 16");
  if (probe_lanes < 0 || probe_lanes > 64) return invalid_argument("probe_lanes must be between 0 and 64");
  if (n_batch < n_slots + probe_lanes)
    return invalid_argument("n_batch must be at least n_slots + probe_lanes (one decode token per sequence)");
  return step_budget.validate();
}

BatchEngine::BatchEngine(const BatchEngineParams &params)
    : params_(params), queue_(params.queue_capacity), budget_(params.step_budget), load_(params.n_slots) {}

BatchEngine::~BatchEngine() {
  if (batch_.token != nullptr) llama_batch_free(batch_);
}

Expected<std::unique_ptr<BatchEngine>> BatchEngine::create(std::shared_ptr<const engine::Model> model,
                                                           const BatchEngineParams &params) {
  AIO_RETURN_IF_ERROR(params.validate());
  std::unique_ptr<BatchEngine> e(new BatchEngine(params));
  engine::SessionParams sp;
  const int32_t n_seqs = params.n_slots + params.probe_lanes;
  sp.n_ctx = params.n_ctx_per_slot * static_cast<uint32_t>(n_seqs);
  sp.n_batch = static_cast<uint32_t>(params.n_batch);
  sp.n_seq_max = static_cast<uint32_t>(n_seqs);
  sp.n_threads = params.n_threads;
  sp.kv_unified = params.kv_unified;
  sp.flash_attn = params.flash_attn;
  sp.count_passes = params.count_passes;
  auto session = engine::Session::create(std::move(model), sp);
  if (!session) return session.status();
  e->session_ = std::move(*session);
  for (int32_t i = 0; i < n_seqs; ++i) {
    e->slots_.push_back(std::make_unique<Slot>());
    e->slots_.back()->seq = i;
  }
  e->batch_ = llama_batch_init(params.n_batch, 0, 1);
  return e;
}

bool BatchEngine::submit(Job job) {
  if (!queue_.try_push({std::move(job), Clock::now()})) return false;
  if (on_submit_) on_submit_();
  return true;
}

void BatchEngine::reset(Slot &slot) {
  slot.job.reset();
  slot.input.clear();
  slot.probing = false;
  slot.parked = false;
  slot.out.reset();
  slot.sampler.reset();
  slot.prob.reset();
  slot.proposer = nullptr;
  slot.history.clear();
  slot.proposal = {};
  slot.prompt_logits.clear();
  slot.pending = -1;
  slot.steps_held = 0;
}

void BatchEngine::finish(Slot &slot, Expected<engine::GenerationRecord> result) {
  if (result.ok() && slot.out) {
    // Keep the sequence's KV for prompt caching: exactly the prompt + output tokens decoded so far.
    slot.cached = slot.job->prompt;
    slot.cached.insert(slot.cached.end(), result->tokens.begin(), result->tokens.end());
    slot.cached.resize(std::min(slot.cached.size(), static_cast<size_t>(slot.n_past)));
  } else if (!result.ok()) {
    session_->truncate(slot.seq); // after a failure the sequence's cache may be in an unknown state
    slot.cached.clear();
  }
  if (result.ok()) load_.job_finished(slot.steps_held, result->n_generated, slot.job->params.max_tokens);
  auto on_done = std::move(slot.job->on_done);
  reset(slot);
  publish_n_active(); // before the caller hears of it: a gauge read after the answer must not count this slot
  if (on_done) on_done(std::move(result));
}

void BatchEngine::release(Slot &slot) {
  slot.cached = slot.job->prompt; // the KV holds the prompt (the suffix was dropped): a later turn may reuse it
  reset(slot);
  publish_n_active();
}

void BatchEngine::abort_all(const Status &why) {
  for (auto &s : slots_)
    if (s->active()) finish(*s, why);
  while (auto queued = queue_.try_pop())
    if (queued->job.on_done) queued->job.on_done(why);
  n_active_ = 0;
  publish_load();
}

BatchEngine::Slot &BatchEngine::pick_slot(const std::vector<llama_token> &prompt) {
  // The free slot holding the longest prefix of the prompt (more than the BOS token), least recently used on a tie,
  // if that prefix is worth taking the slot for: a tenth of the prompt (llama-server's default similarity) or of what
  // the slot holds. Otherwise the least recently used free slot, so unrelated requests do not evict each other's
  // conversations. (Until 2026-12-07 only the slot's share counted: a prompt sharing a short preamble - a system
  // prompt, a chat template's header - with a slot that also held a long answer went to another slot and read the
  // preamble again, where llama-server reused it; on a compute-bound 3B that was ~1 s of a 3 s first token.)
  Slot *by_prefix = nullptr, *lru = nullptr;
  size_t best_len = 1;
  for (auto &s : slots_) {
    if (s->active()) continue;
    if (lru == nullptr || s->last_used < lru->last_used) lru = s.get();
    const size_t len = common_prefix(s->cached, prompt, prompt.size());
    const bool worth = len * 10 >= prompt.size() || len * 10 >= s->cached.size();
    if (len <= 1 || len < best_len || !worth) continue;
    if (len > best_len || by_prefix == nullptr || s->last_used < by_prefix->last_used) {
      by_prefix = s.get();
      best_len = len;
    }
  }
  AIO_CHECK(lru != nullptr);
  return by_prefix ? *by_prefix : *lru;
}

Status Decoding::validate() const {
  if (strategy != Strategy::plain) AIO_RETURN_IF_ERROR(params.validate());
  if (strategy == Strategy::draft && !draft_model)
    return invalid_argument("strategy draft needs a draft model; name one with draft_model in the policy");
  return {};
}

Status BatchEngine::check(const Job &job) const {
  AIO_RETURN_IF_ERROR(job.params.validate());
  if (job.prompt.empty()) return invalid_argument("the prompt is empty");
  AIO_RETURN_IF_ERROR(job.decoding.validate());
  if (job.prompt.size() >= params_.n_ctx_per_slot)
    return context_overflow("the prompt is " + std::to_string(job.prompt.size()) + " tokens but a request to " +
                            model().info().name + " may use " + std::to_string(params_.n_ctx_per_slot) +
                            " (and one more is needed to generate); shorten it or raise the model's n_ctx");
  if (job.probe) {
    if (job.probe->suffix.empty() || !job.probe->on_logits) return invalid_argument("the probe stage is incomplete");
    if (job.prompt.size() + job.probe->suffix.size() > params_.n_ctx_per_slot)
      return context_overflow("the request (" + std::to_string(job.prompt.size()) + " tokens) plus the probe's suffix (" +
                              std::to_string(job.probe->suffix.size()) + ") do not fit the probe model's context of " +
                              std::to_string(params_.n_ctx_per_slot) + " tokens; raise its n_ctx in the config");
  }
  return {};
}

int32_t BatchEngine::n_generating() const {
  return static_cast<int32_t>(std::count_if(slots_.begin(), slots_.end(), [](const auto &s) {
    return s->active() && !s->probing && !s->parked;
  }));
}

void BatchEngine::admit() {
  // Probed jobs waiting for a generation slot go first, oldest first: their prompt is in the KV already, so their
  // first token comes at once.
  while (n_generating() < params_.n_slots) {
    Slot *next = nullptr;
    for (auto &s : slots_)
      if (s->active() && s->parked && (next == nullptr || s->t_queued < next->t_queued)) next = s.get();
    if (next == nullptr) break;
    next->parked = false;
    resume(*next);
  }
  for (;;) {
    const auto busy = std::count_if(slots_.begin(), slots_.end(), [](const auto &s) { return s->active(); });
    if (busy >= n_seqs()) return;
    // With a generation slot free anyone, oldest first; otherwise only a probe stage (reading a request does not
    // need one), passing older jobs without one.
    auto queued = n_generating() < params_.n_slots
                      ? queue_.try_pop()
                      : queue_.try_pop_first([](const Queued &q) { return q.job.probe.has_value(); });
    if (!queued) return;
    Slot &slot = pick_slot(queued->job.prompt);
    slot.last_used = ++n_admitted_;
    slot.job = std::move(queued->job);
    slot.t_queued = queued->t_submit;
    publish_n_active();
    slot.t_admitted = Clock::now();
    const Job &job = *slot.job;
    if (Status bad = check(job); !bad.ok()) {
      finish(slot, bad);
      continue;
    }
    // Keep what the slot cached of this prompt; the last prompt token is always decoded again, for its logits.
    const size_t keep = common_prefix(slot.cached, job.prompt, job.prompt.size() - 1);
    session_->truncate(slot.seq, static_cast<llama_pos>(keep));
    slot.cached.clear();
    slot.input = job.prompt;
    slot.probing = job.probe.has_value();
    if (slot.probing) slot.input.insert(slot.input.end(), job.probe->suffix.begin(), job.probe->suffix.end());
    slot.n_prefilled = keep;
    slot.n_cached = keep;
    slot.n_past = static_cast<llama_pos>(keep);
    slot.pending = -1;
    if (!slot.probing)
      if (Status st = start_decoding(slot); !st.ok()) finish(slot, st);
  }
}

Status BatchEngine::start_decoding(Slot &slot) {
  Job &j = *slot.job;
  // A job whose prompt the probe stage prefilled reuses all of it; otherwise what the slot's cache held.
  const auto n_saved = static_cast<int32_t>(j.probe ? j.prompt.size() : slot.n_prefilled);
  slot.out = std::make_unique<engine::OutputTracker>(model(), j.params, j.on_token, params_.n_ctx_per_slot);
  slot.out->start(static_cast<int32_t>(j.prompt.size()), n_saved,
                  std::chrono::duration<double, std::milli>(slot.t_admitted - slot.t_queued).count());
  slot.out->record().n_prompt_tokens_cached = static_cast<int32_t>(slot.n_cached);
  const int32_t n_vocab = model().info().n_vocab;
  std::unique_ptr<engine::Constrainer> constraints;
  if (j.params.constraints.any()) {
    auto made = engine::Constrainer::create(model(), j.params.constraints);
    if (!made) return made.status();
    constraints = std::move(*made);
  }
  switch (j.decoding.strategy) {
  case Strategy::plain:
    // Constrained requests choose through the ProbSampler, which applies the constraints; the rest keep llama.cpp's
    // sampler chain (and greedy its plain argmax).
    if (constraints) slot.prob = std::make_unique<engine::ProbSampler>(j.params.sampling, n_vocab, std::move(constraints));
    else slot.sampler = engine::make_sampler(j.params.sampling);
    return {};
  case Strategy::pld:
    slot.proposer = &prompt_lookup_;
    break;
  case Strategy::draft: {
    auto &drafter = drafters_[j.decoding.draft_model.get()];
    if (!drafter) {
      // Made on first use, on this thread: the draft model's own KV cache, one sequence per slot.
      auto made = decode::DraftModelProposer::create(j.decoding.draft_model, model(), n_seqs(),
                                                     params_.n_ctx_per_slot, params_.n_batch, params_.n_threads);
      if (!made) {
        drafters_.erase(j.decoding.draft_model.get());
        return made.status();
      }
      drafter = std::move(*made);
    }
    slot.proposer = drafter.get();
    break;
  }
  }
  slot.prob = std::make_unique<engine::ProbSampler>(j.params.sampling, n_vocab, std::move(constraints));
  slot.history = j.prompt;
  slot.proposer->begin(slot.seq, j.decoding.params, j.params.sampling);
  return {};
}

void BatchEngine::propose() {
  // Proposals beyond this share of the batch would crowd out other sequences' tokens.
  const int32_t max_drafts_per_seq = params_.n_batch / n_seqs() - 1;
  std::map<decode::Proposer *, std::vector<decode::ProposalRequest>> requests;
  for (auto &s : slots_) {
    if (!s->active()) continue;
    s->proposal = {};
    if (s->pending < 0 || !s->speculative()) continue;
    // Never draft past the token budget or the context: room for the pending token and the drafts.
    const int32_t budget = std::min({max_drafts_per_seq, s->job->params.max_tokens - s->out->record().n_generated,
                                     static_cast<int32_t>(params_.n_ctx_per_slot) - s->n_past - 1});
    if (budget > 0) requests[s->proposer].push_back({s->seq, s->history, budget, &s->proposal});
  }
  for (auto &[proposer, list] : requests) {
    Status st = proposer->propose(list);
    if (st.ok()) continue;
    // The proposer's state is unknown now for these sequences: end their requests.
    for (auto &s : slots_)
      if (s->active() && s->proposer == proposer) finish(*s, st);
  }
}

BatchEngine::Filled BatchEngine::fill_batch() {
  batch_.n_tokens = 0;
  // Decode tokens come first in the step's budget: each decoding slot's pending token and its drafts.
  int32_t n_decode = 0;
  for (auto &s : slots_) {
    s->output_row = s->prompt_row = -1;
    s->step_prefill = 0;
    s->filler = -1;
    if (s->active() && s->pending >= 0) n_decode += 1 + static_cast<int32_t>(s->proposal.tokens.size());
  }
  // Then prefill chunks up to the step budget, highest response ratio first (StepBudget::response_ratio): with
  // streams running, a long prompt goes in chunks small enough that their next tokens are not held up for long, and a
  // short prompt admitted after it goes first, whole - its first token costs the long one a moment, where behind it
  // it waited out the whole reading (1B, long mix: short prompts waited 0.7-33 s). A prompt's ratio climbs as it
  // waits, so none is passed for good (in slot order, a job in a high slot waited while newcomers in lower slots took
  // every chunk: under overload, some first tokens came minutes late). Equal ratios: the one admitted first.
  const Clock::time_point now = Clock::now();
  std::vector<std::pair<double, Slot *>> prefilling;
  for (auto &s : slots_)
    if (s->active() && s->pending < 0)
      prefilling.emplace_back(budget_.response_ratio(ms_between(s->t_queued, now), s->reading()), s.get());
  std::sort(prefilling.begin(), prefilling.end(), [](const auto &a, const auto &b) {
    return a.first != b.first ? a.first > b.first : a.second->last_used < b.second->last_used;
  });
  std::vector<int32_t> waiting;
  waiting.reserve(prefilling.size());
  for (const auto &[ratio, s] : prefilling) waiting.push_back(static_cast<int32_t>(s->input.size() - s->n_prefilled));
  int32_t prefill_left = budget_.prefill_tokens(n_decode, params_.n_batch - n_decode, waiting, neighbours_);
  for (const auto &[ratio, s] : prefilling) {
    if (prefill_left <= 0) break;
    s->step_prefill = std::min(static_cast<size_t>(prefill_left), s->input.size() - s->n_prefilled);
    prefill_left -= static_cast<int32_t>(s->step_prefill);
  }
  // The tokens go in sequence by sequence in the order below (the plan above decides how many each gets): the order
  // decides nothing in a unified cache, and over split caches it decides the forward passes (emission_order).
  auto add = [&](llama_token t, llama_pos pos, llama_seq_id seq, bool logits) {
    return engine::batch_add(batch_, t, pos, seq, logits);
  };
  int32_t n_fillers = 0;
  for (Slot *s : emission_order()) {
    if (s->filler >= 0) {
      add(0, s->filler, s->seq, false); // any token: its KV is dropped after the step
      ++n_fillers;
    } else if (s->active() && s->pending >= 0) {
      s->output_row = add(s->pending, s->n_past++, s->seq, true);
      for (llama_token d : s->proposal.tokens) add(d, s->n_past++, s->seq, true);
    }
    for (size_t k = 0; k < s->step_prefill; ++k) {
      const size_t i = s->n_prefilled + k;
      const bool last = i + 1 == s->input.size();
      const bool keep_prompt_logits = s->probing && i + 1 == s->job->prompt.size(); // the first token's, if it generates
      const int32_t row = add(s->input[i], s->n_past++, s->seq, last || keep_prompt_logits);
      if (last) s->output_row = row;
      if (keep_prompt_logits) s->prompt_row = row;
    }
    s->n_prefilled += s->step_prefill;
  }
  return {.n_decode = n_decode, .n_fillers = n_fillers, .prompt_waited = !waiting.empty()};
}

std::vector<BatchEngine::Slot *> BatchEngine::emission_order() {
  std::vector<Slot *> in_step; // by sequence id, as slots_ is
  for (auto &s : slots_)
    if (s->active() && (s->pending >= 0 || s->step_prefill > 0)) in_step.push_back(s.get());
  if (params_.kv_unified || in_step.size() < 2) return in_step;
  // Over split caches llama.cpp splits a batch into forward passes (llama_batch_allocr::split_equal): a pass starts
  // at the first token not yet taken and adds each sequence numbered one more than the last it took, one token from
  // each, then more while every one of them has more. Each pass reads all the weights (two streams in slots 0 and 2
  // decoded at one stream's rate, measured), and reads each of its sequences up to its deepest one's cells, rounded
  // up to 256 (llama_kv_cache::get_n_kv). So a step of decoding streams and a prompt chunk of several tokens takes
  // two passes however it is ordered; the order decides what they read:
  // - the streams and the prompt go in passes of their own (a 3,000-token reading beside streams at 300 tokens
  //   would otherwise make every stream's token read its 3,000 cells) - unless the prompt's id lies among theirs,
  //   where leaving it out would split them into two passes: then its first token goes with them;
  // - an idle sequence in a gap between the streams gets a throwaway token that keeps them in one pass, unless its
  //   cache reaches deeper than theirs (every stream would read that far).
  const auto depth = [](const Slot *s) {
    return s->n_past + static_cast<llama_pos>(s->pending >= 0 ? 1 + s->proposal.tokens.size() : s->step_prefill);
  };
  const auto padded = [](llama_pos cells) { return (cells + 255) / 256 * 256; };
  const auto by_seq = [](const Slot *a, const Slot *b) { return a->seq < b->seq; };
  llama_seq_id first = -1, last = -1;
  llama_pos reach = 0;
  for (const Slot *s : in_step)
    if (s->pending >= 0) {
      if (first < 0) first = s->seq;
      last = s->seq;
      reach = std::max(reach, padded(depth(s)));
    }
  if (first < 0) return in_step; // prefill alone: nobody's next token waits on the order
  // A prompt outside the streams' ids goes apart, unless it is one token that reads no deeper than they do (then
  // apart would be a pass more).
  std::vector<Slot *> before, run, after;
  for (Slot *s : in_step) {
    const bool apart = s->pending < 0 && (s->seq < first || s->seq > last) &&
                       (s->step_prefill > 1 || padded(depth(s)) > reach);
    if (!apart) run.push_back(s);
    else (s->seq < first ? before : after).push_back(s);
  }
  for (const Slot *s : run) reach = std::max(reach, padded(depth(s)));
  // Prompts above the streams' ids go first: the pass that starts at them finds no next id among the streams.
  std::vector<Slot *> order(after);
  for (llama_seq_id seq = run.front()->seq; seq <= run.back()->seq; ++seq) {
    Slot *s = slots_[static_cast<size_t>(seq)].get();
    if (std::binary_search(run.begin(), run.end(), s, by_seq)) {
      order.push_back(s);
    } else if (!std::binary_search(in_step.begin(), in_step.end(), s, by_seq)) {
      const llama_pos next = session_->last_pos(seq) + 1;
      if (next < reach) {
        s->filler = next;
        order.push_back(s);
      }
    }
  }
  // Prompts below the streams' ids go last: the streams' pass, which starts earlier in the batch, reaches no id below
  // its first.
  order.insert(order.end(), before.begin(), before.end());
  return order;
}

void BatchEngine::take_output(Slot &s, const float *first) {
  engine::GenerationRecord &rec = s.out->record();
  const int32_t n_vocab = model().info().n_vocab;
  std::vector<llama_token> tokens;
  if (!s.speculative() && !s.prob) {
    tokens.push_back(s.job->params.sampling.greedy() ? engine::argmax(first, n_vocab)
                                                     : engine::sample_from(s.sampler.get(), first, n_vocab));
  } else if (s.proposal.tokens.empty()) {
    tokens.push_back(s.prob->sample(first));
    s.prob->accept(tokens.back());
  } else {
    const int32_t k = static_cast<int32_t>(s.proposal.tokens.size());
    int32_t accepted = 0;
    tokens = decode::accept_drafts([&](int32_t i) { return session_->logits(s.output_row + i); }, s.proposal,
                                   *s.prob, accepted);
    rec.n_drafted += k;
    rec.n_accepted += accepted;
    // The cache holds pending + k drafts; keep pending and the accepted ones.
    const llama_pos kept = s.n_past - k + accepted;
    if (accepted < k) session_->truncate(s.seq, kept);
    s.n_past = kept;
    s.proposer->verified(s.seq, k, accepted, kept);
  }
  if (s.pending >= 0) rec.n_decode_steps += 1;
  const int32_t n_top = s.job->params.logprobs;
  for (size_t i = 0; i < tokens.size(); ++i) {
    const llama_token t = tokens[i];
    std::optional<engine::TokenLogprob> lp;
    // Token i was chosen from the target's logits at row i of this step's output (the first row for plain decoding).
    if (n_top >= 0) lp = engine::logprob_of(model(), i == 0 ? first : session_->logits(s.output_row + static_cast<int32_t>(i)), t, n_top);
    if (!s.out->emit(t, std::move(lp))) {
      finish(s, s.out->finish());
      return;
    }
    if (s.speculative()) s.history.push_back(t);
  }
  s.pending = tokens.back();
}

void BatchEngine::finish_probe(Slot &s) {
  const auto now = Clock::now();
  ProbeVerdict v = s.job->probe->on_logits(session_->logits(s.output_row), ms_between(s.t_queued, s.t_admitted),
                                           ms_between(s.t_admitted, now));
  // Drop the suffix, keep the request: its KV is exactly what generating from the prompt computes.
  const size_t n_prompt = s.job->prompt.size();
  session_->truncate(s.seq, static_cast<llama_pos>(n_prompt));
  s.n_past = static_cast<llama_pos>(n_prompt);
  s.n_prefilled = n_prompt;
  s.input.resize(n_prompt);
  const bool slot_free = n_generating() < params_.n_slots; // before this job counts
  s.probing = false;
  if (!v.error.ok()) return finish(s, v.error);
  if (v.next == ProbeVerdict::Next::release) return release(s);
  s.job->decoding = std::move(v.decoding);
  if (Status st = s.job->decoding.validate(); !st.ok()) return finish(s, st);
  AIO_CHECK(s.prompt_logits.size() == static_cast<size_t>(model().info().n_vocab));
  if (!slot_free) {
    s.parked = true; // read in a probe lane with every slot generating: admit() resumes it when one frees up
    return;
  }
  resume(s);
}

void BatchEngine::resume(Slot &s) {
  if (Status st = start_decoding(s); !st.ok()) return finish(s, st);
  std::vector<float> first = std::move(s.prompt_logits);
  take_output(s, first.data());
}

bool BatchEngine::step() {
  const auto t0 = std::chrono::steady_clock::now();
  load_.step_started(t0, had_work_);
  admit();
  propose();
  const auto [n_decode, n_fillers, prompt_waited] = fill_batch();
  if (batch_.n_tokens == 0) {
    publish_n_active();
    publish_load();
    had_work_ = false;
    return false;
  }
  for (auto &s : slots_)
    if (s->active()) ++s->steps_held;
  const auto t_decode = std::chrono::steady_clock::now();
  Status st = session_->decode(batch_);
  ++n_decode_calls_;
  const double forward_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t_decode).count();
  for (auto &s : slots_)
    if (s->filler >= 0) session_->truncate(s->seq, s->filler); // the throwaway token's KV: the cache is as before
  last_step_ = {.decode = n_decode, .prefill = batch_.n_tokens - n_decode - n_fillers, .forward_ms = forward_ms};
  budget_.observe(last_step_.decode, last_step_.prefill, last_step_.forward_ms, prompt_waited);
  if (!st.ok()) {
    // The KV cache state of these sequences is unknown now: fail every sequence that was in the batch.
    for (auto &s : slots_)
      if (s->active()) finish(*s, st);
  } else {
    const int32_t n_vocab = model().info().n_vocab;
    for (auto &s : slots_) {
      if (!s->active()) continue;
      if (s->probing) {
        if (s->prompt_row >= 0) {
          const float *l = session_->logits(s->prompt_row);
          s->prompt_logits.assign(l, l + n_vocab);
        }
        if (s->output_row >= 0) finish_probe(*s);
      } else if (s->output_row >= 0) {
        take_output(*s, session_->logits(s->output_row));
      }
    }
  }
  publish_n_active();
  publish_load();
  had_work_ = n_active_ > 0 || n_queued() > 0;
  t_last_step_ = std::chrono::steady_clock::now();
  return true;
}

BatchEngine::Waiting BatchEngine::waiting() const {
  Waiting w;
  const Clock::time_point now = Clock::now();
  const auto without_first_token = [&](Clock::time_point since, int64_t prompt_tokens) {
    if (!w.first_token || since < *w.first_token) w.first_token = since;
    w.first_token_ratio = std::max(w.first_token_ratio, budget_.response_ratio(ms_between(since, now), prompt_tokens));
  };
  queue_.for_each([&](const Queued &q) {
    without_first_token(q.t_submit, static_cast<int64_t>(q.job.prompt.size() +
                                                         (q.job.probe ? q.job.probe->suffix.size() : 0)));
  });
  for (const auto &s : slots_) {
    if (!s->active()) continue;
    if (s->pending < 0) { // prefilling (or probing): no token yet
      without_first_token(s->t_queued, s->reading());
    } else {
      w.next_token = t_last_step_;
    }
  }
  return w;
}

bool BatchEngine::streams_waiting() const {
  return std::any_of(slots_.begin(), slots_.end(), [](const auto &s) { return s->active() && s->pending >= 0; });
}

std::optional<std::chrono::steady_clock::time_point> BatchEngine::waiting_since() const {
  const Waiting w = waiting();
  if (!w.first_token) return w.next_token;
  if (!w.next_token) return w.first_token;
  return std::min(*w.first_token, *w.next_token);
}

void BatchEngine::publish_load() {
  // A running job is expected to use the share of its max_tokens that finished jobs used, and at least one more.
  const double share = load_.used_share();
  const double chunk = budget_.chunk(); // tokens a step on average (a duty cycle: less than one)
  std::vector<double> remaining;
  bool decoding = false;
  for (const auto &s : slots_) {
    if (!s->active()) continue;
    const int32_t generated = s->out ? s->out->record().n_generated : 0;
    const double room = static_cast<double>(params_.n_ctx_per_slot) - static_cast<double>(s->n_past);
    const double max_left = std::min<double>(s->job->params.max_tokens - generated, room);
    const double expected_left = std::max(1.0, share * s->job->params.max_tokens - generated);
    double steps = std::max(1.0, std::min(max_left, expected_left));
    if (s->pending < 0) steps += std::ceil(static_cast<double>(s->input.size() - s->n_prefilled) / chunk);
    else decoding = true;
    remaining.push_back(steps);
  }
  // A newcomer's prompt goes in budget chunks beside running streams, in whole batches when none runs (an estimate:
  // with only another engine's streams waiting it goes in steps of the stall allowance).
  load_.publish(std::move(remaining), decoding ? chunk : static_cast<double>(params_.n_batch));
}

void BatchEngine::publish_n_active() {
  n_active_ = static_cast<size_t>(std::count_if(slots_.begin(), slots_.end(), [](auto &s) { return s->active(); }));
}

Expected<engine::GenerationRecord> generate(BatchEngine &engine, const std::vector<llama_token> &prompt,
                                            const GenerateParams &params, Decoding decoding,
                                            const engine::TokenCallback &on_token) {
  std::optional<Expected<engine::GenerationRecord>> result;
  Job job;
  job.prompt = prompt;
  job.params = params;
  job.decoding = std::move(decoding);
  job.on_token = on_token;
  job.on_done = [&result](Expected<engine::GenerationRecord> r) { result = std::move(r); };
  if (!engine.submit(std::move(job)))
    return resource_exhausted("the engine's queue is full or closed; retry when it has room");
  while (!result)
    if (!engine.step() && !result) return internal_error("the engine went idle before the job finished");
  return std::move(*result);
}

} // namespace aio::exec
