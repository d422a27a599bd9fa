// The lock tests' harness (lock_harness.hpp), and tests showing that its checker catches
// violations.
#include "lock_harness.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>

namespace zkt::lock {

std::vector<std::string> worker(const std::vector<std::string>& args) {
  return with({self_exe(), "--lock-worker"}, args);
}

std::vector<std::string> curator_peer(const std::vector<std::string>& args) {
  return peer("CuratorMutexPeer", "ZKR_CURATOR_PEER", args);
}

std::vector<std::string> kazoo_peer(const std::vector<std::string>& args) {
  return python_peer("kazoo_lock_peer.py", args);
}

std::size_t fold_local_handoffs(std::vector<HoldRecord>& holds) {
  std::sort(holds.begin(), holds.end(),
            [](const HoldRecord& a, const HoldRecord& b) { return a.enter_ns < b.enter_ns; });
  std::size_t handoffs = 0;
  std::int64_t previous_token = 0;
  std::int64_t n = 0;
  for (std::size_t i = 0; i < holds.size(); ++i) {
    const std::int64_t token = holds[i].token;
    const bool handoff =
        i > 0 && token == previous_token && holds[i].process == holds[i - 1].process;
    n = handoff ? n + 1 : 0;
    if (handoff) ++handoffs;
    if (n >= 1024)
      throw std::runtime_error("fold_local_handoffs: more than 1023 handoffs in a row");
    previous_token = token;
    holds[i].token = token * 1024 + n;
  }
  return handoffs;
}

} // namespace zkt::lock

namespace {

using zkt::HoldRecord;

// {token, process, thread, enter, exit}
TEST(LockHarness, LocalHandoffsPassTheStrictChecker) {
  std::vector<HoldRecord> holds = {
      {5, 1, 1, 10, 20}, {5, 1, 2, 21, 30}, {9, 2, 1, 31, 40}, {11, 1, 1, 41, 50}};
  EXPECT_EQ(zkt::lock::fold_local_handoffs(holds), 1U);
  const auto r = zkt::check_mutual_exclusion(holds);
  EXPECT_TRUE(r.ok()) << r.explain();
}

TEST(LockHarness, TokenReuseByAnotherProcessStillFails) {
  std::vector<HoldRecord> holds = {{5, 1, 1, 10, 20}, {5, 2, 1, 21, 30}};
  EXPECT_EQ(zkt::lock::fold_local_handoffs(holds), 0U);
  EXPECT_FALSE(zkt::check_mutual_exclusion(holds).ok());
}

TEST(LockHarness, TokenReuseAfterAnotherHolderStillFails) {
  std::vector<HoldRecord> holds = {{5, 1, 1, 10, 20}, {9, 2, 1, 21, 30}, {5, 1, 2, 31, 40}};
  zkt::lock::fold_local_handoffs(holds);
  EXPECT_FALSE(zkt::check_mutual_exclusion(holds).ok());
}

TEST(LockHarness, OverlapStillFails) {
  std::vector<HoldRecord> holds = {{5, 1, 1, 10, 25}, {5, 1, 2, 21, 30}};
  zkt::lock::fold_local_handoffs(holds);
  EXPECT_FALSE(zkt::check_mutual_exclusion(holds).ok());
}

} // namespace
