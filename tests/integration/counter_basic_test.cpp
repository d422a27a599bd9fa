// zk::DistributedCounter and zk::ShardedCounter against the real ensemble, in one process: basic
// operations, missing and garbage nodes, wire formats, overflow, CAS races, exhaustion, combining.
#include <zkrecipes/distributed_counter.hpp>
#include <zkrecipes/sharded_counter.hpp>

#include "support/ensemble.hpp"
#include "support/processes.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <limits>
#include <mutex>
#include <set>
#include <thread>

using namespace std::chrono_literals;

namespace {

std::string be64(std::int64_t v) {
  std::string s;
  for (int i = 7; i >= 0; --i)
    s.push_back(static_cast<char>((static_cast<std::uint64_t>(v) >> (8 * i)) & 0xffU));
  return s;
}

using zkt::code_of;

// Releases all parties together, round after round (a reusable barrier).
class Barrier {
public:
  explicit Barrier(int parties) : m_parties(parties) {}
  void arrive_and_wait() {
    std::unique_lock<std::mutex> lock(m_mutex);
    const auto gen = m_generation;
    if (++m_waiting == m_parties) {
      m_waiting = 0;
      ++m_generation;
      m_cv.notify_all();
      return;
    }
    ASSERT_TRUE(m_cv.wait_for(lock, 60s, [&] { return m_generation != gen; }));
  }

private:
  std::mutex m_mutex;
  std::condition_variable m_cv;
  int m_parties;
  int m_waiting = 0;
  std::uint64_t m_generation = 0;
};

TEST(Counter, MissingNodeReadsInitialValueAndTheFirstWriteCreatesIt) {
  zkt::RootGuard root("counter-missing");
  zk::CounterOptions o;
  o.initial_value = 100;
  const std::string path = root.path() + "/deep/er/jobs";
  zk::DistributedCounter c(root.session(), path, o);
  EXPECT_EQ(c.get(), 100);
  EXPECT_FALSE(root.session().exists(path)) << "a read must not create the node";
  EXPECT_EQ(c.increment(), 101); // creates the missing parents and the node
  const auto node = root.session().get(path);
  ASSERT_TRUE(node);
  EXPECT_EQ(node->data.substr(0, 8), be64(101));
  EXPECT_EQ(node->stat.version, 0);
  // An empty node (as Kazoo's ensure_path leaves it) also reads as the initial value.
  const std::string empty = root.path() + "/empty";
  root.session().create(empty);
  zk::DistributedCounter e(root.session(), empty, o);
  EXPECT_EQ(e.get(), 100);
  EXPECT_EQ(e.add(-1), 99);
}

TEST(Counter, BasicOperations) {
  zkt::RootGuard root("counter-basic");
  zk::DistributedCounter c(root.session(), root.path() + "/c");
  EXPECT_EQ(c.increment(), 1);
  EXPECT_EQ(c.decrement(), 0);
  EXPECT_EQ(c.add(-42), -42);
  const auto r = c.add_detailed(5);
  EXPECT_EQ(r.before, -42);
  EXPECT_EQ(r.after, -37);
  EXPECT_EQ(r.attempts, 1);
  EXPECT_EQ(c.get(), -37);
  c.set(0);
  EXPECT_EQ(c.get(), 0);
  EXPECT_TRUE(c.compare_and_set(0, 10));
  EXPECT_FALSE(c.compare_and_set(0, 11));
  EXPECT_EQ(c.get(), 10);
  // A second object (another process, in effect) sees the same value.
  zk::Session other(zkt::options());
  zk::DistributedCounter d(other, root.path() + "/c");
  other.sync(root.path() + "/c");
  EXPECT_EQ(d.get(), 10);
  EXPECT_EQ(d.increment(), 11);
}

TEST(Counter, AnUncontendedUpdateIsOneConditionalWrite) {
  zkt::RootGuard root("counter-onewrite");
  const std::string path = root.path() + "/c";
  zk::DistributedCounter c(root.session(), path);
  (void)c.increment();
  std::int32_t version = root.session().get(path)->stat.version;
  for (int i = 0; i < 20; ++i) {
    const auto r = c.add_detailed(1);
    EXPECT_EQ(r.attempts, 1);
    const auto now = root.session().get(path)->stat.version;
    EXPECT_EQ(now, version + 1) << "each update must be exactly one setData";
    version = now;
  }
  EXPECT_EQ(c.get(), 21);

  // Measured, not asserted (timings are noisy here): an increment against the floor, a raw setData.
  const auto median_us = [](std::vector<std::int64_t> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  std::vector<std::int64_t> ours, raw;
  root.session().create(path + "-raw", "x");
  std::int32_t raw_version = 0;
  for (int i = 0; i < 200; ++i) {
    auto t0 = zk::Clock::now();
    (void)c.increment();
    auto t1 = zk::Clock::now();
    raw_version = root.session().set(path + "-raw", "12345678", raw_version).version;
    auto t2 = zk::Clock::now();
    ours.push_back(std::chrono::duration_cast<std::chrono::microseconds>(t1 - t0).count());
    raw.push_back(std::chrono::duration_cast<std::chrono::microseconds>(t2 - t1).count());
  }
  std::cout << "[ measure ] uncontended increment p50 " << median_us(ours)
            << " us, raw setData p50 " << median_us(raw) << " us\n";
}

TEST(Counter, WireFormatsPerCodec) {
  zkt::RootGuard root("counter-wire");
  auto& s = root.session();
  const auto write = [&](const std::string& name, zk::CounterCodec codec, zk::WriterTags tags) {
    zk::CounterOptions o;
    o.codec = codec;
    o.writer_tags = tags;
    zk::DistributedCounter c(s, root.path() + "/" + name, o);
    c.set(-5);
    return s.get(root.path() + "/" + name)->data;
  };
  const auto tagged = write("i64", zk::CounterCodec::int64_be, zk::WriterTags::automatic);
  EXPECT_EQ(tagged.substr(0, 8), be64(-5));
  EXPECT_EQ(tagged.substr(8, 4), "zkrT");
  EXPECT_EQ(write("i64plain", zk::CounterCodec::int64_be, zk::WriterTags::off), be64(-5));
  EXPECT_EQ(write("i32", zk::CounterCodec::int32_be, zk::WriterTags::automatic),
            std::string("\xff\xff\xff\xfb", 4));
  EXPECT_EQ(write("ascii", zk::CounterCodec::ascii, zk::WriterTags::automatic), "-5");
}

TEST(Counter, GarbageIsATypedErrorAndIsLeftInPlace) {
  zkt::RootGuard root("counter-garbage");
  auto& s = root.session();
  for (auto codec :
       {zk::CounterCodec::int64_be, zk::CounterCodec::int32_be, zk::CounterCodec::ascii}) {
    const std::string path = root.path() + "/" + zk::to_string(codec);
    s.create(path, "hello");
    const auto before = s.get(path)->stat;
    zk::CounterOptions o;
    o.codec = codec;
    zk::DistributedCounter c(s, path, o);
    std::string message;
    EXPECT_EQ(code_of([&] { (void)c.increment(); }, &message), zk::Errc::bad_data);
    EXPECT_NE(message.find(path), std::string::npos) << message;
    EXPECT_NE(message.find("\"hello\""), std::string::npos) << message;
    EXPECT_NE(message.find("68 65 6c 6c 6f"), std::string::npos) << message;
    EXPECT_EQ(code_of([&] { c.set(3); }), zk::Errc::bad_data);
    EXPECT_EQ(code_of([&] { (void)c.compare_and_set(0, 1); }), zk::Errc::bad_data);
    EXPECT_EQ(code_of([&] { (void)c.get(); }), zk::Errc::bad_data);
    try {
      (void)c.add(1);
    } catch (const zk::Error& e) {
      EXPECT_TRUE(e.code() == zk::Condition::precondition);
    }
    const auto after = s.get(path);
    EXPECT_EQ(after->data, "hello");
    EXPECT_EQ(after->stat.version, before.version);
  }
}

TEST(Counter, OverflowIsATypedErrorAndNothingIsWritten) {
  zkt::RootGuard root("counter-overflow");
  zk::DistributedCounter c(root.session(), root.path() + "/i64");
  c.set(std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(code_of([&] { (void)c.increment(); }), zk::Errc::overflow);
  EXPECT_EQ(c.get(), std::numeric_limits<std::int64_t>::max());
  c.set(std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(code_of([&] { (void)c.decrement(); }), zk::Errc::overflow);
  EXPECT_EQ(c.add(std::numeric_limits<std::int64_t>::max()), -1);

  zk::CounterOptions o;
  o.codec = zk::CounterCodec::int32_be;
  zk::DistributedCounter c32(root.session(), root.path() + "/i32", o);
  c32.set(std::numeric_limits<std::int32_t>::max());
  EXPECT_EQ(code_of([&] { (void)c32.increment(); }), zk::Errc::overflow);
  EXPECT_EQ(code_of([&] { c32.set(std::int64_t{1} << 31); }), zk::Errc::overflow);
  EXPECT_EQ(code_of([&] { (void)c32.compare_and_set(0, std::int64_t{1} << 40); }),
            zk::Errc::overflow);
  EXPECT_EQ(c32.get(), std::numeric_limits<std::int32_t>::max());
}

TEST(Counter, CompareAndSetHasExactlyOneWinnerPerRound) {
  zkt::RootGuard root("counter-cas");
  const std::string path = root.path() + "/c";
  constexpr int parties = 4;
  constexpr int rounds = 25;
  Barrier barrier(parties);
  std::vector<std::vector<int>> wins(parties, std::vector<int>(rounds, 0));
  std::vector<std::thread> threads;
  for (int p = 0; p < parties; ++p) {
    threads.emplace_back([&, p] {
      zk::Session s(zkt::options());
      zk::DistributedCounter c(s, path);
      for (int r = 0; r < rounds; ++r) {
        barrier.arrive_and_wait();
        wins[static_cast<std::size_t>(p)][static_cast<std::size_t>(r)] =
            c.compare_and_set(r, r + 1);
        barrier.arrive_and_wait(); // nobody starts round r+1 before every CAS of round r returned
      }
    });
  }
  for (auto& t : threads)
    t.join();
  for (int r = 0; r < rounds; ++r) {
    int winners = 0;
    for (int p = 0; p < parties; ++p)
      winners += wins[static_cast<std::size_t>(p)][static_cast<std::size_t>(r)];
    EXPECT_EQ(winners, 1) << "round " << r;
  }
  zk::DistributedCounter check(root.session(), path);
  root.session().sync(path);
  EXPECT_EQ(check.get(), rounds);
}

TEST(Counter, CompareAndSetLooksThroughAStaleCache) {
  zkt::RootGuard root("counter-cas-stale");
  const std::string path = root.path() + "/c";
  zk::DistributedCounter a(root.session(), path);
  zk::Session other(zkt::options());
  zk::DistributedCounter b(other, path);
  a.set(5); // a caches 5
  b.set(7);
  EXPECT_FALSE(a.compare_and_set(5, 6)); // false only after a fresh read
  EXPECT_TRUE(a.compare_and_set(7, 8));  // true although the cache said 5
  other.sync(path);
  EXPECT_EQ(b.get(), 8);
}

TEST(Counter, MaxAttemptsExhaustedIsTypedWithTheAttemptCount) {
  zkt::RootGuard root("counter-attempts");
  const std::string path = root.path() + "/c";
  zk::CounterOptions o;
  o.retry.max_attempts = 1;
  zk::DistributedCounter a(root.session(), path, o);
  zk::Session other(zkt::options());
  zk::DistributedCounter b(other, path);
  (void)a.increment(); // a caches version 0
  (void)b.increment(); // ... which is now stale: a's next write must conflict
  std::string message;
  EXPECT_EQ(code_of([&] { (void)a.increment(); }, &message), zk::Errc::retries_exhausted);
  EXPECT_NE(message.find("after 1 attempts"), std::string::npos) << message;
  EXPECT_EQ(b.get(), 2);
  EXPECT_EQ(a.increment(), 3); // the failed call refreshed the cache: the next one works
}

TEST(Counter, DeadlineExhaustionReturnsByTheDeadline) {
  zkt::RootGuard root("counter-deadline");
  const std::string path = root.path() + "/c";
  zk::CounterOptions o;
  o.retry.base_backoff = 400ms; // the first retry would wait 400 ms: past the 150 ms deadline
  o.retry.max_backoff = 400ms;
  o.retry.jitter = 0;
  zk::Session other(zkt::options());
  zk::DistributedCounter b(other, path);
  {
    zk::DistributedCounter a(root.session(), path, o);
    (void)a.increment();
    (void)b.increment();
    const auto start = zk::Clock::now();
    std::string message;
    EXPECT_EQ(code_of([&] { (void)a.increment(150ms); }, &message), zk::Errc::retries_exhausted);
    EXPECT_LT(zk::Clock::now() - start, 150ms + 100ms);
    EXPECT_NE(message.find("deadline"), std::string::npos) << message;
  }
  // a's conflict left its contention marker, which would make the next writer read behind its
  // writes and retry a refusal at once; gone with a, the next conflict waits the backoff again.
  EXPECT_TRUE(zkt::wait_until([&] { return zkt::children(root.session(), path).empty(); }, 10s));
  // The policy's own overall timeout bounds a call the same way.
  o.retry.timeout = 150ms;
  zk::DistributedCounter c(root.session(), path, o);
  (void)c.get();
  (void)b.increment();
  EXPECT_EQ(code_of([&] { (void)c.increment(); }), zk::Errc::retries_exhausted);
  EXPECT_EQ(b.get(), 3);
}

// A refused writer's contention marker leaves by itself once the competition is quiet, with no
// further call, and at once with its counter: the node can then be deleted. Once quiet, the writer
// takes no more turns.
TEST(Counter, AContentionMarkerGoesWhenQuietAndWithItsCounter) {
  zkt::RootGuard root("counter-marker");
  const std::string path = root.path() + "/c";
  zk::Session other(zkt::options());
  zk::DistributedCounter b(other, path);
  const auto conflict = [&](zk::DistributedCounter& a) {
    (void)a.increment(); // a caches this version...
    (void)b.get();       // (b's own cache is fresh: only a is refused)
    (void)b.increment(); // ...which b makes stale: a's next write is refused, then retried
    (void)a.increment();
    root.session().sync(path);
    const auto kids = root.session().children(path);
    return kids && !kids->names.empty();
  };
  const auto markers = [&] {
    root.session().sync(path);
    const auto kids = root.session().children(path);
    return kids ? kids->names.size() : 0;
  };
  {
    zk::DistributedCounter a(root.session(), path);
    ASSERT_TRUE(conflict(a)) << "a refused writer left no marker";
    EXPECT_TRUE(zkt::wait_until([&] { return markers() == 0; }, 10s))
        << "the marker outlived a second of quiet";
    ASSERT_TRUE(conflict(a));
    // Writing on, alone: a leaves the contention by itself (its own turn node is not a
    // competitor's), and then each increment is one write again, with no turn node.
    EXPECT_TRUE(zkt::wait_until(
        [&] {
          for (int i = 0; i < 10; ++i)
            (void)a.increment();
          return markers() == 0;
        },
        10s))
        << "a writer alone kept taking turns";
    for (int i = 0; i < 20; ++i) {
      EXPECT_EQ(a.add_detailed(1).attempts, 1);
      ASSERT_EQ(markers(), 0U) << "a writer alone took a turn (increment " << i << ")";
    }
    ASSERT_TRUE(conflict(a));
  } // a's destructor deletes its marker before it returns
  EXPECT_EQ(markers(), 0U);
  EXPECT_TRUE(root.session().remove(path)) << "the counter node could not be deleted";
}

TEST(Counter, CombinedDeltasShareWritesAndKeepDistinctResults) {
  zkt::RootGuard root("counter-combine");
  const std::string path = root.path() + "/c";
  zk::CounterOptions o;
  o.combine = true;
  zk::DistributedCounter c(root.session(), path, o);
  (void)c.add(0);
  const auto v0 = root.session().get(path)->stat.version;
  constexpr int threads = 8, ops = 100;
  std::mutex m;
  std::vector<std::int64_t> afters;
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (int i = 0; i < ops; ++i) {
        const auto r = c.add_detailed(1);
        EXPECT_EQ(r.after, r.before + 1);
        std::lock_guard<std::mutex> lock(m);
        afters.push_back(r.after);
      }
    });
  }
  for (auto& t : pool)
    t.join();
  EXPECT_EQ(c.get(), threads * ops);
  std::sort(afters.begin(), afters.end());
  for (std::size_t i = 0; i < afters.size(); ++i)
    ASSERT_EQ(afters[i], static_cast<std::int64_t>(i) + 1) << "each caller gets its own step";
  const auto writes = root.session().get(path)->stat.version - v0;
  EXPECT_LT(writes, threads * ops) << "combining must save writes";
  std::cout << "[ measure ] combine: " << threads * ops << " increments in " << writes
            << " writes\n";
}

TEST(Counter, CallsFromTheCallbackThreadAreRefused) {
  zkt::RootGuard root("counter-thread");
  zk::DistributedCounter c(root.session(), root.path() + "/c");
  std::mutex m;
  std::condition_variable cv;
  std::optional<zk::Errc> seen;
  root.session().sync_async(root.path(), [&](zk::Result<zk::Done>) {
    const auto e = code_of([&] { (void)c.increment(); });
    std::lock_guard<std::mutex> lock(m);
    seen = e;
    cv.notify_all();
  });
  std::unique_lock<std::mutex> lock(m);
  ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return seen.has_value(); }));
  EXPECT_EQ(*seen, zk::Errc::wrong_thread);
}

TEST(ShardedCounter, SumsShardsWrittenByManyWriters) {
  zkt::RootGuard root("counter-sharded");
  const std::string path = root.path() + "/hits";
  zk::ShardedCounterOptions o;
  o.shards = 4;
  constexpr int sessions = 2, threads = 3, ops = 50;
  std::vector<std::thread> pool;
  for (int s = 0; s < sessions; ++s) {
    pool.emplace_back([&] {
      zk::Session session(zkt::options());
      zk::ShardedCounter c(session, path, o);
      std::vector<std::thread> inner;
      for (int t = 0; t < threads; ++t)
        inner.emplace_back([&] {
          for (int i = 0; i < ops; ++i)
            c.increment();
          c.add(-2);
        });
      for (auto& t : inner)
        t.join();
    });
  }
  for (auto& t : pool)
    t.join();
  zk::ShardedCounter reader(root.session(), path, o);
  root.session().sync(path);
  EXPECT_EQ(reader.get(), sessions * threads * (ops - 2));
  const auto kids = root.session().children(path);
  ASSERT_TRUE(kids);
  EXPECT_GE(kids->names.size(), 1U);
  EXPECT_LE(kids->names.size(), 4U);
  for (const auto& n : kids->names)
    EXPECT_EQ(n.rfind("shard-", 0), 0U) << n;
  // An empty path counts 0; a stranger among the shards is an error, not silently skipped.
  zk::ShardedCounter fresh(root.session(), root.path() + "/none", o);
  EXPECT_EQ(fresh.get(), 0);
  root.session().create(path + "/stranger", "1");
  EXPECT_EQ(code_of([&] { (void)reader.get(); }), zk::Errc::bad_data);
}

} // namespace
