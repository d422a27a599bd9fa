// The read-write lock's decision logic without a server: both profiles' names, the writer's and the
// reader's predecessor across the sequence wrap, a downgraded writer's read node, foreign names.
#include "recipes/rwlock/rw_protocol.hpp"

#include <zkrecipes/error.hpp>

#include <gtest/gtest.h>

namespace lk = zk::detail::lock;
namespace rw = zk::detail::rwlock;
using Kind = lk::Decision::Kind;

namespace {

const std::string uuid_a = "0f8fad5b-d9cb-469f-a165-70867728950e";
const std::string uuid_b = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
const std::string uuid_c = "16fd2706-8baf-433b-82eb-8c7fada847da";
const std::string hex_a = "5a0b9c3e1f2d4e6a8b7c9d0e1f2a3b4c";
const std::string hex_b = "00112233445566778899aabbccddeeff";

std::string node(const rw::RwProfile& p, rw::Side side, const std::string& guid, std::int32_t seq) {
  return lk::node_prefix(side == rw::Side::write ? p.write : p.read, guid) +
         lk::format_sequence(seq);
}
std::string writer(const std::string& guid, std::int32_t seq) {
  return node(rw::curator_profile(), rw::Side::write, guid, seq);
}
std::string reader(const std::string& guid, std::int32_t seq) {
  return node(rw::curator_profile(), rw::Side::read, guid, seq);
}
lk::Decision decide(const std::vector<std::string>& kids, const std::string& me, rw::Side side,
                    const rw::RwProfile& p = rw::curator_profile()) {
  return rw::RwPolicy::of(p, side).decide(kids, me, "");
}

} // namespace

TEST(RwNames, CuratorFormsParseAndAreNotMutexNodes) {
  const auto w = lk::parse_lock_name("_c_" + uuid_a + "-__WRIT__0000000003");
  ASSERT_TRUE(w);
  EXPECT_EQ(w->form, lk::NameForm::curator_write);
  EXPECT_EQ(w->guid, uuid_a);
  EXPECT_EQ(w->sequence, 3);
  const auto r = lk::parse_lock_name("_c_" + uuid_a + "-__READ__-000000002");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->form, lk::NameForm::curator_read);
  EXPECT_EQ(r->sequence, -2);
  EXPECT_FALSE(lk::parse_lock_name("_c_notauuid-__READ__0000000001"));
  // Under the mutex's profile they are unrecognised: they block its head, never join its order.
  EXPECT_EQ(lk::order_children({writer(uuid_a, 1)}).unrecognised.size(), 1U);
}

TEST(RwPolicy, OnlyTheReadSideIsSharedAndOurNodesCarryTheSidesForm) {
  const auto& wp = rw::RwPolicy::of(rw::curator_profile(), rw::Side::write);
  const auto& rp = rw::RwPolicy::of(rw::curator_profile(), rw::Side::read);
  EXPECT_FALSE(wp.shared());
  EXPECT_TRUE(rp.shared());
  EXPECT_EQ(wp.node_prefix(uuid_a), "_c_" + uuid_a + "-__WRIT__");
  EXPECT_EQ(rp.node_prefix(uuid_a), "_c_" + uuid_a + "-__READ__");
  const auto& kr = rw::RwPolicy::of(rw::kazoo_profile(), rw::Side::read);
  const std::string guid = kr.make_guid();
  EXPECT_EQ(guid.size(), 32U) << "Kazoo's uuid4().hex";
  EXPECT_EQ(kr.node_prefix(guid), guid + "__rlock__");
  EXPECT_TRUE(kr.created_with(guid + "__rlock__0000000009", guid));
  EXPECT_FALSE(kr.created_with(guid + "__lock__0000000009", guid)) << "the other side's node";
}

TEST(RwDecide, AWriterHoldsOnlyFirstOfAllAndWatchesTheNodeJustBeforeIt) {
  const std::vector<std::string> kids{reader(uuid_a, 1), reader(uuid_b, 2), writer(uuid_c, 3)};
  auto d = decide(kids, writer(uuid_c, 3), rw::Side::write);
  EXPECT_EQ(d.kind, Kind::wait);
  EXPECT_EQ(d.watch, reader(uuid_b, 2)) << "its predecessor, a reader";
  d = decide({writer(uuid_c, 3)}, writer(uuid_c, 3), rw::Side::write);
  EXPECT_EQ(d.kind, Kind::acquired);
}

TEST(RwDecide, ReadersHoldTogetherAndWaitForTheNearestWriterAheadNeverALaterOne) {
  const std::vector<std::string> kids{reader(uuid_a, 1), reader(uuid_b, 2), writer(uuid_a, 3),
                                      reader(uuid_b, 4), writer(uuid_c, 5), reader(uuid_c, 6),
                                      writer(uuid_b, 7)};
  EXPECT_EQ(decide(kids, reader(uuid_a, 1), rw::Side::read).kind, Kind::acquired);
  EXPECT_EQ(decide(kids, reader(uuid_b, 2), rw::Side::read).kind, Kind::acquired)
      << "a reader behind a reader reads too";
  auto d = decide(kids, reader(uuid_b, 4), rw::Side::read);
  EXPECT_EQ(d.kind, Kind::wait);
  EXPECT_EQ(d.watch, writer(uuid_a, 3));
  d = decide(kids, reader(uuid_c, 6), rw::Side::read);
  EXPECT_EQ(d.kind, Kind::wait);
  EXPECT_EQ(d.watch, writer(uuid_c, 5)) << "the nearest writer ahead, not the first one";
  // A later writer (7) never blocks the reader at 6, nor the readers at 1 and 2: kazoo#649.
  for (const auto& me : {reader(uuid_a, 1), reader(uuid_c, 6)})
    EXPECT_NE(decide(kids, me, rw::Side::read).watch, writer(uuid_b, 7));
}

TEST(RwDecide, TheOrderHoldsAcrossTheSequenceWrap) {
  const std::int32_t top = 2147483647;
  const std::int32_t bottom = -2147483647 - 1;
  const std::vector<std::string> kids{reader(uuid_c, bottom + 1), writer(uuid_a, top - 1),
                                      reader(uuid_b, top), writer(uuid_b, bottom)};
  auto d = decide(kids, reader(uuid_c, bottom + 1), rw::Side::read);
  EXPECT_EQ(d.kind, Kind::wait);
  EXPECT_EQ(d.watch, writer(uuid_b, bottom)) << "after the wrap, the newest writer is nearest";
  d = decide(kids, reader(uuid_b, top), rw::Side::read);
  EXPECT_EQ(d.watch, writer(uuid_a, top - 1));
  EXPECT_EQ(decide(kids, writer(uuid_a, top - 1), rw::Side::write).kind, Kind::acquired)
      << "the oldest node is before the wrap";
}

TEST(RwDowngrade, TheReadNodeTakesTheWritersSequenceAndIsOrderedFirst) {
  const auto& rp = rw::RwPolicy::of(rw::curator_profile(), rw::Side::read);
  const std::string w = writer(uuid_a, 41);
  const std::string r = rp.downgrade_name(w, uuid_b);
  EXPECT_EQ(r, reader(uuid_b, 41));
  EXPECT_THROW((void)rp.downgrade_name(reader(uuid_a, 41), uuid_b), zk::Error);
  EXPECT_THROW((void)rp.downgrade_name("junk", uuid_b), zk::Error);
  // Both exist for a moment: the read node holds (its writer does not block it), and a later
  // writer waits. A reader queued behind the downgrading writer reads with it.
  const std::vector<std::string> kids{w, r, writer(uuid_c, 42), reader(uuid_c, 43)};
  EXPECT_EQ(decide(kids, r, rw::Side::read).kind, Kind::acquired);
  const std::vector<std::string> after{r, writer(uuid_c, 42)};
  const auto d = decide(after, writer(uuid_c, 42), rw::Side::write);
  EXPECT_EQ(d.kind, Kind::wait);
  EXPECT_EQ(d.watch, r) << "the writer that was behind the downgraded one still waits";
}

TEST(RwDowngrade, AWriterListsAgainWhenTheWriterAheadGoesAReaderDoesNot) {
  const auto& wp = rw::RwPolicy::of(rw::curator_profile(), rw::Side::write);
  const auto& rp = rw::RwPolicy::of(rw::curator_profile(), rw::Side::read);
  EXPECT_TRUE(wp.relist_after_delete(writer(uuid_a, 1))) << "it may have downgraded";
  EXPECT_FALSE(wp.relist_after_delete(reader(uuid_a, 1)));
  EXPECT_FALSE(rp.relist_after_delete(writer(uuid_a, 1))) << "a downgrade only adds readers";
}

TEST(RwDecide, ForeignChildrenFailFastUnderBothProfiles) {
  const std::string mutex_node = "_c_" + uuid_a + "-lock-0000000001";
  const std::string kazoo_write = hex_a + "__lock__0000000002";
  auto d = decide({mutex_node, reader(uuid_b, 3)}, reader(uuid_b, 3), rw::Side::read);
  EXPECT_EQ(d.kind, Kind::foreign);
  EXPECT_EQ(d.unrecognised, std::vector<std::string>{mutex_node});
  d = decide({kazoo_write, writer(uuid_b, 3)}, writer(uuid_b, 3), rw::Side::write);
  EXPECT_EQ(d.kind, Kind::foreign) << "Kazoo's writer on a Curator-profile path";
  d = decide({writer(uuid_b, 1), kazoo_write}, kazoo_write, rw::Side::write, rw::kazoo_profile());
  EXPECT_EQ(d.kind, Kind::foreign) << "Curator's writer on a Kazoo-profile path";
}

TEST(RwDecide, TheKazooProfileConsidersOnlyLowerSequences) {
  const auto& k = rw::kazoo_profile();
  const std::string w1 = node(k, rw::Side::write, hex_a, 1);
  const std::string r2 = node(k, rw::Side::read, hex_b, 2);
  const std::string w3 = node(k, rw::Side::write, hex_b, 3);
  const std::string r4 = node(k, rw::Side::read, hex_a, 4);
  const std::vector<std::string> kids{r4, w3, r2, w1};
  auto d = decide(kids, r2, rw::Side::read, k);
  EXPECT_EQ(d.watch, w1);
  d = decide(kids, r4, rw::Side::read, k);
  EXPECT_EQ(d.watch, w3);
  d = decide(kids, w3, rw::Side::write, k);
  EXPECT_EQ(d.watch, r2);
  d = decide({r2, w3}, r2, rw::Side::read, k);
  EXPECT_EQ(d.kind, Kind::acquired) << "the higher writer does not block it (kazoo#649)";
}

TEST(RwDecide, OurStaleNodesAndAMissingNodeAreReported) {
  const std::vector<std::string> kids{reader(uuid_a, 1), reader(uuid_a, 2)};
  const auto d = rw::RwPolicy::of(rw::curator_profile(), rw::Side::read)
                     .decide(kids, reader(uuid_a, 2), uuid_a);
  EXPECT_EQ(d.stale_own, std::vector<std::string>{reader(uuid_a, 1)});
  EXPECT_EQ(decide(kids, reader(uuid_b, 3), rw::Side::read).kind, Kind::missing);
}
