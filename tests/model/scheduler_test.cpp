// The scheduler's thread serves jobs submitted from other threads to any of its engines (co-resident models stepping
// in turn), and shuts down without leaving a caller waiting.
#include <gtest/gtest.h>

#include <future>

#include "exec/scheduler.h"
#include "support/tiny_models.h"

namespace aio::exec {
namespace {

std::unique_ptr<BatchEngine> make_engine(std::shared_ptr<engine::Model> model) {
  BatchEngineParams p;
  p.n_slots = 2;
  p.n_ctx_per_slot = 256;
  p.n_batch = 64;
  p.n_threads = 1;
  return std::move(*BatchEngine::create(std::move(model), p));
}

Job job(const engine::Model &m, int n, std::promise<Expected<engine::GenerationRecord>> &done) {
  Job j;
  j.prompt = *m.tokenize("hello there");
  j.params.max_tokens = n;
  j.params.ignore_eos = true;
  j.on_done = [&done](Expected<engine::GenerationRecord> r) { done.set_value(std::move(r)); };
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
    if (!r.ok()) EXPECT_NE(r.status().message().find("shutting down"), std::string::npos);
  }
  std::promise<Expected<engine::GenerationRecord>> late;
  EXPECT_FALSE(engine->submit(job(*model, 4, late))) << "a stopped scheduler's engines take no new jobs";
}

} // namespace
} // namespace aio::exec
