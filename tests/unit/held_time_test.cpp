// Held time (exec/held_time.h): streams held by another model's prompt-reading step are owed that time and step in a
// run until it is paid; time is never banked for streams that were not held.
#include <gtest/gtest.h>

#include <limits>

#include "exec/held_time.h"

namespace aio::exec {
namespace {

TEST(HeldTime, HeldStreamsStepUntilTheHeldTimeIsPaid) {
  HeldTime h(2);
  h.held(1, {true, false}, 0.6); // engine 1 read a prompt for 600 ms while engine 0's streams waited
  int runs = 0;
  while (h.most_owed({true, false}) == 0u) {
    h.stepped(0, 0.012);
    ++runs;
  }
  EXPECT_EQ(runs, 50); // 600 ms of 12-ms steps
  EXPECT_EQ(h.owed(0), 0.0);
  EXPECT_EQ(h.owed(1), 0.0); // the holder is owed nothing
}

TEST(HeldTime, OnlyTheEnginesWhoseStreamsWaitedAreOwed) {
  HeldTime h(3);
  h.held(0, {true, true, false}, 1.0); // the holder's own flag does not count
  h.held(0, {false, true, true}, 0.5);
  EXPECT_EQ(h.owed(0), 0.0);
  EXPECT_DOUBLE_EQ(h.owed(1), 1.5);
  EXPECT_DOUBLE_EQ(h.owed(2), 0.5);
  EXPECT_EQ(h.most_owed({true, true, true}), 1u);
}

TEST(HeldTime, DebtIsForgottenWhenTheHeldStreamsAreGone) {
  HeldTime h(2);
  h.held(1, {true, false}, 2.0);
  EXPECT_FALSE(h.most_owed({false, true}).has_value()); // engine 0's streams ended: nothing is banked
  EXPECT_EQ(h.owed(0), 0.0);
  EXPECT_FALSE(h.most_owed({true, true}).has_value()); // new streams are not paid for the old ones' wait
}

TEST(HeldTime, NonsenseTimesChangeNothing) {
  HeldTime h(2);
  h.held(1, {true, false}, -1);
  h.held(1, {true, false}, std::numeric_limits<double>::quiet_NaN());
  EXPECT_EQ(h.owed(0), 0.0);
  h.held(1, {true, false}, 0.1);
  h.stepped(0, -5);
  h.stepped(0, std::numeric_limits<double>::quiet_NaN());
  EXPECT_DOUBLE_EQ(h.owed(0), 0.1);
  h.held(1, {true}, 0.1); // a shorter flag list: the rest did not wait
  EXPECT_DOUBLE_EQ(h.owed(0), 0.2);
}

} // namespace
} // namespace aio::exec
