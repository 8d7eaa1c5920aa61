// Continuous batching: several sequences in one llama_decode per step give the same greedy tokens as each alone.
#include <gtest/gtest.h>

#include "exec/batch_engine.h"
#include "support/tiny_models.h"

namespace aio::exec {
namespace {

using test::greedy;

struct Outcome {
  bool done = false;
  Expected<engine::GenerationRecord> result = internal_error("not finished");
  std::string streamed;
};

Job job_for(const engine::Model &m, const std::string &text, int n, Outcome &o) {
  Job j;
  j.prompt = *m.tokenize(text);
  j.params = greedy(n);
  j.on_token = [&o](std::string_view piece, llama_token, auto) {
    o.streamed += piece;
    return true;
  };
  j.on_done = [&o](Expected<engine::GenerationRecord> r) {
    o.done = true;
    o.result = std::move(r);
  };
  return j;
}

class BatchEngineTest : public ::testing::Test {
protected:
  void SetUp() override {
    model_ = *engine::Model::load({.path = test::tiny_pair().large_path});
    engine_ = engine_with(3, "", 0, /*queue_capacity=*/4);
    ASSERT_TRUE(engine_);
  }
  void drain() {
    for (int guard = 0; guard < 10000 && engine_->step(); ++guard) {
    }
  }
  std::vector<llama_token> alone(const std::string &text, int n) {
    auto solo = test::one_slot_engine(model_, 512);
    return exec::generate(*solo, *model_->tokenize(text), greedy(n))->tokens;
  }
  // An engine of its own on the same model: n_slots (+ probe lanes), 512 context each, one thread, `budget` ("" = auto).
  std::unique_ptr<BatchEngine> engine_with(int32_t n_slots, const std::string &budget = "", int32_t probe_lanes = 0,
                                           size_t queue_capacity = 64, double max_stall_ms = 0) {
    BatchEngineParams p;
    p.n_slots = n_slots;
    p.probe_lanes = probe_lanes;
    p.queue_capacity = queue_capacity;
    p.n_ctx_per_slot = 512;
    p.n_batch = 64;
    p.n_threads = 1;
    if (!budget.empty()) p.step_budget = *StepBudgetParams::parse(budget, 2.0);
    p.step_budget.max_stall_ms = max_stall_ms;
    auto e = BatchEngine::create(model_, p);
    EXPECT_TRUE(e.ok()) << e.status().to_string();
    return e.ok() ? std::move(*e) : nullptr;
  }
  // An engine over split KV caches (a stream of n_ctx cells per slot) that counts llama.cpp's forward passes.
  std::unique_ptr<BatchEngine> split_engine(int32_t n_slots, uint32_t n_ctx, const std::string &budget) {
    BatchEngineParams p;
    p.n_slots = n_slots;
    p.n_ctx_per_slot = n_ctx;
    p.n_batch = 64;
    p.n_threads = 1;
    p.kv_unified = false;
    p.count_passes = true;
    p.step_budget = *StepBudgetParams::parse(budget, 2.0);
    p.step_budget.max_stall_ms = 0;
    auto e = BatchEngine::create(model_, p);
    EXPECT_TRUE(e.ok()) << e.status().to_string();
    return e.ok() ? std::move(*e) : nullptr;
  }
  std::shared_ptr<engine::Model> model_;
  std::unique_ptr<BatchEngine> engine_;
};

// "token0 token1 ... " - a prompt of about n tokens that repeats nothing.
std::string numbered_words(int n) {
  std::string text;
  for (int i = 0; i < n; ++i) text += "token" + std::to_string(i) + " ";
  return text;
}

TEST_F(BatchEngineTest, ASequenceAloneInTheEngineMatchesPlainGenerate) {
  for (const auto &[text, n] : std::vector<std::pair<std::string, int>>{{"def fibonacci(n):", 20}, {"the the the the", 25}}) {
    Outcome o;
    ASSERT_TRUE(engine_->submit(job_for(*model_, text, n, o)));
    drain();
    ASSERT_TRUE(o.result.ok()) << o.result.status().to_string();
    EXPECT_EQ(o.result->tokens, alone(text, n)) << text;
    EXPECT_EQ(o.streamed, o.result->text);
  }
}

// NOTE: llama.cpp's CPU kernels are not batch-invariant (a batch of several rows may take another matmul path than a
// single row, e.g. llamafile's sgemm), so a sequence decoded next to others can differ from its solo run where two
// tokens are nearly tied. What holds, and is asserted: batching is deterministic, every sequence completes, and the
// steps are shared (one llama_decode serves all of them).
TEST_F(BatchEngineTest, ConcurrentSequencesShareStepsDeterministically) {
  const std::vector<std::pair<std::string, int>> reqs = {
      {"def fibonacci(n):", 20}, {"What is the capital of France?", 12}, {"the the the the", 25}};
  auto run_all = [&] {
    std::vector<Outcome> out(reqs.size());
    for (size_t i = 0; i < reqs.size(); ++i)
      EXPECT_TRUE(engine_->submit(job_for(*model_, reqs[i].first, reqs[i].second, out[i])));
    const int64_t calls_before = engine_->n_decode_calls();
    drain();
    EXPECT_LE(engine_->n_decode_calls() - calls_before, 26) << "the longest request should bound the step count";
    std::vector<std::vector<llama_token>> tokens;
    for (size_t i = 0; i < reqs.size(); ++i) {
      EXPECT_TRUE(out[i].done);
      EXPECT_TRUE(out[i].result.ok());
      EXPECT_EQ(out[i].result->n_generated, reqs[i].second);
      EXPECT_EQ(out[i].streamed, out[i].result->text);
      tokens.push_back(out[i].result->tokens);
    }
    return tokens;
  };
  const auto first = run_all();
  const auto second = run_all();
  EXPECT_EQ(first, second);
  EXPECT_EQ(engine_->n_active(), 0u);
  // Where solo and batched runs agree on the first token (no near-tie at the start), batching did not scramble the
  // sequences: each got its own continuation, not a neighbour's.
  for (size_t i = 0; i < reqs.size(); ++i) EXPECT_EQ(first[i].front(), alone(reqs[i].first, 1).front()) << reqs[i].first;
}

TEST_F(BatchEngineTest, NewRequestsJoinBetweenSteps) {
  Outcome first, second;
  ASSERT_TRUE(engine_->submit(job_for(*model_, "abc abc abc", 30, first)));
  for (int i = 0; i < 5; ++i) engine_->step();
  EXPECT_EQ(engine_->n_active(), 1u);
  ASSERT_TRUE(engine_->submit(job_for(*model_, "Question: why?", 10, second)));
  engine_->step();
  EXPECT_EQ(engine_->n_active(), 2u) << "the second request should join while the first decodes";
  drain();
  ASSERT_TRUE(first.result.ok() && second.result.ok());
  EXPECT_EQ(first.result->n_generated, 30);
  EXPECT_EQ(second.result->n_generated, 10);
}

TEST_F(BatchEngineTest, LongPromptsArePrefilledInChunks) {
  std::string text;
  for (int i = 0; i < 40; ++i) text += "token" + std::to_string(i) + " ";
  Outcome o;
  ASSERT_TRUE(engine_->submit(job_for(*model_, text, 5, o)));
  drain();
  ASSERT_TRUE(o.result.ok()) << o.result.status().to_string();
  EXPECT_GT(o.result->n_prompt_tokens, 64) << "the prompt should need more than one batch";
  EXPECT_EQ(o.result->tokens, alone(text, 5));
}

// Chunked prefill with a step budget: a long prompt arriving while another sequence decodes goes in chunks of at
// most the budget (here 12 tokens a step, one of them the running sequence's), so it takes at least that many steps,
// while the running sequence gets a token every step; both finish.
TEST_F(BatchEngineTest, ALongPromptAmongRunningStreamsGoesInChunksOfTheStepBudget) {
  auto e = engine_with(2, "12");
  ASSERT_TRUE(e);
  Outcome running, longer;
  ASSERT_TRUE(e->submit(job_for(*model_, "abc abc abc", 200, running)));
  for (int i = 0; i < 3; ++i) e->step();
  const std::string text = numbered_words(40);
  const auto n_prompt = static_cast<int64_t>(model_->tokenize(text)->size());
  ASSERT_TRUE(e->submit(job_for(*model_, text, 3, longer)));
  const int64_t calls_before = e->n_decode_calls();
  const size_t streamed_before = running.streamed.size();
  while (longer.streamed.empty() && !longer.done && e->step()) {
  }
  const int64_t steps = e->n_decode_calls() - calls_before;
  EXPECT_GE(steps, (n_prompt + 10) / 11) << n_prompt << " prompt tokens, 11 a step";
  EXPECT_GT(running.streamed.size(), streamed_before) << "the running sequence kept decoding";
  while (e->step()) {
  }
  ASSERT_TRUE(running.result.ok() && longer.result.ok());
  EXPECT_EQ(running.result->n_generated, 200);
  EXPECT_EQ(longer.result->n_generated, 3);
  EXPECT_EQ(longer.result->n_prompt_tokens, n_prompt);
}

// The same with the running streams on another engine (the scheduler says so before each step): the prompt still
// goes in the budget's chunks, not in whole batches of 64.
TEST_F(BatchEngineTest, ALongPromptGoesInChunksWhileAnotherEnginesStreamsWait) {
  const std::string text = numbered_words(60);
  const auto n_prompt = static_cast<int64_t>(model_->tokenize(text)->size());
  ASSERT_GT(n_prompt, 100);
  for (bool others : {false, true}) {
    auto e = engine_with(1, "12");
    ASSERT_TRUE(e);
    e->set_neighbours(others ? Neighbours::waiting : Neighbours::none);
    Outcome o;
    ASSERT_TRUE(e->submit(job_for(*model_, text, 3, o)));
    while (o.streamed.empty() && !o.done && e->step()) {
    }
    if (others) EXPECT_GE(e->n_decode_calls(), n_prompt / 12) << n_prompt << " prompt tokens, 12 a step";
    else EXPECT_LE(e->n_decode_calls(), (n_prompt + 63) / 64) << "nobody waits: whole batches of 64";
    while (e->step()) {
    }
    ASSERT_TRUE(o.result.ok());
    EXPECT_EQ(o.result->tokens, alone(text, 3));
  }
}

// With a stall allowed (max_stall_ms), a prompt the engine expects to prefill within it goes in one step beside the
// running stream, budget or not; the same prompt without one takes the budget's chunks (the test above).
TEST_F(BatchEngineTest, AShortPromptWithinTheStallAllowedGoesInOneStepBesideRunningStreams) {
  auto e = engine_with(2, "12", 0, 64, /*max_stall_ms=*/60000);
  ASSERT_TRUE(e);
  Outcome running, shorter;
  // The running stream's own prompt, prefilled alone, tells the budget what a prefill token costs here.
  ASSERT_TRUE(e->submit(job_for(*model_, numbered_words(30), 200, running)));
  for (int i = 0; i < 4; ++i) e->step();
  ASSERT_GT(e->step_budget().prefill_token_ms(), 0);
  const std::string text = numbered_words(15);
  const size_t n_prompt = model_->tokenize(text)->size();
  ASSERT_GT(n_prompt, 24u) << "longer than two of the budget's chunks";
  ASSERT_LT(n_prompt, 60u) << "within one batch (64 tokens, one of them the running stream's)";
  ASSERT_TRUE(e->submit(job_for(*model_, text, 3, shorter)));
  const int64_t calls_before = e->n_decode_calls();
  while (shorter.streamed.empty() && !shorter.done && e->step()) {
  }
  EXPECT_EQ(e->n_decode_calls() - calls_before, 1) << "the whole prompt in one step";
  while (e->step()) {
  }
  ASSERT_TRUE(running.result.ok() && shorter.result.ok());
  EXPECT_EQ(running.result->n_generated, 200);
  EXPECT_EQ(shorter.result->tokens, alone(text, 3)) << "the same tokens as a prompt prefilled alone";
}

// Steps `e` until both outcomes have streamed: the step (counted from 1) at which each streamed first (0: never).
std::pair<int, int> first_token_steps(BatchEngine &e, const Outcome &a, const Outcome &b) {
  int order = 0, a_first = 0, b_first = 0;
  while ((a_first == 0 || b_first == 0) && e.step()) {
    ++order;
    if (a_first == 0 && !a.streamed.empty()) a_first = order;
    if (b_first == 0 && !b.streamed.empty()) b_first = order;
  }
  return {a_first, b_first};
}

// Prefill chunks go to prompts in the order they were admitted, whatever slot each landed in: an earlier prompt in a
// higher slot is not passed by a later one in a lower slot.
TEST_F(BatchEngineTest, PromptsArePrefilledInTheOrderTheyWereAdmitted) {
  auto e = engine_with(3, "12");
  ASSERT_TRUE(e);
  const std::string text = numbered_words(40);
  Outcome running, brief, earlier, later;
  ASSERT_TRUE(e->submit(job_for(*model_, "run run run", 300, running))); // slot 0, decoding throughout
  ASSERT_TRUE(e->submit(job_for(*model_, "x", 2, brief)));               // slot 1, done soon
  e->step();
  ASSERT_TRUE(e->submit(job_for(*model_, "earlier: " + text, 2, earlier))); // slot 2
  while (!brief.done) ASSERT_TRUE(e->step());
  ASSERT_TRUE(e->submit(job_for(*model_, "later: " + text, 2, later))); // slot 1, freed by the brief job
  const auto [earlier_first, later_first] = first_token_steps(*e, earlier, later);
  EXPECT_LT(earlier_first, later_first) << "the prompt admitted first gets its first token first";
  while (e->step()) {
  }
  EXPECT_TRUE(earlier.result.ok() && later.result.ok() && running.result.ok());
}

// A short prompt admitted while a long one is part-way through its chunks goes first (highest response ratio next):
// its first token costs the long one about a step, where behind it it waited out the whole reading.
TEST_F(BatchEngineTest, AShortPromptPassesALongOnePartWayThroughItsReading) {
  auto e = engine_with(3, "24"); // 23 prompt tokens a step beside the running stream: the prefill cost is measured
  ASSERT_TRUE(e);
  const std::string text = numbered_words(120);
  const auto n_long = static_cast<int64_t>(model_->tokenize(text)->size());
  Outcome running, longer, shorter;
  ASSERT_TRUE(e->submit(job_for(*model_, "run run run", 300, running)));
  for (int i = 0; i < 3; ++i) e->step(); // decode-only steps: measured (unmeasured, the order is the age's)
  ASSERT_TRUE(e->submit(job_for(*model_, text, 2, longer)));
  for (int i = 0; i < 3; ++i) e->step();
  ASSERT_GT(n_long, 8 * 23) << "the long prompt has most of its reading left";
  ASSERT_TRUE(e->submit(job_for(*model_, "a short one", 2, shorter)));
  const auto [long_first, short_first] = first_token_steps(*e, longer, shorter);
  EXPECT_LT(short_first, long_first) << "the short prompt's first token comes first";
  EXPECT_LE(short_first, 3) << "within a few steps, not after the long prompt's reading";
  while (e->step()) {
  }
  EXPECT_TRUE(longer.result.ok() && shorter.result.ok() && running.result.ok());
  EXPECT_EQ(longer.result->n_prompt_tokens, n_long) << "the long prompt was read whole";
}

// What a load-aware policy reads: busy slots, the queue, and a wait that grows with the work ahead of a new request.
TEST_F(BatchEngineTest, ItsLoadCountsBusySlotsTheQueueAndTheWorkAheadOfANewRequest) {
  auto e = engine_with(2);
  ASSERT_TRUE(e);
  ModelLoad idle = e->load();
  EXPECT_EQ(idle.slots, 2);
  EXPECT_EQ(idle.busy, 0);
  EXPECT_EQ(idle.wait_ms, 0);
  std::vector<Outcome> out(4);
  for (auto &o : out) ASSERT_TRUE(e->submit(job_for(*model_, "load", 60, o)));
  for (int i = 0; i < 5; ++i) e->step();
  const ModelLoad busy = e->load();
  EXPECT_EQ(busy.busy, 2);
  EXPECT_EQ(busy.queued, 2);
  // Two ahead of a new request: it waits for a slot the first of them frees (about 60 + 55 steps from now).
  EXPECT_GT(busy.wait_ms, 0);
  while (e->step()) {
  }
  for (auto &o : out) ASSERT_TRUE(o.result.ok());
  const ModelLoad after = e->load();
  EXPECT_EQ(after.busy, 0);
  EXPECT_EQ(after.queued, 0);
  EXPECT_EQ(after.wait_ms, 0);
}

TEST_F(BatchEngineTest, FullQueueRefusesAndBadRequestsFailCleanly) {
  std::vector<Outcome> out(8);
  int accepted = 0;
  for (auto &o : out) accepted += engine_->submit(job_for(*model_, "x", 3, o));
  EXPECT_EQ(accepted, 4) << "queue capacity 4 (slots fill only when step() admits)";
  drain();
  Outcome too_long;
  Job j = job_for(*model_, "x", 3, too_long);
  j.prompt.assign(600, j.prompt.back());
  ASSERT_TRUE(engine_->submit(std::move(j)));
  drain();
  ASSERT_TRUE(too_long.done);
  EXPECT_EQ(too_long.result.status().code(), StatusCode::context_overflow);
}

TEST_F(BatchEngineTest, CancellationFreesTheSlot) {
  Outcome o;
  Job j = job_for(*model_, "cancel me", 100, o);
  int calls = 0;
  j.on_token = [&](std::string_view, llama_token, auto) { return ++calls < 4; };
  ASSERT_TRUE(engine_->submit(std::move(j)));
  drain();
  ASSERT_TRUE(o.result.ok());
  EXPECT_EQ(o.result->finish_reason, FinishReason::cancelled);
  EXPECT_EQ(o.result->n_generated, 4);
  EXPECT_EQ(engine_->n_active(), 0u);
}

// The lm probe is a stage of a job: request + suffix prefilled like any prompt; the verdict sees the logits after the
// suffix, and a job that generates here goes on from the request's KV (the suffix's dropped) with the same tokens as
// a plain run, without prefilling its prompt again.
TEST_F(BatchEngineTest, AProbeStageThatGeneratesHereContinuesFromTheRequestsKv) {
  const std::string text = "def fibonacci(n):\n    if n < 2:\n        return n\n";
  const std::string suffix = "\n### Which kind of request is this? Answer:";
  const auto prompt = *model_->tokenize(text);
  // What the probe should see: the greedy next token after request + suffix, computed alone.
  auto with_suffix = prompt;
  const auto suffix_tokens = *model_->tokenize(suffix, false);
  with_suffix.insert(with_suffix.end(), suffix_tokens.begin(), suffix_tokens.end());
  auto solo = test::one_slot_engine(model_, 512);
  const llama_token expected_verdict = exec::generate(*solo, with_suffix, greedy(1))->tokens.at(0);
  const auto expected = alone(text, 12);

  for (int32_t n_batch : {64, 8}) { // 8: the request and the suffix are prefilled over several steps
    engine_ = test::batch_engine(model_, 2, 512, n_batch);
    Outcome o;
    Job j = job_for(*model_, text, 12, o);
    llama_token seen = -1;
    double probe_ms = -1;
    j.probe = ProbeStage{suffix_tokens, [&](const float *logits, double, double ms) {
      seen = engine::argmax(logits, model_->info().n_vocab);
      probe_ms = ms;
      ProbeVerdict v;
      v.next = ProbeVerdict::Next::generate_here;
      return v;
    }};
    ASSERT_TRUE(engine_->submit(std::move(j)));
    drain();
    ASSERT_TRUE(o.result.ok()) << o.result.status().to_string();
    EXPECT_EQ(seen, expected_verdict) << "n_batch " << n_batch;
    EXPECT_GE(probe_ms, 0);
    EXPECT_EQ(o.result->tokens, expected) << "n_batch " << n_batch;
    EXPECT_EQ(o.result->n_prefill_tokens_saved, static_cast<int32_t>(prompt.size()))
        << "the probe's pass over the request is the prefill";
  }
}

TEST_F(BatchEngineTest, AReleasedProbeJobEndsSilentlyAndLeavesItsPromptCached) {
  const std::string text = "Question: what is the capital of France?";
  const auto suffix = *model_->tokenize(" Kind:", false);
  Outcome probed;
  Job j = job_for(*model_, text, 8, probed);
  bool asked = false;
  j.probe = ProbeStage{suffix, [&](const float *, double, double) {
    asked = true;
    return ProbeVerdict{}; // release: the request continues elsewhere
  }};
  ASSERT_TRUE(engine_->submit(std::move(j)));
  drain();
  EXPECT_TRUE(asked);
  EXPECT_FALSE(probed.done) << "a released job's on_done belongs to whoever took it over";
  EXPECT_EQ(engine_->n_active(), 0u);
  // The same request generated here later reuses the request's KV the probe left (all but the last token).
  Outcome again;
  ASSERT_TRUE(engine_->submit(job_for(*model_, text, 8, again)));
  drain();
  ASSERT_TRUE(again.result.ok());
  EXPECT_EQ(again.result->n_prefill_tokens_saved, again.result->n_prompt_tokens - 1);
  EXPECT_EQ(again.result->tokens, alone(text, 8));
}

TEST_F(BatchEngineTest, AProbeVerdictErrorEndsTheJobWithIt) {
  Outcome o;
  Job j = job_for(*model_, "anything", 8, o);
  j.probe = ProbeStage{*model_->tokenize(" Kind:", false), [](const float *, double, double) {
    ProbeVerdict v;
    v.error = invalid_argument("no rule matched");
    return v;
  }};
  ASSERT_TRUE(engine_->submit(std::move(j)));
  drain();
  ASSERT_TRUE(o.done);
  ASSERT_FALSE(o.result.ok());
  EXPECT_EQ(o.result.status().message(), "no rule matched");
}

// The probe's tokens ride in the same llama_decode steps as the running requests' decode tokens.
TEST_F(BatchEngineTest, AProbeRidesInTheStepsOfRunningRequests) {
  Outcome a, b, p;
  ASSERT_TRUE(engine_->submit(job_for(*model_, "def add(a, b):", 30, a)));
  ASSERT_TRUE(engine_->submit(job_for(*model_, "the the the the", 30, b)));
  engine_->step(); // both prefilled; decoding from here
  const int64_t calls_before = engine_->n_decode_calls();
  Job j = job_for(*model_, "Write a poem about the sea.", 4, p);
  bool others_running = false;
  j.probe = ProbeStage{*model_->tokenize(" Kind:", false), [&](const float *, double, double) {
    others_running = !a.done && !b.done;
    ProbeVerdict v;
    v.next = ProbeVerdict::Next::generate_here;
    return v;
  }};
  ASSERT_TRUE(engine_->submit(std::move(j)));
  engine_->step(); // the probe's prefill and the two decode tokens: one llama_decode
  EXPECT_TRUE(others_running) << "the verdict came while the other requests were still decoding";
  EXPECT_EQ(engine_->n_decode_calls(), calls_before + 1);
  drain();
  ASSERT_TRUE(a.result.ok() && b.result.ok() && p.result.ok());
  EXPECT_EQ(p.result->n_generated, 4);
}

// A probe lane: with every slot generating and a job without a probe queued, a probe job passes it and is read beside
// the running streams (its verdict comes before any of them ends); the queued job still waits for a slot. A probed job
// to generate here waits in the lane until the slot frees, goes before the queued job (its prompt is prefilled), and
// gives the same tokens as alone.
TEST_F(BatchEngineTest, AProbeLanePassesQueuedJobsWhenEverySlotIsBusy) {
  engine_ = engine_with(1, "", /*probe_lanes=*/1);
  ASSERT_TRUE(engine_);
  Outcome running, queued, probed;
  ASSERT_TRUE(engine_->submit(job_for(*model_, "def add(a, b):", 30, running)));
  engine_->step();
  ASSERT_TRUE(engine_->submit(job_for(*model_, "the the the the", 8, queued)));
  Job j = job_for(*model_, "Write a poem about the sea.", 6, probed);
  bool running_then = false, queued_then = false;
  j.probe = ProbeStage{*model_->tokenize(" Kind:", false), [&](const float *, double, double) {
    running_then = !running.done;
    queued_then = !queued.done && engine_->n_queued() == 1;
    ProbeVerdict v;
    v.next = ProbeVerdict::Next::generate_here;
    return v;
  }};
  bool probed_after_running = true, probed_before_queued = true;
  j.on_token = [&](std::string_view piece, llama_token, auto) {
    probed_after_running = probed_after_running && running.done;
    probed_before_queued = probed_before_queued && queued.streamed.empty();
    probed.streamed += piece;
    return true;
  };
  ASSERT_TRUE(engine_->submit(std::move(j)));
  engine_->step();
  EXPECT_TRUE(running_then) << "the probe waited for the running job to end";
  EXPECT_TRUE(queued_then) << "the job without a probe must not take the lane";
  EXPECT_EQ(engine_->n_active(), 2u) << "one slot and the lane";
  drain();
  ASSERT_TRUE(running.result.ok() && queued.result.ok() && probed.result.ok());
  EXPECT_TRUE(probed_after_running) << "a parked job generated beyond the engine's slots";
  EXPECT_TRUE(probed_before_queued) << "the parked job's prompt is ready: it goes first";
  EXPECT_EQ(probed.result->tokens, alone("Write a poem about the sea.", 6));
  EXPECT_EQ(probed.result->n_prefill_tokens_saved, probed.result->n_prompt_tokens);
  EXPECT_EQ(queued.result->tokens, alone("the the the the", 8));
}

TEST_F(BatchEngineTest, WithoutAProbeLaneAProbeJobWaitsItsTurn) {
  auto one = engine_with(1);
  Outcome running, probed;
  ASSERT_TRUE(one->submit(job_for(*model_, "def add(a, b):", 12, running)));
  one->step();
  Job j = job_for(*model_, "Write a poem about the sea.", 2, probed);
  bool running_then = true;
  j.probe = ProbeStage{*model_->tokenize(" Kind:", false), [&](const float *, double, double) {
    running_then = !running.done;
    return ProbeVerdict{};
  }};
  ASSERT_TRUE(one->submit(std::move(j)));
  for (int guard = 0; guard < 10000 && one->step(); ++guard) {
  }
  EXPECT_FALSE(running_then);
}

// Prompt caching: a finished request's KV stays in its slot; the next request that starts the same way (the next turn
// of a chat) goes to that slot and prefills only what is new, with the same tokens as a fresh run.
TEST_F(BatchEngineTest, APromptThatExtendsAFinishedOneReusesItsSlotsKv) {
  const std::string turn1 = "User: name three colours.\nAssistant:";
  Outcome first;
  ASSERT_TRUE(engine_->submit(job_for(*model_, turn1, 10, first)));
  drain();
  ASSERT_TRUE(first.result.ok());
  EXPECT_EQ(first.result->n_prefill_tokens_saved, 0);

  // Another request in between takes another slot (least recently used), leaving the first one's cache alone.
  Outcome other;
  ASSERT_TRUE(engine_->submit(job_for(*model_, "something unrelated", 5, other)));
  drain();
  EXPECT_EQ(other.result->n_prefill_tokens_saved, 0);

  // Turn 2 = turn 1's prompt + its answer + a new question.
  const std::string turn2 = turn1 + first.result->text + "\nUser: and three more?\nAssistant:";
  Outcome second;
  ASSERT_TRUE(engine_->submit(job_for(*model_, turn2, 10, second)));
  drain();
  ASSERT_TRUE(second.result.ok());
  const auto turn1_tokens = *model_->tokenize(turn1);
  EXPECT_GE(second.result->n_prefill_tokens_saved, static_cast<int32_t>(turn1_tokens.size()))
      << "at least turn 1's prompt came from the cache";
  EXPECT_LT(second.result->n_prefill_tokens_saved, second.result->n_prompt_tokens);
  EXPECT_EQ(second.result->tokens, alone(turn2, 10));

  // The very same prompt again: everything but its last token is cached.
  Outcome again;
  ASSERT_TRUE(engine_->submit(job_for(*model_, turn2, 10, again)));
  drain();
  EXPECT_EQ(again.result->n_prefill_tokens_saved, again.result->n_prompt_tokens - 1);
  EXPECT_EQ(again.result->tokens, second.result->tokens);
}

TEST_F(BatchEngineTest, APromptSharingAPreambleWithALongFinishedAnswerReusesThePreamble) {
  // A system prompt (or a chat template's header) shared by unrelated requests: short beside the first request's
  // prompt + long answer that its slot holds, but a fair share of the next prompt - llama-server reuses it, and so
  // must we, rather than reading it again in an empty slot.
  const std::string preamble = "System: you answer in plain words, briefly, and you never use lists or tables. ";
  Outcome first;
  ASSERT_TRUE(engine_->submit(job_for(*model_, preamble + "User: what is rain?", 200, first)));
  drain();
  ASSERT_TRUE(first.result.ok());
  const auto preamble_tokens = static_cast<int32_t>(model_->tokenize(preamble)->size());
  ASSERT_LT(preamble_tokens * 10, first.result->n_prompt_tokens + first.result->n_generated)
      << "the preamble must be under a tenth of what the slot holds, or this does not test the prompt's share";

  Outcome second;
  const std::string prompt2 = preamble + "User: why is the sky blue?";
  ASSERT_TRUE(engine_->submit(job_for(*model_, prompt2, 10, second)));
  drain();
  ASSERT_TRUE(second.result.ok());
  EXPECT_GE(second.result->n_prefill_tokens_saved, preamble_tokens - 1) << "the preamble came from the cache";
  EXPECT_EQ(second.result->tokens, alone(prompt2, 10));

  // A prompt sharing nothing beyond BOS still takes the least recently used slot, leaving both caches alone.
  Outcome unrelated;
  ASSERT_TRUE(engine_->submit(job_for(*model_, "Completely different text.", 5, unrelated)));
  drain();
  EXPECT_EQ(unrelated.result->n_prefill_tokens_saved, 0);
  Outcome third;
  ASSERT_TRUE(engine_->submit(job_for(*model_, prompt2, 5, third)));
  drain();
  EXPECT_EQ(third.result->n_prefill_tokens_saved, third.result->n_prompt_tokens - 1) << "the second prompt's slot kept it";
}

// Over split KV caches llama.cpp runs only consecutive sequence ids in one forward pass. Streams in slots 0 and 2,
// with slot 1 idle between them, still decode in one pass a step: slot 1 gets a throwaway token whose KV is dropped
// after the step - its cached conversation is intact, and the next turn reuses it and answers as alone.
TEST_F(BatchEngineTest, OverASplitCacheStreamsInSlotsApartStillDecodeInOnePassAStep) {
  auto e = split_engine(3, 512, "auto");
  ASSERT_TRUE(e);
  const std::string turn1 = "User: name three colours.\nAssistant:";
  Outcome a, b, c;
  ASSERT_TRUE(e->submit(job_for(*model_, "abc abc abc", 40, a))); // slot 0
  ASSERT_TRUE(e->submit(job_for(*model_, turn1, 3, b)));           // slot 1, done first
  ASSERT_TRUE(e->submit(job_for(*model_, "def f(x):", 40, c)));   // slot 2
  while (!b.done && e->step()) {
  }
  ASSERT_TRUE(b.result.ok()) << b.result.status().to_string();
  const int64_t calls = e->n_decode_calls(), passes = e->n_forward_passes();
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(e->step());
  EXPECT_EQ(e->n_decode_calls() - calls, 10);
  EXPECT_EQ(e->n_forward_passes() - passes, 10) << "one forward pass a step for the streams in slots 0 and 2";
  EXPECT_EQ(e->last_step().decode, 2);
  EXPECT_EQ(e->last_step().prefill, 0) << "the throwaway token is no prompt token";
  while (e->step()) {
  }
  ASSERT_TRUE(a.result.ok() && c.result.ok());
  EXPECT_EQ(a.result->n_generated, 40);
  EXPECT_EQ(c.result->n_generated, 40);
  EXPECT_EQ(a.result->tokens.front(), alone("abc abc abc", 1).front());
  EXPECT_EQ(c.result->tokens.front(), alone("def f(x):", 1).front());

  const std::string turn2 = turn1 + b.result->text + "\nUser: and three more?\nAssistant:";
  Outcome next;
  ASSERT_TRUE(e->submit(job_for(*model_, turn2, 10, next)));
  while (e->step()) {
  }
  ASSERT_TRUE(next.result.ok()) << next.result.status().to_string();
  EXPECT_GE(next.result->n_prefill_tokens_saved, static_cast<int32_t>(model_->tokenize(turn1)->size()));
  EXPECT_EQ(next.result->tokens, alone(turn2, 10));
}

// A prompt chunk among decoding streams over split caches costs one forward pass more, wherever its slot lies: here
// in slot 1 between streams in slots 0 and 2 (its tokens after theirs would make three passes - slot 0 with the
// prompt's first token, slot 2, the rest of the prompt); and the streams and the prompt answer as they would alone.
TEST_F(BatchEngineTest, OverASplitCacheAPromptChunkAmongTheStreamsCostsOnePassMore) {
  auto e = split_engine(3, 512, "8"); // 8 tokens a step: the two streams' and 6 of the prompt
  ASSERT_TRUE(e);
  Outcome a, b, c, longer;
  ASSERT_TRUE(e->submit(job_for(*model_, "abc abc abc", 80, a))); // slot 0
  ASSERT_TRUE(e->submit(job_for(*model_, "Question: why?", 2, b))); // slot 1, done first
  ASSERT_TRUE(e->submit(job_for(*model_, "def f(x):", 80, c)));   // slot 2
  while (!b.done && e->step()) {
  }
  const std::string text = numbered_words(30);
  ASSERT_TRUE(e->submit(job_for(*model_, text, 4, longer))); // the free slot: 1
  int64_t both = 0;
  while (longer.streamed.empty() && !longer.done) {
    const int64_t passes = e->n_forward_passes();
    ASSERT_TRUE(e->step());
    if (e->last_step().decode == 2 && e->last_step().prefill > 1) {
      ++both;
      EXPECT_EQ(e->n_forward_passes() - passes, 2) << "the streams' pass with the prompt's first token, and its rest";
    }
  }
  EXPECT_GT(both, 3);
  while (e->step()) {
  }
  ASSERT_TRUE(a.result.ok() && c.result.ok() && longer.result.ok());
  EXPECT_EQ(longer.result->tokens, alone(text, 4));
  EXPECT_EQ(a.result->n_generated, 80);
  EXPECT_EQ(c.result->tokens.front(), alone("def f(x):", 1).front());
}

TEST_F(BatchEngineTest, ClosedEngineRefusesNewJobs) {
  engine_->close();
  Outcome o;
  EXPECT_FALSE(engine_->submit(job_for(*model_, "x", 3, o)));
}

} // namespace
} // namespace aio::exec
