// Options and arguments are refused before anything is sent: these need no server (nothing listens
// on the address used, and nothing is ever sent to it).
#include <zkrecipes/session.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <thread>

using namespace std::chrono_literals;

namespace {

zk::SessionOptions valid() {
  zk::SessionOptions o;
  o.hosts = "127.0.0.1:1";
  return o;
}

void expect_invalid(const zk::SessionOptions& o, const std::string& mention) {
  try {
    zk::Session s(o);
    FAIL() << "constructed";
  } catch (const zk::Error& e) {
    EXPECT_EQ(e.errc(), zk::Errc::invalid_argument) << e.what();
    EXPECT_NE(std::string(e.what()).find(mention), std::string::npos) << e.what();
  }
}

TEST(SessionOptions, RefusesEmptyHosts) {
  auto o = valid();
  o.hosts.clear();
  expect_invalid(o, "hosts");
}

TEST(SessionOptions, RefusesNonPositiveTimeouts) {
  auto o = valid();
  o.session_timeout = 0ms;
  expect_invalid(o, "session_timeout");
  o = valid();
  o.connect_timeout = -5ms;
  expect_invalid(o, "connect_timeout must be positive, got -5 ms");
  o = valid();
  o.operation_timeout = 0ms;
  expect_invalid(o, "operation_timeout");
}

TEST(SessionOptions, RefusesMalformedChroot) {
  auto o = valid();
  o.chroot = "app/";
  expect_invalid(o, "\"app/\"");
}

TEST(SessionOptions, RefusesShortResumePassword) {
  auto o = valid();
  o.resume = zk::ClientId{42, "short"};
  expect_invalid(o, "16 bytes");
}

TEST(SessionOptions, DefaultsAreSane) {
  const zk::SessionOptions o;
  EXPECT_GT(o.session_timeout.count(), 0);
  EXPECT_GT(o.connect_timeout.count(), 0);
  EXPECT_EQ(o.log_level, zk::LogLevel::warn);
  EXPECT_TRUE(o.renew_after_expiry);
}

TEST(Deadline, ResolvesDurationsTimePointsAndDefault) {
  const auto before = zk::Clock::now();
  const auto d1 = zk::Deadline(2s).resolve(10s);
  EXPECT_GE(d1, before + 2s);
  EXPECT_LT(d1, before + 3s);
  const auto at = before + 7s;
  EXPECT_EQ(zk::Deadline(at).resolve(10s), at);
  const auto d3 = zk::Deadline().resolve(10s);
  EXPECT_GE(d3, before + 10s);
  EXPECT_TRUE(zk::Deadline().is_default());
}

TEST(Deadline, RefusesZeroAndNegativeDurations) {
  EXPECT_THROW((void)zk::Deadline(0ms).resolve(1s), zk::Error);
  try {
    (void)zk::Deadline(-1s).resolve(1s);
    FAIL();
  } catch (const zk::Error& e) {
    EXPECT_EQ(e.errc(), zk::Errc::invalid_argument);
  }
}

TEST(Deadline, ForeverSaturatesInsteadOfOverflowing) {
  using namespace std::chrono;
  const auto now = zk::Clock::now();
  const auto century = now + hours(24 * 365 * 100);
  // Each of these overflowed into the past, so the call "timed out" at once.
  EXPECT_GT(zk::Deadline(nanoseconds::max()).resolve(1s), century);
  EXPECT_GT(zk::Deadline(hours::max()).resolve(1s), century);
  EXPECT_GT(zk::Deadline(duration<double>(1e99)).resolve(1s), century);
  EXPECT_EQ(zk::Deadline(hours::max()).resolve(1s), zk::far_future);
  EXPECT_EQ(zk::saturating_add(now, hours::max()), zk::far_future);
  EXPECT_EQ(zk::saturating_add(zk::far_future, 1h), zk::far_future);
  EXPECT_EQ(zk::saturating_add(now, duration<double>(std::nan(""))), zk::far_future);
  EXPECT_EQ(zk::saturating_add(now, 5s), now + 5s);
  EXPECT_EQ(zk::saturating_add(now, -5s), now - 5s);
  EXPECT_EQ(zk::saturating_add(now, -hours::max()), zk::Clock::time_point{});
  // A century more still does not wrap around.
  EXPECT_LT(zk::far_future, zk::far_future + hours(24 * 365 * 100));
}

TEST(ConnectTimeout, NothingListeningThrowsByTheDeadlineAndLeavesNoThread) {
  const auto threads = [] {
    return std::distance(std::filesystem::directory_iterator("/proc/self/task"),
                         std::filesystem::directory_iterator{});
  };
  std::thread([] {}).join(); // lets a sanitizer runtime start its own helper thread first
  const auto threads_before = threads();
  auto o = valid();
  o.connect_timeout = 700ms;
  o.log_sink = [](zk::LogLevel, std::string_view) {}; // connection refusals are expected here
  const auto start = zk::Clock::now();
  try {
    zk::Session s(o);
    FAIL() << "connected to nothing";
  } catch (const zk::Error& e) {
    EXPECT_EQ(e.errc(), zk::Errc::connection_loss) << e.what();
    EXPECT_TRUE(e.is_retryable());
  }
  const auto took = zk::Clock::now() - start;
  EXPECT_GE(took, 650ms);
  EXPECT_LT(took, 5s);
  EXPECT_EQ(threads(), threads_before) << "the failed constructor left a thread behind";
}

} // namespace
