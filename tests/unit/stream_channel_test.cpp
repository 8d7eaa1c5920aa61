#include <gtest/gtest.h>

#include <thread>

#include "serve/stream_channel.h"

namespace aio::serve {
namespace {
using namespace std::chrono_literals;

TEST(StreamChannel, PiecesArriveInOrderThenTheResult) {
  StreamChannel ch;
  std::thread producer([&] {
    for (const char *p : {"Hel", "lo", ", world"}) {
      EXPECT_TRUE(ch.push(p));
      std::this_thread::sleep_for(2ms);
    }
    engine::GenerationRecord rec;
    rec.text = "Hello, world";
    ch.finish(rec);
  });
  std::string got;
  while (!ch.done())
    if (auto p = ch.next(1s)) got += p->text;
  producer.join();
  EXPECT_EQ(got, "Hello, world");
  ASSERT_TRUE(ch.result().ok());
  EXPECT_EQ(ch.result()->text, got);
}

TEST(StreamChannel, ANonStreamingChannelKeepsOnlyTheOutcome) {
  StreamChannel ch(/*streaming=*/false);
  std::thread producer([&] {
    EXPECT_TRUE(ch.push("Hel"));
    EXPECT_TRUE(ch.push("lo"));
    engine::GenerationRecord rec;
    rec.text = "Hello";
    ch.finish(rec);
  });
  ch.wait_finished();
  producer.join();
  EXPECT_FALSE(ch.next(1ms)) << "no pieces are kept";
  EXPECT_TRUE(ch.done());
  EXPECT_EQ(ch.result()->text, "Hello");
  ch.cancel();
  EXPECT_FALSE(ch.push("more")) << "cancellation still reaches the producer";
}

TEST(StreamChannel, ErrorsReachTheConsumer) {
  StreamChannel ch;
  ch.finish(context_overflow("too long"));
  EXPECT_FALSE(ch.next(10ms));
  EXPECT_TRUE(ch.done());
  EXPECT_EQ(ch.result().status().code(), StatusCode::context_overflow);
}

TEST(StreamChannel, CancelTellsTheProducerToStop) {
  StreamChannel ch;
  EXPECT_TRUE(ch.push("a"));
  ch.cancel();
  EXPECT_TRUE(ch.cancelled());
  EXPECT_FALSE(ch.push("b"));
}

TEST(StreamChannel, NextTimesOutWithoutData) {
  StreamChannel ch;
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(ch.next(20ms));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 15ms);
  EXPECT_FALSE(ch.done());
  EXPECT_FALSE(ch.result().ok());
}

} // namespace
} // namespace aio::serve
