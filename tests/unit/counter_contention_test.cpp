// The counter's contention policy (contention.hpp): when a writer is contended, announces and
// withdraws its marker, and how long a contended win waits. No server.
#include "recipes/counter/contention.hpp"

#include <gtest/gtest.h>

namespace {

using namespace std::chrono_literals;
using zk::Clock;
using zk::detail::counter::Contention;
using zk::detail::counter::ContentionPolicy;

const Clock::time_point t0 = Clock::time_point{} + 1h;

TEST(CounterContention, AWriterAloneIsNeverContendedAndNeverWaits) {
  Contention c;
  EXPECT_FALSE(c.contended(t0));
  c.children(t0, 0, 0);
  c.children(t0, 1, 1); // only our own marker
  c.children(t0, 2, 2); // our marker and our turn node
  EXPECT_FALSE(c.contended(t0));
  EXPECT_EQ(c.yield(t0, 2ms, 0.99), 0ns);
  EXPECT_FALSE(c.withdraw(t0, false));
}

TEST(CounterContention, AConflictOrAnotherMarkerMakesItContendedForTheLinger) {
  ContentionPolicy p;
  p.linger = 1s;
  Contention by_conflict(p);
  by_conflict.conflict(t0);
  EXPECT_TRUE(by_conflict.contended(t0 + 999ms));
  EXPECT_FALSE(by_conflict.contended(t0 + 1s));

  Contention by_marker(p);
  by_marker.children(t0, 1, 0); // a marker that is not ours
  EXPECT_TRUE(by_marker.contended(t0 + 500ms));
  by_marker.children(t0 + 800ms, 2, 1); // ours and another: refreshed
  EXPECT_TRUE(by_marker.contended(t0 + 1700ms));
  EXPECT_FALSE(by_marker.contended(t0 + 1800ms));
}

TEST(CounterContention, TheMarkerIsCreatedOnceAfterEnoughConflictsAndWithdrawnWhenQuiet) {
  ContentionPolicy p;
  p.announce_after = 2;
  p.linger = 1s;
  Contention c(p);
  EXPECT_FALSE(c.announce(1, false));
  EXPECT_TRUE(c.announce(2, false));
  EXPECT_FALSE(c.announce(5, true)); // one marker per writer
  c.conflict(t0);
  EXPECT_FALSE(c.withdraw(t0 + 500ms, true));
  c.children(t0 + 900ms, 1, 1); // only ours: no competitor seen
  EXPECT_TRUE(c.withdraw(t0 + 1s, true));
  EXPECT_FALSE(c.withdraw(t0 + 1s, false)); // nothing to withdraw
}

TEST(CounterContention, TheWithdrawalIsDueALingerAfterTheLastSignOfCompetition) {
  ContentionPolicy p;
  p.linger = 1s;
  Contention c(p);
  EXPECT_FALSE(c.quiet_at().has_value()); // never contended: nothing to wait for
  c.conflict(t0);
  EXPECT_EQ(c.quiet_at(), t0 + 1s);
  c.children(t0 + 300ms, 2, 1); // another writer's marker keeps it going
  EXPECT_EQ(c.quiet_at(), t0 + 1300ms);
  EXPECT_FALSE(c.withdraw(*c.quiet_at() - 1ms, true));
  EXPECT_TRUE(c.withdraw(*c.quiet_at(), true));
}

TEST(CounterContention, AContendedWinWaitsAFractionOfItsLatency) {
  ContentionPolicy p;
  p.yield_fraction = 0.5;
  Contention c(p);
  c.conflict(t0);
  EXPECT_EQ(c.yield(t0, 2ms, 0.0), 0ns);
  EXPECT_EQ(c.yield(t0, 2ms, 0.5), 500us);
  EXPECT_LT(c.yield(t0, 2ms, 0.999999), 1ms); // never the whole fraction's worth or more
  EXPECT_EQ(c.yield(t0, -1ms, 0.5), 0ns);     // a clock step: no wait, never negative
  EXPECT_EQ(c.yield(t0 + 2s, 2ms, 0.5), 0ns); // the competition went quiet
}

} // namespace
