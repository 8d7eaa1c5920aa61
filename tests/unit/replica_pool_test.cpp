// Choosing replicas: affinity that holds while a replica is healthy and moves only its own keys, load spread by weight,
// a retry that goes elsewhere, passive ejection with backoff and probation, health checks against a live endpoint.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <thread>

#include <httplib.h>

#include "backend/replica_pool.h"

namespace aio::backend {
namespace {

std::vector<config::Replica> three(double w0 = 1, double w1 = 1, double w2 = 1) {
  return {{"a", "http://127.0.0.1:1/v1", w0}, {"b", "http://127.0.0.1:2/v1", w1}, {"c", "http://127.0.0.1:3/v1", w2}};
}

TEST(ReplicaPool, AConversationStaysOnOneReplicaAndKeysSpread) {
  ReplicaPool pool("large", three(), {}, nullptr);
  std::map<size_t, int> per_replica;
  for (int conv = 0; conv < 300; ++conv) {
    const uint64_t key = affinity_key({{"system", "You are helpful."}, {"user", "question " + std::to_string(conv)}});
    const auto first = pool.pick(key);
    ASSERT_TRUE(first);
    for (int turn = 0; turn < 5; ++turn) EXPECT_EQ(pool.pick(key), first) << "conversation " << conv;
    ++per_replica[*first];
  }
  for (size_t i = 0; i < 3; ++i) EXPECT_GT(per_replica[i], 60) << "replica " << i << " got too few conversations";
}

TEST(ReplicaPool, EjectingAReplicaMovesOnlyItsConversations) {
  ReplicaPool pool("large", three(), {}, nullptr);
  std::map<uint64_t, size_t> before;
  for (int conv = 0; conv < 200; ++conv) {
    const uint64_t key = affinity_key({{"user", "q" + std::to_string(conv)}});
    before[key] = *pool.pick(key);
  }
  pool.started(1);
  pool.finished(1, /*replica_failed=*/true, "connection refused", 0.01);
  for (const auto &[key, was] : before) {
    const auto now = pool.pick(key);
    ASSERT_TRUE(now);
    EXPECT_NE(*now, 1u) << "an ejected replica takes nothing";
    if (was != 1) { EXPECT_EQ(*now, was) << "a healthy replica keeps its conversations"; }
  }
  EXPECT_FALSE(pool.states()[1].healthy);
  EXPECT_EQ(pool.states()[1].n_ejections, 1u);
  EXPECT_EQ(pool.states()[1].last_error, "connection refused");
}

TEST(ReplicaPool, LoadFollowsWeightsWithoutAffinity) {
  ReplicaPool pool("large", three(1, 1, 2), {}, nullptr);
  std::map<size_t, int> per_replica;
  // Requests held open: power of two choices balances what is in flight, in proportion to weight.
  for (int i = 0; i < 400; ++i) {
    const size_t r = *pool.pick(0);
    pool.started(r);
    ++per_replica[r];
  }
  EXPECT_NEAR(per_replica[0], 100, 15);
  EXPECT_NEAR(per_replica[1], 100, 15);
  EXPECT_NEAR(per_replica[2], 200, 15);
}

TEST(ReplicaPool, AnOverloadedAffinityReplicaSpillsToTheNext) {
  ReplicaPool pool("large", three(), {}, nullptr);
  const uint64_t key = affinity_key({{"user", "the same conversation"}});
  const size_t home = *pool.pick(key);
  pool.started(home);
  EXPECT_EQ(pool.pick(key, std::nullopt, /*later_turn=*/true), home) << "a later turn stays under a little load";
  EXPECT_NE(pool.pick(key), home) << "a first turn goes where there is room (nothing cached to lose)";
  for (int i = 0; i < 10; ++i) pool.started(home); // its home is far beyond its share of what is in flight
  const auto now = pool.pick(key);
  ASSERT_TRUE(now);
  EXPECT_NE(*now, home);
}

TEST(ReplicaPool, ARetryGoesElsewhereAndNoneHealthyIsNone) {
  ReplicaPool pool("large", {{"a", "http://127.0.0.1:1/v1", 1}, {"b", "http://127.0.0.1:2/v1", 1}}, {}, nullptr);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(pool.pick(0, /*exclude=*/0), 1u);
  for (size_t r : {0u, 1u}) {
    pool.started(r);
    pool.finished(r, true, "HTTP 500", 0.01);
  }
  EXPECT_EQ(pool.pick(0), 1u) << "a failed request does not eject the last replica taking requests";
  EXPECT_FALSE(pool.states()[0].healthy);
  EXPECT_TRUE(pool.states()[1].healthy);
  EXPECT_EQ(pool.states()[1].n_failures, 1u);
}

TEST(ReplicaPool, APassiveEjectionEndsInProbationAndSuccessReadmits) {
  ReplicaPool pool("large", {{"a", "http://127.0.0.1:1/v1", 1}, {"b", "http://127.0.0.1:2/v1", 1}}, {}, nullptr);
  pool.started(0);
  pool.finished(0, true, "reset", 0.01); // first failure: 1 s
  for (int i = 0; i < 10; ++i) EXPECT_EQ(pool.pick(0), 1u);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  bool back = false;
  for (int i = 0; i < 20; ++i) back = back || pool.pick(0) == 0u;
  ASSERT_TRUE(back) << "on probation once the backoff ended";
  pool.started(0);
  pool.finished(0, false, "", 0.01);
  EXPECT_TRUE(pool.states()[0].healthy);
  EXPECT_EQ(pool.states()[0].n_ejections, 1u);
}

TEST(ReplicaPool, HealthChecksEjectAndReadmit) {
  httplib::Server replica;
  std::atomic<bool> healthy{false};
  replica.Get("/health", [&](const httplib::Request &, httplib::Response &res) {
    res.status = healthy ? 200 : 503;
    res.set_content(healthy ? "{\"status\":\"ok\"}" : "{\"status\":\"loading\"}", "application/json");
  });
  const int port = replica.bind_to_any_port("127.0.0.1");
  std::thread t([&] { replica.listen_after_bind(); });
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/v1";
  {
    ReplicaPool pool("large", {{"live", url, 1}, {"gone", "http://127.0.0.1:9/v1", 1}}, {"/health", 0.1, 0.5}, nullptr);
    pool.start_health_checks();
    auto wait_for = [&](auto pred) {
      for (int i = 0; i < 100 && !pred(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
      return pred();
    };
    EXPECT_TRUE(wait_for([&] { return !pool.states()[0].healthy && !pool.states()[1].healthy; }))
        << "a 503 (still loading) and a closed port both eject";
    healthy = true;
    EXPECT_TRUE(wait_for([&] { return pool.states()[0].healthy; })) << "a passing check re-admits";
    EXPECT_FALSE(pool.states()[1].healthy);
    EXPECT_EQ(pool.pick(0), 0u);
  }
  replica.stop();
  t.join();
}

TEST(ReplicaPool, AMixedPoolsLocalMemberIsChosenLikeAnyOtherButNeverChecked) {
  // The local member, then two remote replicas that nobody answers: health checks eject those, never the local one.
  std::vector<config::Replica> members = {{"local", "", 2, /*local=*/true},
                                          {"a", "http://127.0.0.1:9/v1", 1, false},
                                          {"b", "http://127.0.0.1:9/v2", 1, false}};
  {
    ReplicaPool pool("large", members, {}, nullptr);
    // Held open: the local member takes its weight's share (half); a pick without include_local never names it.
    std::map<size_t, int> per_member;
    for (int i = 0; i < 400; ++i) {
      const size_t r = *pool.pick(0, std::nullopt, false, /*include_local=*/true);
      pool.started(r);
      ++per_member[r];
      EXPECT_NE(pool.pick(0), 0u) << "the forwarder never picks the local member";
    }
    EXPECT_NEAR(per_member[0], 200, 30);
    // Affinity: a conversation keyed to the local member stays there; a request failing here never ejects it.
    uint64_t key = 0;
    for (int conv = 0; !key; ++conv) {
      const uint64_t k = affinity_key({{"user", "q" + std::to_string(conv)}});
      ReplicaPool idle("large", members, {}, nullptr);
      if (idle.pick(k, std::nullopt, false, true) == 0u) key = k;
    }
    pool.started(0);
    pool.finished(0, /*replica_failed=*/true, "prompt too long", 0.01);
    EXPECT_TRUE(pool.states()[0].healthy);
    // The remote ones fail: both ejected (the local member is still there to take requests), the local one is left.
    for (size_t r : {1u, 2u}) {
      pool.started(r);
      pool.finished(r, /*replica_failed=*/true, "connection refused", 0.01);
    }
    EXPECT_FALSE(pool.states()[1].healthy);
    EXPECT_FALSE(pool.states()[2].healthy) << "the local member counts as another place to go";
    EXPECT_EQ(pool.pick(key, std::nullopt, true, true), 0u);
    EXPECT_FALSE(pool.pick(0)) << "no remote replica left for the forwarder";
    // unstarted undoes a placement that never went out.
    const int64_t before = pool.states()[0].in_flight;
    pool.started(0);
    pool.unstarted(0);
    EXPECT_EQ(pool.states()[0].in_flight, before);
  }
  {
    ReplicaPool pool("large", members, {"/health", 0.05, 0.2}, nullptr);
    pool.start_health_checks();
    for (int i = 0; i < 100 && (pool.states()[1].healthy || pool.states()[2].healthy); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_FALSE(pool.states()[1].healthy);
    EXPECT_TRUE(pool.states()[0].healthy) << "the local member is not health-checked";
    EXPECT_EQ(pool.states()[0].url, "local");
  }
}

} // namespace
} // namespace aio::backend
