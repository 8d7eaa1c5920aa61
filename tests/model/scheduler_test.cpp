// The scheduler's thread serves jobs submitted from other threads to any of its engines (co-resident models stepping
// in turn), and shuts down without leaving a caller waiting.
#include <gtest/gtest.h>

#include <algorithm>
#include <future>
#include <mutex>
#include <thread>

#include "exec/scheduler.h"
#include "support/tiny_models.h"

namespace aio::exec {
namespace {

std::unique_ptr<BatchEngine> make_engine(std::shared_ptr<engine::Model> model) {
  return test::batch_engine(std::move(model), 2, 256);
}

Job job(const engine::Model &m, int n, std::promise<Expected<engine::GenerationRecord>> &done) {
  Job j;
  j.prompt = *m.tokenize("hello there");
  j.params.max_tokens = n;
  j.params.ignore_eos = true;
  j.on_done = [&done](Expected<engine::GenerationRecord> r) { done.set_value(std::move(r)); };
  return j;
}

// A job whose prompt is at least `min_tokens` tokens of plain English.
Job long_job(const engine::Model &m, size_t min_tokens, int n, std::promise<Expected<engine::GenerationRecord>> &done) {
  Job j = job(m, n, done);
  std::string text;
  while (j.prompt.size() < min_tokens) {
    text += "the quick brown fox jumps over the lazy dog and ";
    j.prompt = *m.tokenize(text);
  }
  return j;
}

TEST(Scheduler, ServesJobsForSeveralEnginesFromOtherThreads) {
  auto small = *engine::Model::load({.path = test::tiny_pair().small_path});
  auto large = *engine::Model::load({.path = test::tiny_pair().large_path});
  auto e_small = make_engine(small), e_large = make_engine(large);
  Scheduler scheduler({e_small.get(), e_large.get()});
  std::vector<std::promise<Expected<engine::GenerationRecord>>> done(6);
  std::vector<std::thread> clients;
  for (size_t i = 0; i < done.size(); ++i)
    clients.emplace_back([&, i] {
      BatchEngine &e = i % 2 ? *e_large : *e_small;
      EXPECT_TRUE(e.submit(job(e.model(), 8, done[i])));
    });
  for (auto &c : clients) c.join();
  for (auto &d : done) {
    auto f = d.get_future();
    ASSERT_EQ(f.wait_for(std::chrono::seconds(60)), std::future_status::ready);
    auto r = f.get();
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(r->n_generated, 8);
  }
  scheduler.stop(std::chrono::seconds(5));
}

// The order in which two engines' streams emit their tokens (X, listed first, and Y), when `jobs_x` and `jobs_y`
// jobs of `tokens` tokens wait on them before the scheduler starts; the engine submitted to second has younger jobs.
std::string token_order(Turns turns, const std::shared_ptr<engine::Model> &model_x,
                        const std::shared_ptr<engine::Model> &model_y, int jobs_x, int jobs_y, int tokens,
                        bool y_submitted_first) {
  auto x = make_engine(model_x), y = make_engine(model_y);
  std::mutex mu;
  std::string order;
  std::vector<std::promise<Expected<engine::GenerationRecord>>> done(static_cast<size_t>(jobs_x + jobs_y));
  size_t next = 0;
  const auto submit = [&](BatchEngine &e, char name, int n) {
    for (int i = 0; i < n; ++i) {
      Job j = job(e.model(), tokens, done[next++]);
      j.on_token = [&, name](std::string_view, llama_token, std::span<const engine::TokenLogprob>) {
        std::lock_guard lock(mu);
        order += name;
        return true;
      };
      EXPECT_TRUE(e.submit(std::move(j)));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5)); // the other engine's jobs are younger
  };
  if (y_submitted_first) submit(*y, 'Y', jobs_y);
  submit(*x, 'X', jobs_x);
  if (!y_submitted_first) submit(*y, 'Y', jobs_y);
  Scheduler scheduler({x.get(), y.get()}, turns);
  for (auto &d : done) EXPECT_EQ(d.get_future().wait_for(std::chrono::seconds(60)), std::future_status::ready);
  scheduler.stop(std::chrono::seconds(5));
  std::lock_guard lock(mu);
  return order;
}

// Which engine emits the first token, both engines on one model: X or Y.
std::string first_to_step(Turns turns, int jobs_x, int jobs_y, bool y_submitted_first) {
  auto model = *engine::Model::load({.path = test::tiny_pair().small_path});
  return token_order(turns, model, model, jobs_x, jobs_y, 2, y_submitted_first).substr(0, 1);
}

TEST(Scheduler, TurnOrdersPickTheEngineTheyName) {
  // Fair share: no engine has used any time yet; the first listed goes first.
  EXPECT_EQ(first_to_step(Turns::fair, 1, 2, true), "X");
  // Fuller: the engine with more requests.
  EXPECT_EQ(first_to_step(Turns::fuller, 1, 2, false), "Y");
  EXPECT_EQ(first_to_step(Turns::fuller, 2, 1, true), "X");
  // Oldest: the engine whose request has waited longest.
  EXPECT_EQ(first_to_step(Turns::oldest, 2, 1, true), "Y");
  EXPECT_EQ(first_to_step(Turns::oldest, 1, 2, false), "X");
  // First tokens first: no stream runs yet, so the engine whose request has waited longest for its first token.
  EXPECT_EQ(first_to_step(Turns::first, 2, 1, true), "Y");
  EXPECT_EQ(first_to_step(Turns::first, 1, 2, false), "X");
}

// Rounds: once both engines' streams run, one step of each in turn - X's short steps do not run several to each of
// Y's long ones, as under a share of time.
TEST(Scheduler, RoundsStepEachBusyEngineOnceInTurn) {
  // X: the tiny small model, Y: the tiny large one, one 24-token stream each.
  const std::string order = token_order(Turns::rounds, *engine::Model::load({.path = test::tiny_pair().small_path}),
                                        *engine::Model::load({.path = test::tiny_pair().large_path}), 1, 1, 24, false);
  ASSERT_EQ(order.size(), 48u) << order;
  // From the second token of the later-starting engine (its first came from a step that only read its prompt, and the
  // other's stream was repaid that time in a run: StreamsHeldByAPromptReadingStepAreRepaidItsTime) to the last token
  // of the earlier-finishing one.
  const char later = order.find('X') > order.find('Y') ? 'X' : 'Y';
  const size_t both_from = order.find(later, order.find(later) + 1);
  const size_t both_until = order.rfind(order.back() == 'X' ? 'Y' : 'X');
  const std::string both = order.substr(both_from, both_until - both_from + 1);
  EXPECT_EQ(both.find("XX"), std::string::npos) << order;
  EXPECT_EQ(both.find("YY"), std::string::npos) << order;
}

// Streams wait at most two of the slowest busy engine's decode-only steps, however long its last step (a prefill step
// may last seven): bounded by last steps, a long prompt held another model's streams for three of its steps.
TEST(Scheduler, StreamsWaitAtMostTwoDecodeStepsOfTheSlowestBusyEngine) {
  // A 1B reading a long prompt in 700-ms steps (decode-only 100 ms) beside a 135M's streams (10-ms steps).
  EXPECT_DOUBLE_EQ(Scheduler::gap_bound_s({true, true}, {100, 10}, {0.7, 0.01}), 0.2);
  EXPECT_DOUBLE_EQ(Scheduler::gap_bound_s({false, true}, {100, 10}, {0.7, 0.01}), 0.02) << "an idle engine counts not";
  EXPECT_DOUBLE_EQ(Scheduler::gap_bound_s({true, true}, {0, 10}, {0.7, 0.01}), 1.4) << "unmeasured: its last step";
  EXPECT_DOUBLE_EQ(Scheduler::gap_bound_s({false, false}, {100, 10}, {0.7, 0.01}), 0);
}

// Streams held by a step that only read another engine's prompt are owed its time: they step in a run until it is
// paid (exec/held_time.h), instead of once per held step - so a long prompt on one model no longer paces the other
// model's streams at one token per prompt chunk.
TEST(Scheduler, StreamsHeldByAPromptReadingStepAreRepaidItsTime) {
  for (const Turns turns : {Turns::first, Turns::rounds}) {
    SCOPED_TRACE(turns == Turns::first ? "first" : "rounds");
    auto x = make_engine(*engine::Model::load({.path = test::tiny_pair().small_path}));
    auto y = make_engine(*engine::Model::load({.path = test::tiny_pair().large_path}));
    std::mutex mu;
    std::vector<StepEvent> steps;
    Scheduler scheduler({x.get(), y.get()}, turns, [&](const StepEvent &e) {
      std::lock_guard lock(mu);
      steps.push_back(e);
    });
    // X: two long streams; once they run, Y gets a prompt it reads in several 64-token steps (the batch's size).
    std::vector<std::promise<Expected<engine::GenerationRecord>>> done(3);
    std::promise<void> streaming;
    bool told = false;
    for (int i = 0; i < 2; ++i) {
      Job j = job(x->model(), 160, done[static_cast<size_t>(i)]);
      j.on_token = [&](std::string_view, llama_token, std::span<const engine::TokenLogprob>) {
        if (!told) streaming.set_value();
        told = true;
        return true;
      };
      ASSERT_TRUE(x->submit(std::move(j)));
    }
    streaming.get_future().wait();
    ASSERT_TRUE(y->submit(long_job(y->model(), 200, 4, done[2])));
    for (auto &d : done) ASSERT_EQ(d.get_future().wait_for(std::chrono::seconds(60)), std::future_status::ready);
    scheduler.stop(std::chrono::seconds(5));

    std::lock_guard lock(mu);
    int held = 0;
    for (size_t h = 0; h < steps.size(); ++h) {
      const StepEvent &e = steps[h];
      if (e.engine != 1 || !e.others_waiting || e.tokens.decode != 0 || e.tokens.prefill == 0) continue;
      ++held;
      // Until Y's next step: X's steps add up to at least the held step, unless X's streams ended first.
      double repaid_ms = 0;
      size_t next = h + 1;
      for (; next < steps.size() && steps[next].engine == 0; ++next) repaid_ms += steps[next].ms;
      if (next == steps.size() || next == h + 1 || steps[next - 1].active == 0) continue;
      EXPECT_GE(repaid_ms, e.ms) << "held step " << h << ": X stepped " << next - h - 1 << " times after it";
    }
    EXPECT_GE(held, 2) << "Y read its prompt in steps that held X's streams";
  }
}

// First tokens by response ratio across engines: a short prompt for X that arrives while Y reads a long one gets its
// first token before Y's prompt is read - by age alone it waited out Y's whole reading (the long mix: a 135M's short
// requests waited 20-42 s in its queue while a 1B read 2-4k-token prompts).
TEST(Scheduler, AShortPromptForOneModelPassesALongOneAnotherIsReading) {
  for (const Turns turns : {Turns::first, Turns::rounds}) {
    SCOPED_TRACE(turns == Turns::first ? "first" : "rounds");
    auto x = make_engine(*engine::Model::load({.path = test::tiny_pair().small_path}));
    auto y = make_engine(*engine::Model::load({.path = test::tiny_pair().large_path}));
    std::mutex mu;
    std::string firsts; // 'S' when the short prompt's first token came, 'L' the long one's
    std::promise<Expected<engine::GenerationRecord>> warm_done, short_done, long_done;
    Job short_prompt = job(x->model(), 2, short_done);
    short_prompt.on_token = [&](std::string_view, llama_token, std::span<const engine::TokenLogprob>) {
      std::lock_guard lock(mu);
      if (firsts.find('S') == std::string::npos) firsts += 'S';
      return true;
    };
    bool submitted = false;
    Scheduler scheduler({x.get(), y.get()}, turns, [&](const StepEvent &e) {
      // Once Y has read its long prompt's first batch, the short prompt arrives for X.
      if (e.engine == 1 && e.tokens.prefill > 0 && !submitted) {
        submitted = true;
        EXPECT_TRUE(x->submit(std::move(short_prompt)));
      }
    });
    // X has run a request before, so its steps are measured.
    ASSERT_TRUE(x->submit(job(x->model(), 4, warm_done)));
    ASSERT_EQ(warm_done.get_future().wait_for(std::chrono::seconds(60)), std::future_status::ready);
    Job long_prompt = long_job(y->model(), 230, 2, long_done);
    long_prompt.on_token = [&](std::string_view, llama_token, std::span<const engine::TokenLogprob>) {
      std::lock_guard lock(mu);
      if (firsts.find('L') == std::string::npos) firsts += 'L';
      return true;
    };
    ASSERT_TRUE(y->submit(std::move(long_prompt)));
    ASSERT_EQ(long_done.get_future().wait_for(std::chrono::seconds(60)), std::future_status::ready);
    ASSERT_EQ(short_done.get_future().wait_for(std::chrono::seconds(60)), std::future_status::ready);
    scheduler.stop(std::chrono::seconds(5));
    std::lock_guard lock(mu);
    EXPECT_EQ(firsts, "SL") << "the short prompt's first token came before the long one was read";
  }
}

// A prompt read while no stream waits anywhere goes in resident_chunk-token steps when another model takes turns on
// the same cores - a request arriving for it waits for the step's end (the long mix: 8.6-14.8-s steps of a 1B) - and
// in whole batches when the engine is alone.
TEST(Scheduler, APromptReadBesideAnotherResidentModelGoesInChunks) {
  const std::shared_ptr<engine::Model> large = *engine::Model::load({.path = test::tiny_pair().large_path});
  for (const bool two : {false, true}) {
    SCOPED_TRACE(two ? "two models" : "one model");
    auto x = make_engine(*engine::Model::load({.path = test::tiny_pair().small_path}));
    auto y = test::batch_engine(large, 1, 512, 512);
    std::mutex mu;
    std::vector<int32_t> prefills; // Y's steps' prompt tokens
    std::vector<BatchEngine *> engines{y.get()};
    if (two) engines.push_back(x.get());
    Scheduler scheduler(engines, Turns::first, [&](const StepEvent &e) {
      std::lock_guard lock(mu);
      if (e.engine == 0 && e.tokens.prefill > 0) prefills.push_back(e.tokens.prefill);
    });
    std::promise<Expected<engine::GenerationRecord>> done;
    Job long_prompt = long_job(y->model(), 300, 1, done);
    const auto n_prompt = static_cast<int32_t>(long_prompt.prompt.size());
    ASSERT_TRUE(y->submit(std::move(long_prompt)));
    ASSERT_EQ(done.get_future().wait_for(std::chrono::seconds(60)), std::future_status::ready);
    scheduler.stop(std::chrono::seconds(5));
    std::lock_guard lock(mu);
    ASSERT_FALSE(prefills.empty());
    // Y has never stepped, so no stall allowance is measured yet: the first step is the chunk exactly.
    if (two) EXPECT_EQ(prefills.front(), StepBudgetParams{}.resident_chunk);
    else EXPECT_EQ(prefills.front(), n_prompt) << "alone: the whole prompt in one step";
  }
}

TEST(Scheduler, TurnOrdersAreParsedByName) {
  EXPECT_EQ(*parse_turns("fair"), Turns::fair);
  EXPECT_EQ(*parse_turns("fuller"), Turns::fuller);
  EXPECT_EQ(*parse_turns("oldest"), Turns::oldest);
  EXPECT_EQ(*parse_turns("first"), Turns::first);
  EXPECT_EQ(*parse_turns("rounds"), Turns::rounds);
  auto bad = parse_turns("fastest");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("use fair, fuller, oldest, first or rounds"), std::string::npos);
}

TEST(Scheduler, StopFinishesWithinGraceOrAbortsTheRest) {
  auto model = *engine::Model::load({.path = test::tiny_pair().small_path});
  auto engine = make_engine(model);
  Scheduler scheduler({engine.get()});
  std::vector<std::promise<Expected<engine::GenerationRecord>>> done(3);
  std::vector<std::future<Expected<engine::GenerationRecord>>> futures;
  for (auto &d : done) {
    futures.push_back(d.get_future());
    ASSERT_TRUE(engine->submit(job(*model, 1000000, d))); // would run until the context is full
  }
  scheduler.stop(std::chrono::milliseconds(50));
  for (auto &f : futures) {
    ASSERT_EQ(f.wait_for(std::chrono::seconds(0)), std::future_status::ready) << "a caller was left waiting";
    auto r = f.get();
    // Either it ran out of context in time or it was aborted with a clear message.
    if (!r.ok()) { EXPECT_NE(r.status().message().find("shutting down"), std::string::npos); }
  }
  std::promise<Expected<engine::GenerationRecord>> late;
  EXPECT_FALSE(engine->submit(job(*model, 4, late))) << "a stopped scheduler's engines take no new jobs";
}

} // namespace
} // namespace aio::exec
