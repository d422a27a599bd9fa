// The history checkers must accept correct histories and reject each kind of violation, with an
// explanation that names what went wrong.
#include "support/checkers.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <sstream>
#include <thread>

namespace {

using zkt::CounterOp;
using zkt::HoldRecord;
using zkt::Outcome;

constexpr std::int64_t ms = 1000000; // ns

HoldRecord hold(std::int64_t token, std::int64_t enter_ms, std::int64_t exit_ms,
                std::int64_t process = 1) {
  return HoldRecord{token, process, 7, enter_ms * ms, exit_ms * ms};
}

CounterOp op(std::int64_t invoke_ms, std::int64_t complete_ms, Outcome o, std::int64_t value = 0,
             std::int64_t delta = 1) {
  return CounterOp{1, invoke_ms * ms, complete_ms * ms, delta, o, value};
}

bool mentions(const zkt::CheckResult& r, const std::string& word) {
  return r.explain().find(word) != std::string::npos;
}

// --- Mutual exclusion ---

TEST(MutexChecker, SequentialHoldersWithIncreasingTokensPass) {
  // Given out of order on purpose: the checker sorts by enter time. Touching intervals are fine.
  const auto r =
      zkt::check_mutual_exclusion({hold(30, 20, 30), hold(10, 0, 10), hold(20, 10, 15, 2)});
  EXPECT_TRUE(r.ok()) << r.explain();
  EXPECT_EQ(r.explain(), "ok");
  EXPECT_TRUE(zkt::check_mutual_exclusion({}).ok());
}

TEST(MutexChecker, OverlapFails) {
  const auto r = zkt::check_mutual_exclusion({hold(1, 0, 10), hold(2, 5, 20, 2)});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(mentions(r, "overlap")) << r.explain();
  EXPECT_TRUE(mentions(r, "token 1")) << r.explain();
  EXPECT_TRUE(mentions(r, "token 2")) << r.explain();
}

TEST(MutexChecker, OverlapWithALongEarlierHolderIsFoundPastShortOnes) {
  // Token 1 holds 0..100; token 2 (10..20) overlaps it, and so does token 3 (30..40), though 3 does
  // not overlap its immediate predecessor.
  const auto r = zkt::check_mutual_exclusion({hold(1, 0, 100), hold(2, 10, 20), hold(3, 30, 40)});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.problems.size(), 2u) << r.explain();
}

TEST(MutexChecker, StaleTokenFails) {
  const auto r = zkt::check_mutual_exclusion({hold(5, 0, 10), hold(7, 10, 20), hold(6, 20, 30)});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(mentions(r, "token did not increase")) << r.explain();
  EXPECT_TRUE(mentions(r, "token 6")) << r.explain();
}

TEST(MutexChecker, RepeatedTokenFails) {
  EXPECT_FALSE(zkt::check_mutual_exclusion({hold(5, 0, 10), hold(5, 11, 20)}).ok());
}

TEST(MutexChecker, ExitBeforeEnterIsABadRecord) {
  const auto r = zkt::check_mutual_exclusion({hold(1, 10, 5)});
  EXPECT_TRUE(mentions(r, "bad record")) << r.explain();
}

HoldRecord read(std::int64_t token, std::int64_t enter_ms, std::int64_t exit_ms) {
  HoldRecord r = hold(token, enter_ms, exit_ms);
  r.shared = true;
  return r;
}

TEST(SemaphoreChecker, AtMostMaxLeasesAtOnceEachWithItsOwnToken) {
  const std::vector<HoldRecord> ok{hold(1, 0, 10), hold(2, 2, 8), hold(3, 10, 12), hold(4, 8, 20)};
  EXPECT_TRUE(zkt::check_semaphore(ok, 2).ok()) << zkt::check_semaphore(ok, 2).explain();
  EXPECT_EQ(zkt::max_concurrent(ok), 2U);
  auto crowded = ok;
  crowded.push_back(hold(5, 9, 11)); // a third lease while 1 and 4 hold
  const auto r = zkt::check_semaphore(crowded, 2);
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(mentions(r, "3 leases held at once")) << r.explain();
  EXPECT_TRUE(mentions(r, "token 5")) << r.explain();
  EXPECT_TRUE(zkt::check_semaphore(crowded, 3).ok());
  const auto twice = zkt::check_semaphore({hold(7, 0, 1), hold(7, 5, 6)}, 3);
  EXPECT_FALSE(twice.ok());
  EXPECT_TRUE(mentions(twice, "share the token 7")) << twice.explain();
}

TEST(ReadWriteChecker, ReadersOverlapEachOtherButNoWriter) {
  // Two readers together (one node shared by two threads: one token), then a writer, then a reader.
  const std::vector<HoldRecord> ok{read(10, 0, 10), read(10, 2, 8), read(11, 5, 12),
                                   hold(20, 12, 20), read(30, 20, 25)};
  EXPECT_TRUE(zkt::check_read_write(ok).ok()) << zkt::check_read_write(ok).explain();
  EXPECT_EQ(zkt::max_concurrent_readers(ok), 3U);
  auto bad = ok;
  bad.push_back(read(31, 19, 22)); // entered before the writer left
  const auto r = zkt::check_read_write(bad);
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(mentions(r, "overlap")) << r.explain();
  EXPECT_FALSE(zkt::check_read_write({hold(1, 0, 10), hold(2, 5, 15)}).ok()) << "two writers";
}

TEST(ReadWriteChecker, ALaterHoldWithASmallerTokenThanAWritersFails) {
  const auto r = zkt::check_read_write({hold(20, 0, 10), read(15, 11, 12)});
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(mentions(r, "token order")) << r.explain();
  EXPECT_FALSE(zkt::check_read_write({read(25, 0, 10), hold(20, 11, 12)}).ok());
}

TEST(ReadWriteChecker, ADowngradeKeepsItsTokenAheadOfALaterWriter) {
  // Writer 5 downgrades (its read hold keeps token 5), writer 7 queued meanwhile holds after it.
  EXPECT_TRUE(zkt::check_read_write({hold(5, 0, 10), read(5, 10, 20), hold(7, 20, 30)}).ok());
  auto other = read(5, 10, 20);
  other.process = 2; // another process's hold with that token after the writer: stale
  EXPECT_FALSE(zkt::check_read_write({hold(5, 0, 10), other}).ok());
}

TEST(ReadWriteChecker, ReadLinesRoundTrip) {
  std::istringstream in(zkt::to_line(read(5, 1, 2)) + "\n" + zkt::to_line(hold(6, 3, 4)) + "\n");
  const auto got = zkt::read_holds(in);
  ASSERT_EQ(got.size(), 2U);
  EXPECT_FALSE(got[0].shared);
  EXPECT_EQ(got[0].token, 6);
  EXPECT_TRUE(got[1].shared);
  EXPECT_EQ(got[1].token, 5);
}

TEST(FencedWrites, OnlyAStaleTokenFails) {
  EXPECT_TRUE(zkt::check_fenced_writes({{1, 100}, {1, 101}, {2, 102}}).ok());
  const auto r = zkt::check_fenced_writes({{2, 101}, {1, 102}, {3, 100}});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(mentions(r, "stale token accepted")) << r.explain();
}

TEST(TermChecker, InterleavedTermsAndASharedTokenFail) {
  EXPECT_TRUE(zkt::check_terms({{5, 100, 1}, {5, 101, 1}, {9, 102, 2}, {12, 103, 1}}).ok());
  // Term 5's writer kept writing after term 9 began: two leaders at once.
  auto r = zkt::check_terms({{5, 100, 1}, {9, 101, 2}, {5, 102, 1}});
  EXPECT_TRUE(mentions(r, "stale token accepted")) << r.explain();
  r = zkt::check_terms({{5, 100, 1}, {5, 101, 2}});
  EXPECT_TRUE(mentions(r, "two leaders with one token")) << r.explain();
  const auto w = zkt::parse_write("WRITE 17 4242 99");
  ASSERT_TRUE(w);
  EXPECT_EQ(w->token, 17);
  EXPECT_EQ(w->order, 4242);
  EXPECT_EQ(w->writer, 99);
  EXPECT_FALSE(zkt::parse_write("TERM_BEGIN 17 99 1"));
}

// --- Counter ---

TEST(CounterChecker, LinearizableHistoryPasses) {
  // Two concurrent increments (1 and 2 in either order), then a third after both.
  const std::vector<CounterOp> ops{op(0, 10, Outcome::ok, 2), op(1, 9, Outcome::ok, 1),
                                   op(20, 30, Outcome::ok, 3)};
  const auto r = zkt::check_counter(ops, 3);
  EXPECT_TRUE(r.ok()) << r.explain();
}

TEST(CounterChecker, InitialValueAndFailedOpsCount) {
  const std::vector<CounterOp> ops{op(0, 10, Outcome::ok, 101), op(20, 30, Outcome::failed),
                                   op(40, 50, Outcome::ok, 102)};
  EXPECT_TRUE(zkt::check_counter(ops, 102, 100).ok());
  // A failed op must not have been applied.
  EXPECT_FALSE(zkt::check_counter(ops, 103, 100).ok());
}

TEST(CounterChecker, IndeterminateOpsMayOrMayNotCount) {
  const std::vector<CounterOp> ops{op(0, 10, Outcome::ok, 1), op(20, 30, Outcome::indeterminate),
                                   op(40, 50, Outcome::indeterminate), op(60, 70, Outcome::ok, 3)};
  // The ok op at 60 returned 3, so one indeterminate op was applied before it.
  EXPECT_TRUE(zkt::check_counter(ops, 3).ok()) << zkt::check_counter(ops, 3).explain();
  EXPECT_TRUE(zkt::check_counter(ops, 4).ok());
  const auto too_many = zkt::check_counter(ops, 5);
  ASSERT_FALSE(too_many.ok());
  EXPECT_TRUE(mentions(too_many, "counted twice")) << too_many.explain();
}

TEST(CounterChecker, SubsetSumOfMixedDeltas) {
  const std::vector<CounterOp> ops{op(0, 1, Outcome::indeterminate, 0, 5),
                                   op(0, 1, Outcome::indeterminate, 0, 7),
                                   op(0, 1, Outcome::indeterminate, 0, -3)};
  for (const std::int64_t ok_final : {0, 5, 7, -3, 12, 2, 4, 9})
    EXPECT_TRUE(zkt::check_counter(ops, ok_final).ok()) << ok_final;
  for (const std::int64_t bad_final : {1, 3, 6, 8, 10, 11, 13, -4})
    EXPECT_FALSE(zkt::check_counter(ops, bad_final).ok()) << bad_final;
}

TEST(CounterChecker, DoubleCountFails) {
  // Two acknowledged increments returned the same value: one of them was not really applied.
  const std::vector<CounterOp> ops{op(0, 10, Outcome::ok, 1), op(5, 15, Outcome::ok, 1)};
  const auto r = zkt::check_counter(ops, 2);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(mentions(r, "value 1 returned by 2 ok increments")) << r.explain();
}

TEST(CounterChecker, LostIncrementFails) {
  // Three acknowledged increments, final value 2: one was lost (and the value 3 was seen, then
  // lost).
  const std::vector<CounterOp> ops{op(0, 10, Outcome::ok, 1), op(20, 30, Outcome::ok, 2),
                                   op(40, 50, Outcome::ok, 3)};
  const auto r = zkt::check_counter(ops, 2);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(mentions(r, "lost")) << r.explain();
  // A silent loss (nobody saw the value) is caught by the sum alone.
  const std::vector<CounterOp> quiet{op(0, 10, Outcome::ok, 1), op(20, 30, Outcome::ok, 2)};
  EXPECT_TRUE(mentions(zkt::check_counter(quiet, 1), "an acknowledged increment was lost"));
}

TEST(CounterChecker, RealTimeOrderViolationFails) {
  // B started after A finished, yet B's value is smaller: a stale read-modify-write.
  const std::vector<CounterOp> ops{op(0, 10, Outcome::ok, 2), op(20, 30, Outcome::ok, 1)};
  const auto r = zkt::check_counter(ops, 2);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(mentions(r, "real-time order violated")) << r.explain();
}

TEST(CounterChecker, ManyIndeterminateOpsStayBounded) {
  std::vector<CounterOp> ops;
  for (int i = 0; i < 5000; ++i)
    ops.push_back(op(i, i + 1, Outcome::indeterminate));
  EXPECT_TRUE(zkt::check_counter(ops, 4321).ok());
  EXPECT_FALSE(zkt::check_counter(ops, 5001).ok());
}

// --- Line format and files ---

TEST(CheckerRecords, LinesRoundTripAndKindsShareAStream) {
  const HoldRecord h{12345678901234, 42, 43, 1000, 2000};
  const CounterOp c{42, 5, 6, -2, Outcome::indeterminate, 0};
  std::istringstream in("# a comment\n" + zkt::to_line(h) + "\n\n" + zkt::to_line(c) + "\n");
  const auto holds = zkt::read_holds(in);
  ASSERT_EQ(holds.size(), 1u);
  EXPECT_EQ(holds[0].token, h.token);
  EXPECT_EQ(holds[0].exit_ns, h.exit_ns);
  in.clear();
  in.seekg(0);
  const auto ops = zkt::read_counter_ops(in);
  ASSERT_EQ(ops.size(), 1u);
  EXPECT_EQ(ops[0].delta, -2);
  EXPECT_EQ(ops[0].outcome, Outcome::indeterminate);
}

TEST(CheckerRecords, MalformedLinesAreRefusedWithTheirNumber) {
  std::istringstream bad("hold 1 2 3 4\n"); // one field short
  try {
    zkt::read_holds(bad);
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("line 1"), std::string::npos) << e.what();
  }
  std::istringstream outcome("incr 1 2 3 1 maybe 0\n");
  EXPECT_THROW(zkt::read_counter_ops(outcome), std::runtime_error);
  std::istringstream extra("incr 1 2 3 1 ok 0 9\n");
  EXPECT_THROW(zkt::read_counter_ops(extra), std::runtime_error);
}

TEST(CheckerRecords, HistoriesFromSeveralWritersMerge) {
  const std::string a = ::testing::TempDir() + "zkr_checkers_a.log";
  const std::string b = ::testing::TempDir() + "zkr_checkers_b.log";
  std::remove(a.c_str());
  std::remove(b.c_str());
  {
    zkt::CounterHistory first(a), second(b);
    std::thread t1([&] {
      for (int i = 0; i < 50; ++i)
        first.add(op(2 * i, 2 * i + 1, Outcome::ok, 2 * i + 1));
    });
    std::thread t2([&] {
      for (int i = 0; i < 50; ++i)
        second.add(op(2 * i + 1, 2 * i + 2, Outcome::ok, 2 * i + 2));
    });
    t1.join();
    t2.join();
    EXPECT_EQ(first.records().size(), 50u);
  }
  const auto merged = zkt::load_counter_ops({a, b});
  ASSERT_EQ(merged.size(), 100u);
  EXPECT_TRUE(zkt::check_counter(merged, 100).ok()) << zkt::check_counter(merged, 100).explain();
  EXPECT_FALSE(zkt::check_counter(merged, 99).ok());
  EXPECT_THROW(zkt::load_counter_ops({a + ".missing"}), std::runtime_error);
  std::remove(a.c_str());
  std::remove(b.c_str());
}

TEST(CheckerRecords, MonotonicClockAndIdsAreSane) {
  const auto t0 = zkt::monotonic_ns();
  EXPECT_GT(t0, 0);
  EXPECT_GE(zkt::monotonic_ns(), t0);
  EXPECT_GT(zkt::this_process(), 0);
  EXPECT_GT(zkt::this_thread(), 0u);
}

} // namespace
