// The rate limit of the C client's repeated log lines (no server: a fake clock, then a real connect
// to a port where nothing listens).
#include "session/log_router.hpp"

#include <zkrecipes/session.hpp>

#include <gtest/gtest.h>

#include <mutex>

using namespace std::chrono_literals;
using zk::detail::RepeatFilter;

namespace {

const std::string line = "2026-12-02 03:19:34,830:8282(0x7fd9):ZOO_ERROR@check_events@3011: Socket "
                         "127.0.0.11:2181 zk retcode=-4, errno=112(Host is down): failed";

TEST(LogFilter, TheSourceIsTheCClientsFunctionAndLine) {
  EXPECT_EQ(zk::detail::log_source(line), "ZOO_ERROR@check_events@3011");
  EXPECT_EQ(zk::detail::log_source("no marker"), "no marker");
  EXPECT_EQ(zk::detail::log_source("x ZOO_WARN@f"), "ZOO_WARN@f");
}

TEST(LogFilter, ABurstPassesTheRestIsCountedAndSummarisedOnce) {
  RepeatFilter f;
  const auto t0 = zk::Clock::time_point{} + 1h;
  for (std::size_t i = 0; i < RepeatFilter::burst; ++i)
    EXPECT_TRUE(f.admit("a", t0 + 1ms * i).pass);
  for (int i = 0; i < 100; ++i)
    EXPECT_FALSE(f.admit("a", t0 + 1s).pass);
  EXPECT_TRUE(f.admit("b", t0 + 2s).pass) << "another source has its own budget";
  const auto later = f.admit("a", t0 + RepeatFilter::window);
  EXPECT_TRUE(later.pass);
  EXPECT_EQ(later.suppressed, 100U);
  EXPECT_TRUE(f.admit("a", t0 + RepeatFilter::window + 1ms).pass) << "a new window, a new burst";
  for (int i = 0; i < 5; ++i)
    (void)f.admit("a", t0 + RepeatFilter::window + 2ms);
  const auto pending = f.drain();
  ASSERT_EQ(pending.size(), 1U);
  EXPECT_EQ(pending[0].first, "a");
  EXPECT_EQ(pending[0].second, 5U - (RepeatFilter::burst - 2));
  EXPECT_TRUE(f.drain().empty()) << "drained once";
}

TEST(LogFilter, AnUnreachableEnsembleLogsAFewLinesAndASummaryNotHundreds) {
  std::mutex m;
  std::vector<std::string> lines;
  zk::SessionOptions o;
  o.hosts = "127.0.0.1:1"; // nothing listens: every attempt is refused and logged
  o.connect_timeout = 3s;
  o.log_sink = [&](zk::LogLevel, std::string_view text) {
    std::lock_guard<std::mutex> lock(m);
    lines.emplace_back(text);
  };
  EXPECT_THROW(zk::Session s(o), zk::Error);
  std::lock_guard<std::mutex> lock(m);
  std::size_t summaries = 0;
  for (const auto& l : lines)
    if (l.find("suppressed") != std::string::npos) ++summaries;
  EXPECT_LE(lines.size(), 15U) << lines.size() << " lines, the first: " << lines.front();
  EXPECT_GE(summaries, 1U) << "what was suppressed is not said";
}

} // namespace
