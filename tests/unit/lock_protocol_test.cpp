// The lock's decision logic without a server: names, order across the sequence wrap, predecessor
// choice, foreign and unrecognised children, protected-create recovery, local handoff bounds.
#include "recipes/lock/lock_protocol.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>

namespace lk = zk::detail::lock;
using namespace std::chrono_literals;

namespace {

const std::string uuid_a = "0f8fad5b-d9cb-469f-a165-70867728950e";
const std::string uuid_b = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
const std::string hex32 = "5a0b9c3e1f2d4e6a8b7c9d0e1f2a3b4c";

std::string ours(const std::string& guid, std::int32_t seq) {
  return lk::node_prefix(guid) + lk::format_sequence(seq);
}
std::string kazoo(std::int32_t seq) {
  return hex32 + "__lock__" + lk::format_sequence(seq);
}

std::vector<std::string> names_of(const lk::Ordering& o) {
  std::vector<std::string> out;
  for (const auto& c : o.contenders)
    out.push_back(c.name);
  return out;
}

} // namespace

TEST(LockSequence, FormatsLikeTheServer) {
  EXPECT_EQ(lk::format_sequence(0), "0000000000");
  EXPECT_EQ(lk::format_sequence(42), "0000000042");
  EXPECT_EQ(lk::format_sequence(2147483647), "2147483647");
  EXPECT_EQ(lk::format_sequence(-1), "-000000001");
  EXPECT_EQ(lk::format_sequence(-2147483647 - 1), "-2147483648");
}

TEST(LockSequence, ParsesOnlyTheServersSpelling) {
  EXPECT_EQ(lk::parse_sequence("0000000042"), 42);
  EXPECT_EQ(lk::parse_sequence("2147483647"), 2147483647);
  EXPECT_EQ(lk::parse_sequence("-2147483648"), -2147483647 - 1);
  EXPECT_EQ(lk::parse_sequence("-000000001"), -1);
  EXPECT_FALSE(lk::parse_sequence("42"));          // not zero-padded
  EXPECT_FALSE(lk::parse_sequence("00000000042")); // 11 digits
  EXPECT_FALSE(lk::parse_sequence("2147483648"));  // beyond int32
  EXPECT_FALSE(lk::parse_sequence("000000004x"));
  EXPECT_FALSE(lk::parse_sequence("+000000042"));
  EXPECT_FALSE(lk::parse_sequence(""));
  for (std::int32_t v : {0, 1, -1, 999, -2147483647 - 1, 2147483647, 123456789, -123456789})
    EXPECT_EQ(lk::parse_sequence(lk::format_sequence(v)), v) << v;
}

TEST(LockNames, ParsesCuratorGoAndKazooForms) {
  auto c = lk::parse_lock_name("_c_" + uuid_a + "-lock-0000000007");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->form, lk::NameForm::curator);
  EXPECT_EQ(c->guid, uuid_a);
  EXPECT_EQ(c->sequence, 7);

  auto g = lk::parse_lock_name("_c_" + hex32 + "-lock-0000000008");
  ASSERT_TRUE(g);
  EXPECT_EQ(g->form, lk::NameForm::go);
  EXPECT_EQ(g->guid, hex32);

  auto k = lk::parse_lock_name(hex32 + "__lock__0000000009");
  ASSERT_TRUE(k);
  EXPECT_EQ(k->form, lk::NameForm::kazoo);
  EXPECT_EQ(k->sequence, 9);

  auto r = lk::parse_lock_name(hex32 + "__rlock__0000000010");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->form, lk::NameForm::kazoo_read);

  auto wrapped = lk::parse_lock_name("_c_" + uuid_a + "-lock--2147483648");
  ASSERT_TRUE(wrapped);
  EXPECT_EQ(wrapped->sequence, -2147483647 - 1);
}

TEST(LockNames, RefusesEverythingElse) {
  for (const std::string& bad : {
           std::string("lock-0000000001"),                // unprotected Curator name
           std::string("x-72057594037927936-0000000001"), // ZooKeeper's C recipe
           "_c_" + uuid_a + "-lock-1",                    // short sequence
           "_c_" + uuid_a.substr(1) + "-lock-0000000001", // 35-char uuid
           "_c_" + hex32 + "z-lock-0000000001",           // not hex
           "_c_" + uuid_a + "-lease-0000000001",          // semaphore lease
           "_c_" + uuid_a + "-lock-",                     // no sequence
           hex32.substr(2) + "__lock__0000000001",        // 30 hex
           hex32 + "__READ__0000000001",                  // Curator read/write lock
           std::string("zookeeper"),
           std::string(""),
       })
    EXPECT_FALSE(lk::parse_lock_name(bad)) << bad;
}

TEST(LockNames, GuidsAreFreshUuids) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const auto g = lk::make_guid();
    ASSERT_TRUE(lk::parse_lock_name(ours(g, 1))) << g;
    EXPECT_EQ(g[14], '4'); // version 4
    seen.insert(g);
  }
  EXPECT_EQ(seen.size(), 1000U);
}

TEST(LockNames, HasGuidMatchesOnlyOurPrefixAndASequence) {
  EXPECT_TRUE(lk::has_guid(ours(uuid_a, 3), uuid_a));
  EXPECT_FALSE(lk::has_guid(ours(uuid_b, 3), uuid_a));
  EXPECT_FALSE(lk::has_guid(lk::node_prefix(uuid_a) + "junk", uuid_a));
}

TEST(LockOrdering, SortsBySequenceNotByText) {
  // Kazoo and Curator names mixed: text order would put all "_c_" names after the hex ones.
  const std::vector<std::string> kids = {ours(uuid_a, 12), kazoo(3), ours(uuid_b, 7), kazoo(10)};
  EXPECT_EQ(names_of(lk::order_children(kids)),
            (std::vector<std::string>{kazoo(3), ours(uuid_b, 7), kazoo(10), ours(uuid_a, 12)}));
}

TEST(LockOrdering, HandlesTheInt32Wrap) {
  const std::int32_t max = 2147483647;
  const std::int32_t min = -max - 1;
  const std::vector<std::string> kids = {ours(uuid_a, min + 1), ours(uuid_b, max), kazoo(min),
                                         ours(uuid_a, max - 1)};
  EXPECT_EQ(names_of(lk::order_children(kids)),
            (std::vector<std::string>{ours(uuid_a, max - 1), ours(uuid_b, max), kazoo(min),
                                      ours(uuid_a, min + 1)}));
}

TEST(LockOrdering, WrapAtZeroAndNegativeRangesAreCreationOrder) {
  // Any window of consecutive sequence numbers (mod 2^32) must come out in creation order.
  std::mt19937 rng(7);
  for (const std::int64_t first :
       {std::int64_t{-5}, std::int64_t{2147483640}, std::int64_t{-2147483648}, std::int64_t{0},
        std::int64_t{1000000}}) {
    std::vector<std::string> expected;
    for (std::int64_t i = 0; i < 20; ++i) {
      const auto seq = static_cast<std::int32_t>(static_cast<std::uint32_t>(first + i * 3));
      expected.push_back(i % 2 ? kazoo(seq) : ours(uuid_a, seq));
    }
    auto shuffled = expected;
    std::shuffle(shuffled.begin(), shuffled.end(), rng);
    EXPECT_EQ(names_of(lk::order_children(shuffled)), expected) << "first " << first;
  }
}

TEST(LockOrdering, UnrecognisedChildrenAreKeptApart) {
  const auto o = lk::order_children({"zeta", ours(uuid_a, 1), "alpha"});
  EXPECT_EQ(names_of(o), std::vector<std::string>{ours(uuid_a, 1)});
  EXPECT_EQ(o.unrecognised, (std::vector<std::string>{"alpha", "zeta"}));
}

TEST(LockDecide, FirstAcquires) {
  const auto d = lk::decide({ours(uuid_b, 9), ours(uuid_a, 4)}, ours(uuid_a, 4), uuid_a);
  EXPECT_EQ(d.kind, lk::Decision::Kind::acquired);
  EXPECT_TRUE(d.stale_own.empty());
}

TEST(LockDecide, WaitsOnlyForTheImmediatePredecessor) {
  const std::vector<std::string> kids = {ours(uuid_b, 1), kazoo(2), ours(uuid_b, 3),
                                         ours(uuid_a, 5), kazoo(8)};
  const auto d = lk::decide(kids, ours(uuid_a, 5), uuid_a);
  EXPECT_EQ(d.kind, lk::Decision::Kind::wait);
  EXPECT_EQ(d.watch, ours(uuid_b, 3));
  EXPECT_FALSE(d.blocked);
}

TEST(LockDecide, PredecessorAcrossTheWrap) {
  const std::int32_t max = 2147483647;
  const auto d = lk::decide({ours(uuid_a, -max - 1), kazoo(max)}, ours(uuid_a, -max - 1), uuid_a);
  EXPECT_EQ(d.kind, lk::Decision::Kind::wait);
  EXPECT_EQ(d.watch, kazoo(max));
}

TEST(LockDecide, UnrecognisedChildBlocksTheHeadAndIsNamed) {
  const std::vector<std::string> kids = {ours(uuid_a, 4), "leftover", ours(uuid_b, 6)};
  const auto head = lk::decide(kids, ours(uuid_a, 4), uuid_a);
  EXPECT_EQ(head.kind, lk::Decision::Kind::wait);
  EXPECT_TRUE(head.blocked);
  EXPECT_EQ(head.watch, "leftover");
  EXPECT_EQ(head.unrecognised, std::vector<std::string>{"leftover"});
  // Others keep watching their predecessor: no herd on the foreign node.
  const auto second = lk::decide(kids, ours(uuid_b, 6), uuid_b);
  EXPECT_EQ(second.kind, lk::Decision::Kind::wait);
  EXPECT_EQ(second.watch, ours(uuid_a, 4));
  EXPECT_FALSE(second.blocked);
}

TEST(LockDecide, MissingNode) {
  EXPECT_EQ(lk::decide({ours(uuid_b, 1)}, ours(uuid_a, 2), uuid_a).kind,
            lk::Decision::Kind::missing);
  EXPECT_EQ(lk::decide({}, ours(uuid_a, 2), uuid_a).kind, lk::Decision::Kind::missing);
}

TEST(LockDecide, DuplicateOfOurGuidIsReportedStale) {
  // A protected create applied twice (reply lost, retried): keep ours, delete the other.
  const auto d =
      lk::decide({ours(uuid_a, 3), ours(uuid_a, 5), ours(uuid_b, 4)}, ours(uuid_a, 5), uuid_a);
  EXPECT_EQ(d.stale_own, std::vector<std::string>{ours(uuid_a, 3)});
  EXPECT_EQ(d.kind, lk::Decision::Kind::wait);
  EXPECT_EQ(d.watch, ours(uuid_b, 4));
}

TEST(LockRecovery, FindsOurNodeByGuid) {
  EXPECT_EQ(lk::find_own({ours(uuid_b, 1), ours(uuid_a, 2)}, uuid_a), ours(uuid_a, 2));
  EXPECT_FALSE(lk::find_own({ours(uuid_b, 1), "x"}, uuid_a));
  // Two copies: the first in order is adopted.
  EXPECT_EQ(lk::find_own({ours(uuid_a, 9), ours(uuid_a, 2)}, uuid_a), ours(uuid_a, 2));
}

TEST(LockHandoff, BoundedByCountAndTime) {
  EXPECT_TRUE(lk::hand_over_locally(0, 0ms, 8, 200ms, true));
  EXPECT_TRUE(lk::hand_over_locally(7, 199ms, 8, 200ms, true));
  EXPECT_FALSE(lk::hand_over_locally(8, 0ms, 8, 200ms, true));   // K handoffs done
  EXPECT_FALSE(lk::hand_over_locally(0, 200ms, 8, 200ms, true)); // held T ms
  EXPECT_FALSE(lk::hand_over_locally(0, 0ms, 8, 200ms, false));  // nobody waiting here
  EXPECT_FALSE(lk::hand_over_locally(0, 0ms, 0, 200ms, true));   // disabled
}

// --- Profiles: the election's node forms (latch, selector, Kazoo election) ---

namespace {

std::string latch(const std::string& guid, std::int32_t seq) {
  return lk::node_prefix(lk::NameForm::latch, guid) + lk::format_sequence(seq);
}

} // namespace

TEST(LockProfiles, TheLatchFormIsCuratorsAndOrderedBySequenceAcrossTheWrap) {
  const auto n = lk::parse_lock_name("_c_" + uuid_a + "-latch-0000000007");
  ASSERT_TRUE(n);
  EXPECT_EQ(n->form, lk::NameForm::latch);
  EXPECT_EQ(n->guid, uuid_a);
  EXPECT_EQ(n->sequence, 7);
  EXPECT_FALSE(lk::parse_lock_name("_c_" + uuid_a + "-latch-7")); // not the server's spelling
  EXPECT_FALSE(lk::parse_lock_name("_c_nothex-latch-0000000007"));
  // Across the int32 wrap the oldest node leads, not the numerically smallest.
  const std::vector<std::string> kids{latch(uuid_a, -2147483647 - 1), latch(uuid_b, 2147483646)};
  const auto order = lk::order_children(kids, lk::latch_profile());
  ASSERT_EQ(order.contenders.size(), 2U);
  EXPECT_EQ(order.contenders.front().name, kids[1]);
  EXPECT_TRUE(order.unrecognised.empty());
}

TEST(LockProfiles, OursIsCreatedInEachProfilesFormAndFoundByItsGuid) {
  for (const lk::Profile* p : {&lk::latch_profile(), &lk::selector_profile(),
                               &lk::kazoo_election_profile(), &lk::mutex_profile()}) {
    const auto& policy = lk::ExclusivePolicy::of(*p);
    EXPECT_EQ(&policy.profile(), p);
    const std::string guid = policy.make_guid();
    const std::string node = policy.node_prefix(guid) + lk::format_sequence(12);
    const auto parsed = lk::parse_lock_name(node);
    ASSERT_TRUE(parsed) << node;
    EXPECT_EQ(parsed->form, p->ours) << node;
    EXPECT_TRUE(policy.created_with(node, guid));
    EXPECT_FALSE(policy.created_with(node, policy.make_guid()));
    EXPECT_EQ(policy.find_own({node}, guid), node);
    EXPECT_EQ(policy.decide({node}, node, guid).kind, lk::Decision::Kind::acquired) << node;
  }
  // Kazoo names its nodes with uuid4().hex: 32 hex digits, no dashes.
  const std::string kazoo_guid = lk::ExclusivePolicy::of(lk::kazoo_election_profile()).make_guid();
  EXPECT_EQ(kazoo_guid.size(), 32U);
  EXPECT_EQ(kazoo_guid.find('-'), std::string::npos);
}

TEST(LockProfiles, ElectionProfilesFailOnAForeignChildWhereTheLockBlocks) {
  const std::string me = latch(uuid_a, 5);
  const std::string mutex_node = ours(uuid_b, 3);
  // A mutex node on a latch path: the profiles never mix, and nobody can say who leads.
  auto d = lk::decide({me, mutex_node}, me, uuid_a, lk::latch_profile());
  EXPECT_EQ(d.kind, lk::Decision::Kind::foreign);
  EXPECT_EQ(d.unrecognised, std::vector<std::string>{mutex_node});
  // Behind us, too: a foreign child anywhere fails.
  d = lk::decide({me, latch(uuid_b, 9), "junk"}, me, uuid_a, lk::latch_profile());
  EXPECT_EQ(d.kind, lk::Decision::Kind::foreign);
  // The selector (Curator's mutex form) refuses Kazoo's nodes and latch nodes.
  const std::string sel = ours(uuid_a, 8);
  EXPECT_EQ(lk::decide({sel, kazoo(2)}, sel, uuid_a, lk::selector_profile()).kind,
            lk::Decision::Kind::foreign);
  EXPECT_EQ(lk::decide({sel, latch(uuid_b, 2)}, sel, uuid_a, lk::selector_profile()).kind,
            lk::Decision::Kind::foreign);
  // The Kazoo election refuses Curator's.
  const std::string kz = kazoo(4);
  EXPECT_EQ(lk::decide({kz, ours(uuid_b, 1)}, kz, hex32, lk::kazoo_election_profile()).kind,
            lk::Decision::Kind::foreign);
  // The lock keeps its rule: an unrecognised child blocks the head and is watched.
  d = lk::decide({sel, "junk"}, sel, uuid_a);
  EXPECT_EQ(d.kind, lk::Decision::Kind::wait);
  EXPECT_TRUE(d.blocked);
}

TEST(LockProfiles, ACountersTurnsIgnoreItsContentionMarkersAndQueueInOrder) {
  const std::string me = ours(uuid_a, 7);
  const std::string marker = "zkr-contended-0000000003"; // a writer's marker, ahead of us
  // The counter node's other children neither block the head nor fail the queue.
  auto d = lk::decide({marker, me}, me, uuid_a, lk::counter_turn_profile());
  EXPECT_EQ(d.kind, lk::Decision::Kind::acquired);
  EXPECT_TRUE(d.unrecognised.empty());
  // Behind another process's turn node: wait for it, never for a marker.
  const std::string before = ours(uuid_b, 5);
  d = lk::decide({me, marker, before}, me, uuid_a, lk::counter_turn_profile());
  EXPECT_EQ(d.kind, lk::Decision::Kind::wait);
  EXPECT_EQ(d.watch, before);
  EXPECT_FALSE(d.blocked);
}

TEST(LockProfiles, AFollowerWatchesItsPredecessorInEveryProfile) {
  const std::vector<std::string> kids{latch(uuid_b, 1), latch(uuid_a, 2)};
  const auto d = lk::decide(kids, kids[1], uuid_a, lk::latch_profile());
  EXPECT_EQ(d.kind, lk::Decision::Kind::wait);
  EXPECT_EQ(d.watch, kids[0]);
  const std::string first = kazoo(1);
  const std::string second = "0123456789abcdef0123456789abcdef__lock__" + lk::format_sequence(2);
  const auto k = lk::decide({second, first}, second, "0123456789abcdef0123456789abcdef",
                            lk::kazoo_election_profile());
  EXPECT_EQ(k.kind, lk::Decision::Kind::wait);
  EXPECT_EQ(k.watch, first);
}
