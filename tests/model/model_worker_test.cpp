// The worker thread serves jobs submitted from other threads, and shuts down without leaving a caller waiting.
#include <gtest/gtest.h>

#include <future>

#include "serve/model_worker.h"
#include "support/tiny_models.h"

namespace aio::serve {
namespace {

std::unique_ptr<ModelWorker> make_worker(std::shared_ptr<engine::Model> model) {
  BatchEngineParams p;
  p.n_slots = 2;
  p.n_ctx_per_slot = 256;
  p.n_batch = 64;
  p.n_threads = 1;
  return std::make_unique<ModelWorker>(std::move(*BatchEngine::create(std::move(model), p)));
}

Job job(const engine::Model &m, int n, std::promise<Expected<engine::GenerationRecord>> &done) {
  Job j;
  j.prompt = *m.tokenize("hello there");
  j.params.max_tokens = n;
  j.params.ignore_eos = true;
  j.on_done = [&done](Expected<engine::GenerationRecord> r) { done.set_value(std::move(r)); };
  return j;
}

TEST(ModelWorker, ServesJobsFromOtherThreads) {
  auto model = *engine::Model::load({.path = test::tiny_pair().small_path});
  auto worker = make_worker(model);
  std::vector<std::promise<Expected<engine::GenerationRecord>>> done(4);
  std::vector<std::thread> clients;
  for (auto &d : done) clients.emplace_back([&] { EXPECT_TRUE(worker->submit(job(*model, 8, d))); });
  for (auto &c : clients) c.join();
  for (auto &d : done) {
    auto f = d.get_future();
    ASSERT_EQ(f.wait_for(std::chrono::seconds(60)), std::future_status::ready);
    auto r = f.get();
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(r->n_generated, 8);
  }
  worker->stop(std::chrono::seconds(5));
}

TEST(ModelWorker, StopFinishesWithinGraceOrAbortsTheRest) {
  auto model = *engine::Model::load({.path = test::tiny_pair().small_path});
  auto worker = make_worker(model);
  std::vector<std::promise<Expected<engine::GenerationRecord>>> done(3);
  std::vector<std::future<Expected<engine::GenerationRecord>>> futures;
  for (auto &d : done) {
    futures.push_back(d.get_future());
    ASSERT_TRUE(worker->submit(job(*model, 1000000, d))); // would run until the context is full
  }
  worker->stop(std::chrono::milliseconds(50));
  for (auto &f : futures) {
    ASSERT_EQ(f.wait_for(std::chrono::seconds(0)), std::future_status::ready) << "a caller was left waiting";
    auto r = f.get();
    // Either it ran out of context in time or it was aborted with a clear message.
    if (!r.ok()) EXPECT_NE(r.status().message().find("shutting down"), std::string::npos);
  }
  std::promise<Expected<engine::GenerationRecord>> late;
  EXPECT_FALSE(worker->submit(job(*model, 4, late))) << "a stopped worker takes no new jobs";
}

} // namespace
} // namespace aio::serve
