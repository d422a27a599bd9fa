// zk::CancelToken's handles: copies and moves share one state. No server.
#include <zkrecipes/cancel.hpp>

#include <gtest/gtest.h>

#include <utility>

namespace {

TEST(CancelToken, CopiesShareTheStateAndAMovedFromTokenStillWorks) {
  zk::CancelToken a;
  zk::CancelToken copy = a;
  zk::CancelToken moved = std::move(a);
  EXPECT_FALSE(a.cancelled()); // NOLINT(bugprone-use-after-move): a moved-from token is usable
  int woken = 0;
  const auto id = a.subscribe([&] { ++woken; }); // NOLINT(bugprone-use-after-move)
  copy.cancel();
  EXPECT_TRUE(moved.cancelled());
  EXPECT_TRUE(a.cancelled()); // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(woken, 1);
  a.unsubscribe(id); // NOLINT(bugprone-use-after-move)
  zk::CancelToken other;
  other = std::move(moved);
  EXPECT_TRUE(other.cancelled());
  EXPECT_TRUE(moved.cancelled()); // NOLINT(bugprone-use-after-move)
}

} // namespace
