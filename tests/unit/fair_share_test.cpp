// Fair share among co-resident engines (exec/fair_share.h): the busy engine with the least stepping time goes next,
// and one that gets work after a pause rejoins at the floor - no banked idle time, no debt from an old busy period.
#include <gtest/gtest.h>

#include "exec/fair_share.h"

namespace aio::exec {
namespace {

// Runs both engines busy for `seconds` of stepping, each step `step_a` / `step_b` long; returns A's share of it.
double share_of_a(FairShare &f, double step_a, double step_b, double seconds) {
  double a = 0, total = 0;
  while (total < seconds) {
    const auto next = f.update({true, true});
    const double step = *next == 0 ? step_a : step_b;
    f.charge(*next, step);
    if (*next == 0) a += step;
    total += step;
  }
  return a / total;
}

TEST(FairShare, TwoBusyEnginesShareTimeNotSteps) {
  FairShare f(2);
  // A's steps are ten times B's: B takes about ten steps per step of A, and each has half of the time.
  EXPECT_NEAR(share_of_a(f, 0.5, 0.05, 60), 0.5, 0.02);
}

TEST(FairShare, NothingBusyMeansNoTurn) {
  FairShare f(3);
  EXPECT_FALSE(f.update({false, false, false}).has_value());
  EXPECT_EQ(f.update({false, false, true}), 2u);
}

TEST(FairShare, AnEngineThatWasIdleDoesNotBankTheTimeItDidNotUse) {
  FairShare f(2);
  for (int i = 0; i < 10; ++i) f.charge(*f.update({true, false}), 1.0); // A alone: 10 s
  // B gets work: it rejoins at A's time, so A is not locked out while B "catches up" on 10 s.
  EXPECT_NEAR(share_of_a(f, 0.5, 0.5, 20), 0.5, 0.05);
}

TEST(FairShare, AnOldBusyPeriodLeavesNoDebtAcrossAnIdleSpell) {
  FairShare f(2);
  for (int i = 0; i < 10; ++i) f.charge(*f.update({true, false}), 1.0); // A alone: 10 s, B never stepped
  f.update({false, false});                                             // both idle
  // Both get work at once. Without the floor B was 10 s behind and took every turn for 10 s: A's first request waited
  // that long. Now A's turn comes within a step of B's.
  f.update({true, true});
  EXPECT_NEAR(f.used(0), f.used(1), 1e-9);
  int b_turns_before_a = 0;
  for (auto next = f.update({true, true}); *next == 1; next = f.update({true, true})) {
    f.charge(1, 0.1);
    ASSERT_LT(++b_turns_before_a, 5);
  }
  EXPECT_NEAR(share_of_a(f, 0.5, 0.1, 20), 0.5, 0.05);
}

TEST(FairShare, TheFloorNeverFalls) {
  FairShare f(2);
  f.charge(*f.update({true, true}), 3.0); // A steps 3 s
  f.update({true, true});                 // floor: B's 0
  f.charge(1, 5.0);                       // B steps 5 s
  f.update({false, true});                // A idle: the floor is the least of the busy (A 3, B 5) = 3
  EXPECT_DOUBLE_EQ(f.floor(), 3.0);
  f.update({false, false});
  f.update({false, false});
  EXPECT_DOUBLE_EQ(f.floor(), 5.0); // B was the only busy engine
  f.update({true, false});          // A rejoins at the floor
  EXPECT_DOUBLE_EQ(f.used(0), 5.0);
}

} // namespace
} // namespace aio::exec
