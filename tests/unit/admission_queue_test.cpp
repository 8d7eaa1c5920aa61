#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "exec/admission_queue.h"

namespace aio::exec {
namespace {
using namespace std::chrono_literals;

TEST(AdmissionQueue, FifoAndRefusesWhenFull) {
  AdmissionQueue<int> q(2);
  EXPECT_TRUE(q.try_push(1));
  EXPECT_TRUE(q.try_push(2));
  EXPECT_FALSE(q.try_push(3)) << "a full queue must refuse, not grow";
  EXPECT_EQ(q.size(), 2u);
  EXPECT_EQ(q.try_pop(), 1);
  EXPECT_TRUE(q.try_push(3));
  EXPECT_EQ(q.try_pop(), 2);
  EXPECT_EQ(q.try_pop(), 3);
  EXPECT_EQ(q.try_pop(), std::nullopt);
}

TEST(AdmissionQueue, PopFirstPassesItemsThatDoNotMatchAndKeepsTheirOrder) {
  AdmissionQueue<int> q(4);
  for (int i : {1, 2, 3, 4}) ASSERT_TRUE(q.try_push(i));
  auto even = [](int v) { return v % 2 == 0; };
  EXPECT_EQ(q.try_pop_first(even), 2);
  EXPECT_EQ(q.try_pop_first(even), 4);
  EXPECT_EQ(q.try_pop_first(even), std::nullopt);
  EXPECT_EQ(q.try_pop(), 1);
  EXPECT_EQ(q.try_pop(), 3);
}

TEST(AdmissionQueue, PopWaitsForAnItemOrTimesOut) {
  AdmissionQueue<int> q(4);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(q.pop_for(20ms), std::nullopt);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 15ms);
  std::thread producer([&] {
    std::this_thread::sleep_for(10ms);
    q.try_push(7);
  });
  EXPECT_EQ(q.pop_for(5s), 7);
  producer.join();
}

TEST(AdmissionQueue, CloseRefusesNewItemsButDrainsOld) {
  AdmissionQueue<int> q(4);
  q.try_push(1);
  q.close();
  EXPECT_TRUE(q.closed());
  EXPECT_FALSE(q.try_push(2));
  EXPECT_EQ(q.pop_for(1s), 1);
  EXPECT_EQ(q.pop_for(1s), std::nullopt) << "closed and drained: returns at once";
}

TEST(AdmissionQueue, CloseWakesWaiters) {
  AdmissionQueue<int> q(4);
  std::thread waiter([&] { EXPECT_EQ(q.pop_for(30s), std::nullopt); });
  std::this_thread::sleep_for(10ms);
  q.close();
  waiter.join(); // would hang for 30 s if close() did not wake it
}

TEST(AdmissionQueue, ManyProducersAndConsumersLoseNothing) {
  AdmissionQueue<int> q(64);
  std::atomic<int> taken{0}, sum{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < 3; ++c)
    threads.emplace_back([&] {
      while (taken.load() < 1500)
        if (auto v = q.pop_for(20ms)) {
          ++taken;
          sum += *v;
        }
    });
  for (int p = 0; p < 3; ++p)
    threads.emplace_back([&, p] {
      for (int i = 1; i <= 500; ++i)
        while (!q.try_push(p * 1000 + i)) std::this_thread::yield();
    });
  for (auto &t : threads) t.join();
  EXPECT_EQ(taken.load(), 1500);
  int expect = 0;
  for (int p = 0; p < 3; ++p)
    for (int i = 1; i <= 500; ++i) expect += p * 1000 + i;
  EXPECT_EQ(sum.load(), expect);
}

} // namespace
} // namespace aio::exec
