// The expected wait a load-aware policy reads: free slots, busy ones freeing up, the queue ahead taking them in turn.
#include <gtest/gtest.h>

#include <thread>

#include "exec/load_estimate.h"

namespace aio::exec {
namespace {

TEST(WaitSteps, AFreeSlotMeansNoWait) {
  EXPECT_EQ(wait_steps({}, 4, 0, 100), 0);
  EXPECT_EQ(wait_steps({50, 20}, 4, 0, 100), 0);
  EXPECT_EQ(wait_steps({50, 20}, 4, 1, 100), 0); // one queued takes one of the two free slots
}

TEST(WaitSteps, WithEverySlotBusyTheFirstToFreeUpIsTheWait) {
  EXPECT_EQ(wait_steps({50, 20, 90}, 3, 0, 100), 20);
  // Two requests ahead: they take the slots freeing at 20 and 50; ours the one at 90.
  EXPECT_EQ(wait_steps({50, 20, 90}, 3, 2, 100), 90);
  // Three ahead: the third takes 90; ours the slot the first queued frees at 20 + 100.
  EXPECT_EQ(wait_steps({50, 20, 90}, 3, 3, 100), 120);
}

TEST(WaitSteps, WithAProbeLaneBusyTooTheSecondToFreeUpIsTheWait) {
  // Three slots and a probe lane, all four generating: a newcomer needs two of them to finish.
  EXPECT_EQ(wait_steps({50, 20, 90, 10}, 3, 0, 100), 20);
  EXPECT_EQ(wait_steps({50, 20, 90, 10}, 3, 1, 100), 50);
}

TEST(WaitSteps, AQueueLongerThanTheSlotsWaitsRoundAfterRound) {
  // One slot, idle, ten ahead of us each holding it 30 steps.
  EXPECT_EQ(wait_steps({}, 1, 10, 30), 300);
  // A service time under one step still counts a step (a job holds its slot at least once).
  EXPECT_EQ(wait_steps({}, 1, 10, 0), 10);
}

TEST(LoadEstimate, TheWaitIsStepsTimesTheMeasuredTimePerStep) {
  LoadEstimate e(2);
  const auto t0 = std::chrono::steady_clock::now();
  e.step_started(t0, false);                                  // after idling: not a step interval
  e.step_started(t0 + std::chrono::milliseconds(50), true);   // 50 ms per step
  e.publish({10, 4});
  ModelLoad l = e.load(0);
  EXPECT_EQ(l.slots, 2);
  EXPECT_EQ(l.busy, 2);
  EXPECT_EQ(l.queued, 0);
  EXPECT_NEAR(l.wait_ms, 4 * 50.0, 1e-9);
  // Before any job finished, a queued job is taken to need the running ones' mean (7 steps).
  EXPECT_NEAR(e.load(1).wait_ms, 10 * 50.0, 1e-9);
  EXPECT_NEAR(e.load(2).wait_ms, (4 + 7) * 50.0, 1e-9);
  // Once jobs finish, their steps are the service time.
  e.job_finished(20, 16, 16);
  EXPECT_NEAR(e.load(2).wait_ms, (4 + 20) * 50.0, 1e-9);
  e.publish({});
  EXPECT_EQ(e.load(0).wait_ms, 0);
  EXPECT_EQ(e.load(0).busy, 0);
}

TEST(LoadEstimate, ANewcomersOwnPrefillCountsInTheBudgetsChunks) {
  LoadEstimate e(4);
  const auto t0 = std::chrono::steady_clock::now();
  e.step_started(t0, false);
  e.step_started(t0 + std::chrono::milliseconds(100), true); // 100 ms per step
  e.publish({30}, /*prefill_chunk=*/16);                     // one stream running, a free slot, chunks of 16
  EXPECT_EQ(e.load(0).wait_ms, 0) << "no prompt: the wait for a slot";
  EXPECT_NEAR(e.load(0, 100).wait_ms, 7 * 100.0, 1e-9) << "100 tokens in chunks of 16: 7 steps";
  e.publish({30, 30, 30, 30}, 16); // every slot busy: the slot first, then the prefill
  EXPECT_NEAR(e.load(0, 100).wait_ms, (30 + 7) * 100.0, 1e-9);
}

TEST(LoadEstimate, JobsThatStopEarlyShrinkTheShareOfMaxTokensExpected) {
  LoadEstimate e(1);
  EXPECT_EQ(e.used_share(), 1.0);
  for (int i = 0; i < 30; ++i) e.job_finished(10, 10, 100);
  EXPECT_NEAR(e.used_share(), 0.1, 0.01);
  e.job_finished(10, 500, 100); // more than max_tokens cannot count for more than all of it
  EXPECT_LE(e.used_share(), 1.0);
}

TEST(LoadEstimate, ReadsFromOtherThreadsWhileTheEnginePublishes) {
  LoadEstimate e(8);
  std::atomic<bool> done{false};
  std::thread reader([&] {
    while (!done) {
      const ModelLoad l = e.load(3);
      EXPECT_GE(l.wait_ms, 0);
      EXPECT_LE(l.busy, 8);
    }
  });
  auto t = std::chrono::steady_clock::now();
  for (int i = 0; i < 20000; ++i) {
    t += std::chrono::microseconds(100);
    e.step_started(t, true);
    e.publish(std::vector<double>(static_cast<size_t>(i % 9), 5.0));
  }
  done = true;
  reader.join();
}

} // namespace
} // namespace aio::exec

// The route record's `load` (a results log line carries it): it round-trips, and a malformed one is refused by name.
#include <nlohmann/json.hpp>

#include "aio/route_json.h"

namespace aio {
namespace {

TEST(RouteRecordLoad, RoundTripsAndMalformedLoadsAreRefusedByName) {
  RouteRecord r;
  r.probe.probe_kind = "none";
  r.route.model = "small";
  r.route.policy = "aio-load";
  r.route.rule = "busy-large-qa";
  r.route.reason = "QA while the large model is busy";
  r.route.load_model = "large";
  r.route.load = ModelLoad{.slots = 8, .busy = 8, .queued = 3, .wait_ms = 2500.5};
  const nlohmann::json j = route_record_json(r);
  auto back = route_record_from_json(j);
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  ASSERT_TRUE(back->route.load.has_value());
  EXPECT_EQ(back->route.load_model, "large");
  EXPECT_EQ(back->route.load->queued, 3);
  EXPECT_DOUBLE_EQ(back->route.load->wait_ms, 2500.5);
  for (const auto &[field, value] : std::vector<std::pair<std::string, nlohmann::json>>{
           {"busy", "eight"}, {"wait_ms", nlohmann::json::array()}, {"queued", 1e30}, {"model", 7}}) {
    nlohmann::json bad = j;
    bad["route"]["load"][field] = value;
    auto r2 = route_record_from_json(bad);
    ASSERT_FALSE(r2.ok()) << field;
    EXPECT_NE(r2.status().message().find("route.route.load." + field), std::string::npos) << r2.status().message();
  }
  nlohmann::json missing = j;
  missing["route"]["load"].erase("slots");
  EXPECT_FALSE(route_record_from_json(missing).ok());
  // Nested 10,000 deep where the load object belongs: refused, not followed.
  nlohmann::json deep = nlohmann::json::object();
  for (int i = 0; i < 10000; ++i) deep = nlohmann::json{{"busy", std::move(deep)}};
  nlohmann::json nested = j;
  nested["route"]["load"]["busy"] = std::move(deep);
  EXPECT_FALSE(route_record_from_json(nested).ok());
}

// tokens.prompt_cached (usage.prompt_tokens_details.cached_tokens): round-trips, reads as 0 from a log written before
// it existed, and a malformed one is refused by name, as its siblings are.
TEST(RouteRecordTokens, PromptCachedRoundTripsIsOptionalAndMalformedOnesAreRefusedByName) {
  RouteRecord r;
  r.probe.probe_kind = "none";
  r.route.model = "large";
  GenerationStats g;
  g.n_prompt_tokens = 40;
  g.n_prefill_tokens_saved = 12;
  g.n_prompt_tokens_cached = 12;
  g.n_generated = 5;
  r.generation = g;
  const nlohmann::json j = route_record_json(r);
  auto back = route_record_from_json(j);
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  ASSERT_TRUE(back->generation.has_value());
  EXPECT_EQ(back->generation->n_prompt_tokens_cached, 12);
  nlohmann::json older = j;
  ASSERT_EQ(older["tokens"].erase("prompt_cached"), 1u) << j.dump();
  back = route_record_from_json(older);
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(back->generation->n_prompt_tokens_cached, 0);
  for (const nlohmann::json &value : {nlohmann::json("twelve"), nlohmann::json(1e30), nlohmann::json::array(),
                                      nlohmann::json(nullptr), nlohmann::json(2.5)}) {
    nlohmann::json bad = j;
    bad["tokens"]["prompt_cached"] = value;
    auto r2 = route_record_from_json(bad);
    ASSERT_FALSE(r2.ok()) << value.dump();
    EXPECT_NE(r2.status().message().find("tokens.prompt_cached"), std::string::npos) << r2.status().message();
  }
}

} // namespace
} // namespace aio
