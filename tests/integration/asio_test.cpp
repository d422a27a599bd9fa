// zkrecipes/asio.hpp against the ensemble: a plain handler, use_awaitable, use_future and deferred
// on one io_context thread; coroutines reading and writing through a ReadWriteLock, and taking a
// Semaphore's leases, awaiting leadership, incrementing a counter; Asio's per-operation
// cancellation ends a wait and leaves nothing; a pending wait keeps io.run() going.
#include "lock_harness.hpp"

#include <zkrecipes/asio.hpp>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/deferred.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/use_future.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <thread>

using namespace std::chrono_literals;
using zk::DistributedLock;
using zk::Errc;

namespace {

using zkt::lock::child_count;

TEST(Asio, APlainHandlerRunsOnTheIoContextThreadAndRunWaitsForIt) {
  zkt::RootGuard root("asio-plain");
  const std::string path = root.path() + "/l";
  DistributedLock lock(root.session(), path);
  asio::io_context io;
  std::thread::id ran_on;
  std::int64_t token = 0;
  zk::asio::async_lock(lock, io.get_executor(), 10s, [&](std::error_code ec, zk::LockGuard g) {
    ran_on = std::this_thread::get_id();
    EXPECT_FALSE(ec) << ec.message();
    token = g.fencing_token();
  });
  io.run(); // returns only after the completion: the pending wait is work of the io_context
  EXPECT_EQ(ran_on, std::this_thread::get_id());
  EXPECT_GT(token, 0);
  EXPECT_EQ(child_count(root.session(), path), 0U) << "the guard ended the hold";
}

TEST(Asio, CoroutinesFuturesAndDeferredTakeTurns) {
  zkt::RootGuard root("asio-tokens");
  const std::string path = root.path() + "/l";
  DistributedLock lock(root.session(), path);
  asio::io_context io;
  std::vector<std::int64_t> tokens;
  auto ex = io.get_executor();
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        for (int i = 0; i < 3; ++i) {
          zk::LockGuard g = co_await zk::asio::async_lock(lock, ex, 10s, asio::use_awaitable);
          tokens.push_back(g.fencing_token());
          asio::steady_timer t(ex, 5ms); // held across a suspension of the coroutine
          co_await t.async_wait(asio::use_awaitable);
        }
      },
      asio::detached);
  io.run();
  ASSERT_EQ(tokens.size(), 3U);
  EXPECT_TRUE(std::is_sorted(tokens.begin(), tokens.end()));

  auto deferred = zk::asio::async_lock(lock, ex, 10s, asio::experimental::deferred);
  bool ran = false;
  EXPECT_EQ(child_count(root.session(), path), 0U) << "deferred: nothing starts before it runs";
  std::move(deferred)([&](std::error_code ec, zk::LockGuard g) { ran = !ec && g.owns_lock(); });
  io.restart();
  io.run();
  EXPECT_TRUE(ran);

  asio::io_context other;
  std::thread runner([&] {
    auto guard = asio::make_work_guard(other);
    other.run_for(20s);
  });
  auto f = zk::asio::async_lock(lock, other.get_executor(), 10s, asio::use_future);
  ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
  zk::LockGuard held = f.get();
  EXPECT_TRUE(held.owns_lock());
  held.release();
  other.stop();
  runner.join();
}

TEST(Asio, APerOperationCancellationEndsTheWaitAndLeavesNothing) {
  zkt::RootGuard root("asio-cancel");
  const std::string path = root.path() + "/l";
  DistributedLock holder(root.session(), path);
  holder.lock();
  zk::Session s(zkt::options());
  DistributedLock lock(s, path);
  asio::io_context io;
  asio::cancellation_signal signal;
  std::error_code got;
  bool held = true;
  zk::asio::async_lock(
      lock, io.get_executor(),
      asio::bind_cancellation_slot(signal.slot(), [&](std::error_code ec, zk::LockGuard g) {
        got = ec;
        held = g.owns_lock();
      }));
  asio::steady_timer t(io, 200ms);
  t.async_wait([&](std::error_code) { signal.emit(asio::cancellation_type::terminal); });
  io.run();
  EXPECT_EQ(got, Errc::cancelled);
  EXPECT_FALSE(held);
  EXPECT_EQ(child_count(s, path), 1U) << "our node outlived the cancellation";
  EXPECT_TRUE(zkt::wait_until([&] { return zkt::lock::watches_under(path) == 1; }, 10s))
      << "our watch on the holder's node was left";
  holder.unlock();
}

TEST(Asio, CoroutinesReadTogetherAndAWriterTakesItsTurnAfterThem) {
  zkt::RootGuard root("asio-rw");
  const std::string path = root.path() + "/rw";
  zk::ReadWriteLock rw(root.session(), path);
  asio::io_context io;
  auto ex = io.get_executor();
  constexpr int readers = 3;
  int reading = 0, arrived = 0, most_reading = 0, read_before_writing = 0;
  std::vector<std::int64_t> read_tokens;
  std::int64_t write_token = 0;
  for (int i = 0; i < readers; ++i) {
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          zk::LockGuard r =
              co_await zk::asio::async_lock_shared(rw.reader(), ex, 10s, asio::use_awaitable);
          read_tokens.push_back(r.fencing_token());
          most_reading = std::max(most_reading, ++reading);
          ++arrived;
          asio::steady_timer t(ex, 5ms);
          for (int n = 0; n < 400 && arrived < readers; ++n) // until every reader is in
            co_await(t.expires_after(5ms), t.async_wait(asio::use_awaitable));
          --reading;
        },
        asio::detached);
  }
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        zk::LockGuard w = co_await zk::asio::async_lock(rw.writer(), ex, 10s, asio::use_awaitable);
        read_before_writing = static_cast<int>(read_tokens.size());
        EXPECT_EQ(reading, 0) << "the writer came in while a reader read";
        write_token = w.fencing_token();
      },
      asio::detached);
  io.run();
  EXPECT_EQ(most_reading, readers) << "the readers did not read together";
  ASSERT_EQ(read_tokens.size(), static_cast<std::size_t>(readers));
  EXPECT_EQ(std::count(read_tokens.begin(), read_tokens.end(), read_tokens.front()), readers)
      << "the readers of one object did not share one read node";
  EXPECT_EQ(read_before_writing, readers) << "the later writer overtook the readers";
  EXPECT_GT(write_token, read_tokens.front());
  EXPECT_EQ(child_count(root.session(), path), 0U) << "a guard did not end its hold";
}

TEST(Asio, CoroutinesTakeASemaphoresLeasesAtMostTheMaximumAtOnce) {
  zkt::RootGuard root("asio-sem");
  const std::string path = root.path() + "/pool";
  zk::Semaphore pool(root.session(), path, 2);
  asio::io_context io;
  auto ex = io.get_executor();
  int holding = 0, most = 0, leases = 0;
  for (int i = 0; i < 6; ++i) {
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          for (int n = 0; n < 3; ++n) {
            zk::Lease lease = co_await zk::asio::async_acquire(pool, ex, 20s, asio::use_awaitable);
            EXPECT_TRUE(lease.held());
            ++leases;
            most = std::max(most, ++holding);
            asio::steady_timer t(ex, 10ms); // held across a suspension
            co_await t.async_wait(asio::use_awaitable);
            --holding;
          }
        },
        asio::detached);
  }
  io.run();
  EXPECT_EQ(leases, 18);
  EXPECT_EQ(most, 2) << "more leases than the maximum at once, or never two";
  EXPECT_TRUE(zkt::wait_until(
      [&] { return zkt::children(root.session(), path + "/leases").empty(); }, 10s));
}

TEST(Asio, ACoroutineAwaitsLeadershipAndLeadsOnceTheLeaderCloses) {
  zkt::RootGuard root("asio-leader");
  const std::string path = root.path() + "/election";
  zk::Session other(zkt::options());
  zk::LeaderLatch first(other, path);
  ASSERT_TRUE(first.await_leadership(10s));
  zk::LeaderLatch latch(root.session(), path);
  asio::io_context io;
  auto ex = io.get_executor();
  std::vector<bool> answers;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        answers.push_back(
            co_await zk::asio::async_await_leadership(latch, ex, 300ms, asio::use_awaitable));
        first.close(); // the leader goes: ours leads next
        answers.push_back(
            co_await zk::asio::async_await_leadership(latch, ex, 10s, asio::use_awaitable));
      },
      asio::detached);
  io.run();
  EXPECT_EQ(answers, (std::vector<bool>{false, true}));
  EXPECT_TRUE(latch.is_leader());
}

TEST(Asio, CoroutinesOfOneThreadIncrementACounterExactlyOnceEach) {
  zkt::RootGuard root("asio-counter");
  const std::string path = root.path() + "/hits";
  zk::Session other(zkt::options());
  zk::CounterOptions o;
  o.retry.max_attempts = 100000;
  o.retry.timeout = 60s;
  zk::DistributedCounter mine(root.session(), path, o);
  zk::DistributedCounter theirs(other, path, o); // another process's writes, interleaved
  asio::io_context io;
  auto ex = io.get_executor();
  std::set<std::int64_t> afters;
  int errors = 0;
  int finished = 0;
  for (int i = 0; i < 10; ++i) {
    asio::co_spawn(
        io,
        [&, i]() -> asio::awaitable<void> {
          auto& counter = i % 2 == 0 ? mine : theirs;
          for (int n = 0; n < 10; ++n) {
            try {
              const zk::AddResult r =
                  co_await zk::asio::async_add(counter, 1, ex, asio::use_awaitable);
              afters.insert(r.after); // on io's thread: no lock needed
            } catch (const std::system_error&) {
              ++errors;
            }
          }
          ++finished;
        },
        asio::detached);
  }
  io.run_for(120s); // bounded: a completion that never comes fails here instead of hanging
  ASSERT_EQ(finished, 10) << "a coroutine still awaits an update";
  EXPECT_EQ(errors, 0);
  EXPECT_EQ(afters.size(), 100U) << "two updates saw the same value";
  EXPECT_EQ(mine.get(), 100);
}

} // namespace
