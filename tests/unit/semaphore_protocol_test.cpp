// The semaphore's decision logic without a server: both profiles' layouts and lease names, the
// count against the maximum (ours included, foreign children too, our stale duplicates not), and
// the codecs of a stored maximum.
#include "recipes/lock/lock_protocol.hpp"
#include "recipes/semaphore/semaphore_protocol.hpp"

#include <gtest/gtest.h>

#include <limits>

namespace sem = zk::detail::semaphore;
using Kind = zk::detail::core::QueueDecision::Kind;
using zk::SemaphoreProfile;

namespace {

struct Policy {
  std::shared_ptr<std::atomic<std::int32_t>> max;
  sem::LeasePolicy policy;
  Policy(SemaphoreProfile p, std::int32_t m)
      : max(std::make_shared<std::atomic<std::int32_t>>(m)), policy(p, max) {}
};

std::string curator_lease(const sem::LeasePolicy& p, const std::string& guid, int seq) {
  return p.node_prefix(guid) + zk::detail::lock::format_sequence(seq);
}

} // namespace

TEST(SemaphoreLayout, CuratorNestsLocksAndLeasesKazooUsesASibling) {
  const auto c = sem::layout(SemaphoreProfile::curator, "/app/pool");
  EXPECT_EQ(c.leases, "/app/pool/leases");
  EXPECT_EQ(c.lock, "/app/pool/locks");
  const auto k = sem::layout(SemaphoreProfile::kazoo, "/app/pool");
  EXPECT_EQ(k.leases, "/app/pool");
  EXPECT_EQ(k.lock, "/app/pool-__lock__");
}

TEST(SemaphoreNames, CuratorLeasesAreProtectedAndSequential) {
  Policy p(SemaphoreProfile::curator, 3);
  const auto guid = p.policy.make_guid();
  EXPECT_EQ(guid.size(), 36U);
  EXPECT_TRUE(p.policy.sequential());
  EXPECT_EQ(p.policy.node_prefix(guid), "_c_" + guid + "-lease-");
  EXPECT_TRUE(p.policy.created_with(curator_lease(p.policy, guid, 7), guid));
  EXPECT_FALSE(p.policy.created_with(p.policy.node_prefix(guid) + "x", guid));
  EXPECT_FALSE(p.policy.created_with(curator_lease(p.policy, p.policy.make_guid(), 7), guid));
  const std::vector<std::string> kids{curator_lease(p.policy, guid, 9), "other",
                                      curator_lease(p.policy, guid, 4)};
  EXPECT_EQ(p.policy.find_own(kids, guid), curator_lease(p.policy, guid, 4));
}

TEST(SemaphoreNames, KazooLeasesAreTheGuidItself) {
  Policy p(SemaphoreProfile::kazoo, 3);
  const auto guid = p.policy.make_guid();
  EXPECT_EQ(guid.size(), 32U);
  EXPECT_EQ(guid.find('-'), std::string::npos);
  EXPECT_FALSE(p.policy.sequential());
  EXPECT_EQ(p.policy.node_prefix(guid), guid);
  EXPECT_TRUE(p.policy.created_with(guid, guid));
  EXPECT_FALSE(p.policy.created_with(guid + "0000000001", guid));
}

TEST(SemaphoreDecide, HoldsWhileTheLeasesOursIncludedAreAtMostTheMaximum) {
  Policy p(SemaphoreProfile::curator, 2);
  const auto me = curator_lease(p.policy, "g", 5);
  const auto a = curator_lease(p.policy, "a", 1);
  const auto b = curator_lease(p.policy, "b", 2);
  EXPECT_EQ(p.policy.decide({me}, me, "g").kind, Kind::acquired);
  EXPECT_EQ(p.policy.decide({a, me}, me, "g").kind, Kind::acquired);
  const auto d = p.policy.decide({a, b, me}, me, "g");
  EXPECT_EQ(d.kind, Kind::wait);
  EXPECT_TRUE(d.watch_children) << "any lease that goes frees a place, not one predecessor";
  EXPECT_EQ(p.policy.decide({a, b}, me, "g").kind, Kind::missing);
  p.max->store(3);
  EXPECT_EQ(p.policy.decide({a, b, me}, me, "g").kind, Kind::acquired)
      << "the maximum is read at every decision";
}

TEST(SemaphoreDecide, ForeignChildrenTakeAPlaceAndStaleDuplicatesDoNot) {
  Policy p(SemaphoreProfile::curator, 2);
  const auto me = curator_lease(p.policy, "g", 5);
  const auto dup = curator_lease(p.policy, "g", 6); // our create applied twice
  EXPECT_EQ(p.policy.decide({"not-a-lease", "x", me}, me, "g").kind, Kind::wait);
  const auto d = p.policy.decide({curator_lease(p.policy, "a", 1), me, dup}, me, "g");
  EXPECT_EQ(d.kind, Kind::acquired);
  EXPECT_EQ(d.stale_own, std::vector<std::string>{dup});
}

TEST(SemaphoreDecide, AMaximumOfZeroOrLessHoldsNobody) {
  Policy p(SemaphoreProfile::kazoo, 0);
  EXPECT_EQ(p.policy.decide({"g"}, "g", "g").kind, Kind::wait);
  p.max->store(-5);
  EXPECT_EQ(p.policy.decide({"g"}, "g", "g").kind, Kind::wait);
}

TEST(SemaphoreCodecs, SharedCountIsExactlyABigEndianInt32) {
  EXPECT_EQ(sem::decode_shared_count(std::string("\0\0\0\3", 4), "/c"), 3);
  EXPECT_EQ(sem::decode_shared_count(std::string("\x01\x02\x03\x04", 4), "/c"), 0x01020304);
  EXPECT_EQ(sem::decode_shared_count(std::string("\xff\xff\xff\xfe", 4), "/c"), -2);
  for (const std::string& bad : {std::string(), std::string("3"), std::string("\0\0\0\0\0", 5)}) {
    try {
      (void)sem::decode_shared_count(bad, "/c");
      ADD_FAILURE() << "accepted " << bad.size() << " bytes";
    } catch (const zk::Error& e) {
      EXPECT_EQ(e.errc(), zk::Errc::bad_data);
      EXPECT_NE(std::string(e.what()).find("/c"), std::string::npos) << e.what();
    }
  }
}

TEST(SemaphoreCodecs, KazooMaximumIsAsciiAndAnythingElseIsNotChecked) {
  EXPECT_EQ(sem::parse_kazoo_max("3"), 3);
  EXPECT_EQ(sem::parse_kazoo_max(" 12\n"), 12);
  EXPECT_EQ(sem::parse_kazoo_max("-1"), -1);
  EXPECT_EQ(sem::parse_kazoo_max(""), std::nullopt);
  EXPECT_EQ(sem::parse_kazoo_max("three"), std::nullopt);
  EXPECT_EQ(sem::parse_kazoo_max("3x"), std::nullopt);
  EXPECT_GT(sem::parse_kazoo_max("99999999999"), std::numeric_limits<std::int32_t>::max())
      << "a number beyond int32 must mismatch every maximum, not skip the check";
  EXPECT_TRUE(sem::parse_kazoo_max(std::string(40, '9')));
}
