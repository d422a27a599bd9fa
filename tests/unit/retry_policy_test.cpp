// zk::RetryPolicy and zk::Backoff: the pure backoff arithmetic and the attempt/deadline
// bookkeeping.
#include <zkrecipes/retry.hpp>

#include <gtest/gtest.h>

#include <set>

using namespace std::chrono_literals;
using std::chrono::nanoseconds;

namespace {

zk::RetryPolicy policy(int attempts, std::chrono::milliseconds base, std::chrono::milliseconds top,
                       double jitter) {
  zk::RetryPolicy p;
  p.max_attempts = attempts;
  p.base_backoff = base;
  p.max_backoff = top;
  p.jitter = jitter;
  return p;
}

TEST(RetryPolicy, WithoutJitterDoublesUpToTheCap) {
  const auto p = policy(10, 2ms, 50ms, 0.0);
  EXPECT_EQ(p.backoff(1, 0.7), nanoseconds(2ms));
  EXPECT_EQ(p.backoff(2, 0.7), nanoseconds(4ms));
  EXPECT_EQ(p.backoff(3, 0.7), nanoseconds(8ms));
  EXPECT_EQ(p.backoff(5, 0.7), nanoseconds(32ms));
  EXPECT_EQ(p.backoff(6, 0.7), nanoseconds(50ms));
  EXPECT_EQ(p.backoff(7, 0.7), nanoseconds(50ms));
}

TEST(RetryPolicy, HugeRetryNumbersNeitherOverflowNorExceedTheCap) {
  const auto p = policy(10, 1ms, 250ms, 0.0);
  EXPECT_EQ(p.backoff(64, 0.0), nanoseconds(250ms));
  EXPECT_EQ(p.backoff(1'000'000, 0.0), nanoseconds(250ms));
  EXPECT_EQ(p.backoff(std::numeric_limits<int>::max(), 0.0), nanoseconds(250ms));
  const auto big = policy(10, std::chrono::milliseconds(std::chrono::hours(24 * 365)),
                          std::chrono::milliseconds(std::chrono::hours(24 * 365 * 100)), 0.0);
  EXPECT_EQ(big.backoff(100, 0.0), nanoseconds(big.max_backoff));
}

TEST(RetryPolicy, FullJitterSpansZeroToTheCap) {
  const auto p = policy(10, 8ms, 8ms, 1.0);
  EXPECT_EQ(p.backoff(1, 0.0), nanoseconds(8ms));
  EXPECT_EQ(p.backoff(1, 0.5), nanoseconds(4ms));
  EXPECT_LT(p.backoff(1, 0.999999), nanoseconds(1ms));
  EXPECT_GE(p.backoff(1, 0.999999).count(), 0);
  // Out-of-range draws are clamped rather than producing negative or oversize delays.
  EXPECT_GE(p.backoff(1, 7.0).count(), 0);
  EXPECT_EQ(p.backoff(1, -3.0), nanoseconds(8ms));
}

TEST(RetryPolicy, PartialJitterKeepsAFloor) {
  const auto p = policy(10, 10ms, 10ms, 0.25);
  EXPECT_EQ(p.backoff(1, 0.0), nanoseconds(10ms));
  EXPECT_EQ(p.backoff(1, 0.5), nanoseconds(8750us));
  EXPECT_GE(p.backoff(1, 0.9999999), nanoseconds(7500us));
}

TEST(RetryPolicy, ZeroBaseMeansNoDelay) {
  const auto p = policy(10, 0ms, 0ms, 1.0);
  EXPECT_EQ(p.backoff(1, 0.3).count(), 0);
  EXPECT_EQ(p.backoff(100, 0.3).count(), 0);
  EXPECT_EQ(p.backoff(0, 0.3).count(), 0);
}

TEST(RetryPolicy, ValidateRejectsNonsense) {
  const auto code_of = [](const zk::RetryPolicy& p) {
    try {
      p.validate();
    } catch (const zk::Error& e) {
      return e.errc();
    }
    return zk::Errc::ok;
  };
  EXPECT_EQ(code_of(zk::RetryPolicy{}), zk::Errc::ok);
  EXPECT_EQ(code_of(policy(0, 1ms, 2ms, 0.5)), zk::Errc::invalid_argument);
  EXPECT_EQ(code_of(policy(1, 5ms, 2ms, 0.5)), zk::Errc::invalid_argument);
  EXPECT_EQ(code_of(policy(1, -1ms, 2ms, 0.5)), zk::Errc::invalid_argument);
  EXPECT_EQ(code_of(policy(1, 1ms, 2ms, 1.5)), zk::Errc::invalid_argument);
  EXPECT_EQ(code_of(policy(1, 1ms, 2ms, std::nan(""))), zk::Errc::invalid_argument);
  auto no_time = policy(1, 1ms, 2ms, 0.5);
  no_time.timeout = 0ms;
  EXPECT_EQ(code_of(no_time), zk::Errc::invalid_argument);
}

TEST(Backoff, StopsAfterMaxAttempts) {
  const auto now = zk::Clock::now();
  zk::Backoff b(policy(3, 1ms, 4ms, 0.0), now + 1h, 42);
  b.start_attempt();
  ASSERT_TRUE(b.next_delay(now).has_value());
  b.start_attempt();
  ASSERT_TRUE(b.next_delay(now).has_value());
  b.start_attempt();
  EXPECT_EQ(b.attempts(), 3);
  EXPECT_FALSE(b.next_delay(now).has_value());
}

TEST(Backoff, DelaysGrowPerRetryEvenWithoutNewAttempts) {
  // Failed reads also back off, growing, although only writes count as attempts.
  const auto now = zk::Clock::now();
  zk::Backoff b(policy(1, 1ms, 8ms, 0.0), now + 1h, 1);
  EXPECT_EQ(*b.next_delay(now), nanoseconds(1ms));
  EXPECT_EQ(*b.next_delay(now), nanoseconds(2ms));
  EXPECT_EQ(*b.next_delay(now), nanoseconds(4ms));
  EXPECT_EQ(*b.next_delay(now), nanoseconds(8ms));
  EXPECT_EQ(*b.next_delay(now), nanoseconds(8ms));
}

TEST(Backoff, StopsWhenTheNextAttemptWouldStartAfterTheDeadline) {
  const auto now = zk::Clock::now();
  zk::Backoff b(policy(100, 10ms, 10ms, 0.0), now + 15ms, 7);
  b.start_attempt();
  EXPECT_TRUE(b.next_delay(now).has_value());        // 10 ms still fits before +15 ms
  EXPECT_FALSE(b.next_delay(now + 6ms).has_value()); // +16 ms would not
  EXPECT_TRUE(b.expired(now + 15ms));
  EXPECT_FALSE(b.expired(now + 14ms));
}

TEST(Backoff, JitterSpreadsDelaysAndSeedsAreReproducible) {
  const auto now = zk::Clock::now();
  const auto p = policy(1000, 100ms, 100ms, 1.0);
  zk::Backoff a(p, now + 1h, 99), b(p, now + 1h, 99), c(p, now + 1h, 100);
  std::set<nanoseconds::rep> seen;
  bool differs = false;
  for (int i = 0; i < 50; ++i) {
    const auto x = *a.next_delay(now), y = *b.next_delay(now), z = *c.next_delay(now);
    EXPECT_EQ(x, y);
    differs = differs || x != z;
    EXPECT_GE(x.count(), 0);
    EXPECT_LE(x, nanoseconds(100ms));
    seen.insert(x.count());
  }
  EXPECT_TRUE(differs);
  EXPECT_GT(seen.size(), 40U); // 50 draws from a continuous range: nearly all distinct
}

TEST(Backoff, RejectsAnInvalidPolicy) {
  EXPECT_THROW(zk::Backoff(policy(0, 1ms, 1ms, 0.0), zk::Clock::now() + 1s), zk::Error);
}

} // namespace
