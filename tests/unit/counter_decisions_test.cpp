// The counter's pure decisions: the next conditional write (version -1 guard, version wrap, trailer
// history), the proof of a lost write for each codec, and combined batches. No server.
#include "recipes/counter/decisions.hpp"

#include <gtest/gtest.h>

#include <limits>

namespace {

using namespace zk::detail::counter;
using zk::CounterCodec;
using zk::CounterOptions;

const Tag ours{0x1111, 7};
const Tag theirs{0x2222, 3};

CounterOptions opts(CounterCodec c, zk::WriterTags t = zk::WriterTags::automatic,
                    std::size_t k = 8) {
  CounterOptions o;
  o.codec = c;
  o.writer_tags = t;
  o.tag_history = k;
  return o;
}

// The node as a reader would see it after `w` (or another plan) was applied.
Snapshot applied(const PlannedWrite& w, CounterCodec c) {
  Snapshot s;
  s.exists = true;
  s.value = w.value;
  s.version = w.create ? 0 : next_version(w.expected_version);
  s.czxid = w.create ? 77 : w.czxid;
  s.data = w.data;
  s.history = decode(c, w.data, "/c", 0).history;
  return s;
}

Snapshot node(CounterCodec c, std::int64_t value, std::int32_t version, std::int64_t czxid = 77,
              std::vector<TagEntry> history = {}) {
  Snapshot s;
  s.exists = true;
  s.value = value;
  s.version = version;
  s.czxid = czxid;
  s.history = std::move(history);
  s.data = encode(c, value, s.history, "/c");
  return s;
}

TEST(CounterDecisions, VersionMinusOneIsNeverWritten) {
  // A faked node whose int32 version wrapped to -1: any write at -1 would be unconditional.
  const auto base = node(CounterCodec::int64_be, 5, zk::any_version);
  try {
    (void)plan_write(base, 6, opts(CounterCodec::int64_be), ours, "/app/c");
    FAIL() << "planned a write at version -1";
  } catch (const zk::Error& e) {
    EXPECT_EQ(e.errc(), zk::Errc::overflow);
    EXPECT_NE(std::string(e.what()).find("/app/c"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("-1"), std::string::npos);
  }
  for (auto c : {CounterCodec::int32_be, CounterCodec::ascii})
    EXPECT_THROW((void)plan_write(node(c, 5, -1), 6, opts(c), ours, "/c"), zk::Error);
}

TEST(CounterDecisions, WritesAreConditionalOnTheBaseVersionWhichMayWrap) {
  const auto at_max = plan_write(node(CounterCodec::int64_be, 1, std::numeric_limits<int>::max()),
                                 2, opts(CounterCodec::int64_be), ours, "/c");
  EXPECT_FALSE(at_max.create);
  EXPECT_EQ(at_max.expected_version, std::numeric_limits<int>::max());
  EXPECT_EQ(at_max.entry.version, std::numeric_limits<int>::min()); // the server wraps the same way
  // Version -2 may still be written (conditionally); it produces -1, and then the guard stops.
  const auto at_minus2 =
      plan_write(node(CounterCodec::int64_be, 1, -2), 2, opts(CounterCodec::int64_be), ours, "/c");
  EXPECT_EQ(at_minus2.expected_version, -2);
  EXPECT_EQ(at_minus2.entry.version, -1);
  EXPECT_THROW((void)plan_write(applied(at_minus2, CounterCodec::int64_be), 3,
                                opts(CounterCodec::int64_be), ours, "/c"),
               zk::Error);
}

TEST(CounterDecisions, AMissingNodeIsCreated) {
  Snapshot absent;
  const auto w = plan_write(absent, 1, opts(CounterCodec::int64_be), ours, "/c");
  EXPECT_TRUE(w.create);
  EXPECT_EQ(w.entry.version, 0);
  EXPECT_EQ(decode(CounterCodec::int64_be, w.data, "/c", 0).history,
            (std::vector<TagEntry>{{0, ours}}));
}

TEST(CounterDecisions, HistoryCarriesTheNewestEntriesUpToTheLimit) {
  std::vector<TagEntry> old;
  for (int v = 9; v >= 1; --v)
    old.push_back({v, {5, static_cast<std::uint64_t>(v)}});
  const auto w = plan_write(node(CounterCodec::int64_be, 3, 9, 77, old), 4,
                            opts(CounterCodec::int64_be, zk::WriterTags::automatic, 4), ours, "/c");
  const auto h = decode(CounterCodec::int64_be, w.data, "/c", 0).history;
  ASSERT_EQ(h.size(), 4U);
  EXPECT_EQ(h[0], (TagEntry{10, ours}));
  EXPECT_EQ(h[1], old[0]);
  EXPECT_EQ(h[3], old[2]);
}

TEST(CounterDecisions, UntaggedCodecsWritePlainValues) {
  const auto w32 =
      plan_write(node(CounterCodec::int32_be, 3, 1), 4, opts(CounterCodec::int32_be), ours, "/c");
  EXPECT_EQ(w32.data.size(), 4U);
  const auto wa =
      plan_write(node(CounterCodec::ascii, 3, 1), -4, opts(CounterCodec::ascii), ours, "/c");
  EXPECT_EQ(wa.data, "-4");
  const auto off = plan_write(node(CounterCodec::int64_be, 3, 1), 4,
                              opts(CounterCodec::int64_be, zk::WriterTags::off), ours, "/c");
  EXPECT_EQ(off.data.size(), 8U);
}

// --- Lost replies, tagged (int64_be default) ---

TEST(CounterDecisions, TaggedUnchangedNodeMeansResendTheIdenticalWrite) {
  const auto base = node(CounterCodec::int64_be, 10, 4);
  const auto w = plan_write(base, 11, opts(CounterCodec::int64_be), ours, "/c");
  EXPECT_EQ(judge_lost_write(w, base), Verdict::pending);
}

TEST(CounterDecisions, TaggedOwnEntryProvesApplied) {
  const auto base = node(CounterCodec::int64_be, 10, 4);
  const auto w = plan_write(base, 11, opts(CounterCodec::int64_be), ours, "/c");
  const auto now = applied(w, CounterCodec::int64_be);
  EXPECT_EQ(judge_lost_write(w, now), Verdict::applied);
  // ... also after three more tagged writes by others on top of it.
  auto later = now;
  for (std::uint64_t i = 0; i < 3; ++i)
    later = applied(plan_write(later, later.value + 1, opts(CounterCodec::int64_be), {9, i}, "/c"),
                    CounterCodec::int64_be);
  EXPECT_EQ(later.version, 8);
  EXPECT_EQ(judge_lost_write(w, later), Verdict::applied);
}

TEST(CounterDecisions, TaggedOtherWriterAtOurVersionProvesNotApplied) {
  const auto base = node(CounterCodec::int64_be, 10, 4);
  const auto w = plan_write(base, 11, opts(CounterCodec::int64_be), ours, "/c");
  const auto other =
      plan_write(base, 11, opts(CounterCodec::int64_be), theirs, "/c"); // same value!
  EXPECT_EQ(judge_lost_write(w, applied(other, CounterCodec::int64_be)), Verdict::not_applied);
  auto later = applied(other, CounterCodec::int64_be);
  later = applied(plan_write(later, 12, opts(CounterCodec::int64_be), {9, 9}, "/c"),
                  CounterCodec::int64_be);
  EXPECT_EQ(judge_lost_write(w, later), Verdict::not_applied);
}

TEST(CounterDecisions, TaggedForeignPlainWriteAtOurVersionProvesNotApplied) {
  // Curator wrote 8 plain bytes at version 5: our write (which would carry a trailer) is not there.
  const auto base = node(CounterCodec::int64_be, 10, 4);
  const auto w = plan_write(base, 11, opts(CounterCodec::int64_be), ours, "/c");
  EXPECT_EQ(judge_lost_write(w, node(CounterCodec::int64_be, 11, 5)), Verdict::not_applied);
}

TEST(CounterDecisions, TaggedEvidenceGoneIsUnprovable) {
  const auto base = node(CounterCodec::int64_be, 10, 4);
  const auto o = opts(CounterCodec::int64_be, zk::WriterTags::automatic, 2);
  const auto w = plan_write(base, 11, o, ours, "/c");
  // Three other tagged writes after ours with a history of 2: our entry has been pushed out.
  auto now = applied(w, CounterCodec::int64_be);
  for (std::uint64_t i = 0; i < 3; ++i)
    now = applied(plan_write(now, now.value + 1, o, {9, i}, "/c"), CounterCodec::int64_be);
  EXPECT_EQ(judge_lost_write(w, now), Verdict::unprovable);
  // A plain (Curator) write two versions later: no history at all.
  EXPECT_EQ(judge_lost_write(w, node(CounterCodec::int64_be, 12, 6)), Verdict::unprovable);
  // Deleted, or deleted and re-created.
  EXPECT_EQ(judge_lost_write(w, Snapshot{}), Verdict::unprovable);
  EXPECT_EQ(judge_lost_write(w, node(CounterCodec::int64_be, 10, 4, /*czxid*/ 78)),
            Verdict::unprovable);
}

TEST(CounterDecisions, TaggedLostCreate) {
  const auto w = plan_write(Snapshot{}, 1, opts(CounterCodec::int64_be), ours, "/c");
  EXPECT_EQ(judge_lost_write(w, Snapshot{}), Verdict::pending); // re-send the create
  EXPECT_EQ(judge_lost_write(w, applied(w, CounterCodec::int64_be)), Verdict::applied);
  const auto other = plan_write(Snapshot{}, 1, opts(CounterCodec::int64_be), theirs, "/c");
  EXPECT_EQ(judge_lost_write(w, applied(other, CounterCodec::int64_be)), Verdict::not_applied);
  EXPECT_EQ(judge_lost_write(w, node(CounterCodec::int64_be, 1, 0)), Verdict::not_applied);
}

// --- Lost replies, untagged (int32_be default, ascii) ---

TEST(CounterDecisions, UntaggedProvesOnlyByVersionAndBytes) {
  for (auto c : {CounterCodec::int32_be, CounterCodec::ascii}) {
    const auto base = node(c, 10, 4);
    const auto w = plan_write(base, 11, opts(c), ours, "/c");
    EXPECT_EQ(judge_lost_write(w, base), Verdict::pending);
    // Version 5 holding other bytes: someone else's write; ours can never apply now.
    EXPECT_EQ(judge_lost_write(w, node(c, 12, 5)), Verdict::not_applied);
    // Version 5 holding exactly our bytes: ours, or another writer's identical computation.
    EXPECT_EQ(judge_lost_write(w, applied(w, c)), Verdict::unprovable);
    EXPECT_EQ(judge_lost_write(w, node(c, 11, 6)), Verdict::unprovable);
    EXPECT_EQ(judge_lost_write(w, node(c, 10, 4, 78)), Verdict::unprovable);
  }
}

TEST(CounterDecisions, UntaggedLostCreate) {
  const auto w = plan_write(Snapshot{}, 1, opts(CounterCodec::ascii), ours, "/c");
  EXPECT_EQ(judge_lost_write(w, Snapshot{}), Verdict::pending);
  EXPECT_EQ(judge_lost_write(w, node(CounterCodec::ascii, 5, 0)), Verdict::not_applied);
  EXPECT_EQ(judge_lost_write(w, node(CounterCodec::ascii, 1, 0)), Verdict::unprovable);
  EXPECT_EQ(judge_lost_write(w, node(CounterCodec::ascii, 1, 3)), Verdict::unprovable);
}

// --- Late answers to the sends of an in-doubt write ---

TEST(CounterDecisions, LateAnswersBeatInference) {
  using zk::Errc;
  using A = std::vector<std::optional<Errc>>;
  EXPECT_EQ(judge_answers(A{Errc::ok}), Verdict::applied);
  EXPECT_EQ(judge_answers(A{std::nullopt, Errc::ok}), Verdict::applied);
  EXPECT_EQ(judge_answers(A{Errc::connection_loss, Errc::ok}), Verdict::applied);
  EXPECT_EQ(judge_answers(A{Errc::bad_version}), Verdict::not_applied);
  EXPECT_EQ(judge_answers(A{Errc::bad_version, Errc::node_exists}), Verdict::not_applied);
  // One send refused, another never answered or lost: the other one may have applied.
  EXPECT_EQ(judge_answers(A{std::nullopt, Errc::bad_version}), std::nullopt);
  EXPECT_EQ(judge_answers(A{Errc::connection_loss, Errc::bad_version}), std::nullopt);
  EXPECT_EQ(judge_answers(A{Errc::session_expired}), std::nullopt);
  EXPECT_EQ(judge_answers(A{}), std::nullopt);
}

TEST(CounterDecisions, OnlyServerRefusalsCountAsNotApplied) {
  using zk::Errc;
  for (auto e : {Errc::bad_version, Errc::node_exists, Errc::no_node, Errc::no_auth})
    EXPECT_TRUE(write_refused(e)) << zk::to_string(e);
  for (auto e : {Errc::connection_loss, Errc::operation_timeout, Errc::deadline_exceeded,
                 Errc::session_expired, Errc::session_moved, Errc::session_closed,
                 Errc::system_error, Errc::ok})
    EXPECT_FALSE(write_refused(e)) << zk::to_string(e);
}

// --- Combined batches ---

TEST(CounterDecisions, AllocateGivesEachCallerItsOwnStep) {
  std::int64_t total = 0;
  const auto s = allocate(10, {1, -3, 5}, CounterCodec::int64_be, total);
  EXPECT_EQ(total, 13);
  ASSERT_EQ(s.size(), 3U);
  EXPECT_EQ(s[0].before, 10);
  EXPECT_EQ(s[0].after, 11);
  EXPECT_EQ(s[1].before, 11);
  EXPECT_EQ(s[1].after, 8);
  EXPECT_EQ(s[2].before, 8);
  EXPECT_EQ(s[2].after, 13);
}

TEST(CounterDecisions, AllocateSkipsOnlyTheOverflowingDelta) {
  std::int64_t total = 0;
  const std::int64_t top = std::numeric_limits<std::int32_t>::max();
  const auto s = allocate(top - 2, {1, 5, 1, -10}, CounterCodec::int32_be, total);
  EXPECT_TRUE(s[0].fits);
  EXPECT_FALSE(s[1].fits);
  EXPECT_TRUE(s[2].fits);
  EXPECT_EQ(s[2].after, top);
  EXPECT_TRUE(s[3].fits);
  EXPECT_EQ(total, top - 10);
}

} // namespace
