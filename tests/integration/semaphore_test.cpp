// Semaphore against the ensemble: processes × threads under the checker (never more than the
// maximum at once, each lease its own token), kill -9 of holders and waiters leaving no orphan
// lease, expiry while holding, timeouts and cancel leaving nothing, several leases all or none, a
// SharedCount's change waking a waiter, the Kazoo profile's stored maximum, bad input. main() also
// runs the worker processes:
//
//   --sem-worker contend HOSTS PATH PROFILE MAX THREADS COUNT HOLD_US
//       THREADS threads share one Semaphore over one Session; each takes COUNT leases one after
//       another and prints one zkt::HoldRecord line per lease, then "DONE". MAX is a number or
//       "count:COUNT_PATH" (a SharedCount).
//   --sem-worker hold HOSTS PATH PROFILE MAX SESSION_MS
//       takes one lease, prints "HELD <token>", releases on a line from stdin (or waits to be
//       killed).
// Prints "READY" once its session is connected; `contend` then starts on a line from stdin.
#include "semaphore_harness.hpp"

#include <zkrecipes/semaphore.hpp>

#include <gtest/gtest.h>

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <future>
#include <iostream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

using namespace std::chrono_literals;
using zk::Errc;

namespace zkt::sem {

std::vector<std::string> worker(const std::vector<std::string>& args) {
  return with({self_exe(), "--sem-worker"}, args);
}

namespace {

zk::Semaphore make(zk::Session& s, const std::string& path, const std::string& profile,
                   const std::string& max) {
  zk::SemaphoreOptions o;
  o.profile = profile == "kazoo" ? zk::SemaphoreProfile::kazoo : zk::SemaphoreProfile::curator;
  if (max.rfind("count:", 0) == 0) return {s, path, zk::SharedMaxLeases{max.substr(6)}, o};
  return {s, path, std::stoi(max), o};
}

int contend(zk::Semaphore& pool, int threads, int count, int hold_us) {
  std::mutex m;
  std::ostringstream out;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      std::vector<std::string> lines;
      for (int i = 0; i < count; ++i) {
        HoldRecord r;
        {
          const zk::Lease lease = pool.acquire();
          r.token = lease.fencing_token();
          r.enter_ns = monotonic_ns();
          std::this_thread::sleep_for(std::chrono::microseconds(hold_us)); // the lease's work
          r.exit_ns = monotonic_ns();
        }
        r.process = this_process();
        r.thread = static_cast<std::uint64_t>(t);
        lines.push_back(to_line(r));
      }
      std::lock_guard<std::mutex> g(m);
      for (const auto& l : lines)
        out << l << '\n';
    });
  }
  for (auto& w : workers)
    w.join();
  std::cout << out.str() << "DONE" << std::endl;
  return 0;
}

int worker_main(const std::vector<std::string>& a) {
  try {
    if (a.size() == 8 && a[0] == "contend") {
      zk::SessionOptions o = options(6s);
      o.hosts = a[1];
      zk::Session session(o);
      auto pool = make(session, a[2], a[3], a[4]);
      std::cout << "READY" << std::endl;
      std::string go;
      std::getline(std::cin, go);
      return contend(pool, std::stoi(a[5]), std::stoi(a[6]), std::stoi(a[7]));
    }
    if (a.size() == 6 && a[0] == "hold") {
      zk::SessionOptions o = options(std::chrono::milliseconds(std::stoi(a[5])));
      o.hosts = a[1];
      zk::Session session(o);
      auto pool = make(session, a[2], a[3], a[4]);
      std::cout << "READY" << std::endl;
      const zk::Lease lease = pool.acquire();
      std::cout << "HELD " << lease.fencing_token() << std::endl;
      std::string line;
      std::getline(std::cin, line);
      return 0;
    }
  } catch (const std::exception& e) {
    std::cerr << "semaphore worker: " << e.what() << std::endl;
    return 1;
  }
  std::cerr << "semaphore worker: bad arguments" << std::endl;
  return 2;
}

} // namespace
} // namespace zkt::sem

namespace {

using zkt::Child;

class Sem : public ::testing::Test {
protected:
  zkt::RootGuard root{"semaphore"};
  const std::string path = root.path() + "/pool";

  std::vector<std::string> leases() { return zkt::children(root.session(), path + "/leases"); }
  // Every lease, lock node and watch of a test gone.
  void expect_nothing_left() {
    EXPECT_TRUE(zkt::wait_until([&] { return leases().empty(); }, 10s)) << "a lease was left";
    EXPECT_TRUE(zkt::wait_until(
        [&] { return zkt::children(root.session(), path + "/locks").empty(); }, 10s))
        << "a lock node was left";
    EXPECT_TRUE(zkt::wait_until([&] { return zkt::watches_under(path) == 0; }, 10s))
        << "a watch was left behind";
  }
  Child hold(const std::string& session_ms = "4000", const std::string& max = "1") {
    return Child(zkt::sem::worker({"hold", zkt::hosts(), path, "curator", max, session_ms}));
  }
};

TEST_F(Sem, ProcessesOfThreadsNeverHoldMoreThanTheMaximum) {
  // 4 processes x 2 threads (8 contenders > 4 processes > 3 leases), 10 leases each, held long
  // enough (100 ms, several acquisitions even under a sanitizer) for others to overlap them.
  zkt::Contenders all;
  for (int i = 0; i < 4; ++i)
    all.add(zkt::sem::worker({"contend", zkt::hosts(), path, "curator", "3", "2", "10", "100000"}));
  ASSERT_TRUE(all.start());
  const auto holds = all.finish(240s);
  EXPECT_EQ(holds.size(), 80U);
  const auto r = zkt::check_semaphore(holds, 3);
  EXPECT_TRUE(r.ok()) << r.explain();
  EXPECT_GT(zkt::max_concurrent(holds), 1U) << "the leases were serialised";
  expect_nothing_left();
}

TEST_F(Sem, KilledHoldersAndWaitersLeaveNoOrphanLease) {
  Child holder = hold("2000");
  ASSERT_EQ(holder.wait_for("READY", 30s), "READY");
  ASSERT_EQ(holder.wait_for("HELD", 10s).substr(0, 4), "HELD");
  Child waiter = hold("2000");
  ASSERT_EQ(waiter.wait_for("READY", 30s), "READY");
  ASSERT_TRUE(zkt::wait_until([&] { return leases().size() == 2; }, 10s)) << "no waiting lease";
  zk::Semaphore pool(root.session(), path, 1);
  EXPECT_FALSE(pool.try_acquire_for(300ms)) << "a lease beyond the maximum";
  waiter.kill(SIGKILL);
  holder.kill(SIGKILL);
  const auto start = zk::Clock::now();
  auto lease = pool.try_acquire_for(15s);
  ASSERT_TRUE(lease);
  EXPECT_LT(zk::Clock::now() - start, 10s);
  EXPECT_EQ(leases().size(), 1U) << "a killed process's lease outlived its session";
  lease->release();
  expect_nothing_left();
}

TEST_F(Sem, AWaiterWhoseSessionExpiresWaitsAgainOnlyUnderTheLock) {
  // Max 1: H holds; A waits (holding the internal lock) and its session expires; B queues. Were A's
  // lease to queue again in its new session without the lock, B would take the lock and both would
  // wait for each other once H leaves (two waiting leases, one place).
  zk::Session hs(zkt::options());
  zk::Session as(zkt::options());
  zk::Session bs(zkt::options());
  zk::Semaphore h(hs, path, 1);
  zk::Semaphore a(as, path, 1);
  zk::Semaphore b(bs, path, 1);
  auto held = h.acquire(5s);
  const auto take = [](zk::Semaphore& pool) {
    return std::async(std::launch::async, [&pool] { return pool.acquire(40s).fencing_token(); });
  };
  auto from_a = take(a);
  ASSERT_TRUE(zkt::wait_until([&] { return leases().size() == 2; }, 10s)) << "A is not waiting";
  zkt::expire_session(as.client_id());
  auto from_b = take(b);
  ASSERT_TRUE(zkt::wait_until(
      [&] { return zkt::children(root.session(), path + "/locks").size() == 2; }, 15s))
      << "A and B are not both queued for the lock";
  held.release();
  ASSERT_EQ(from_a.wait_for(30s), std::future_status::ready) << "A never got a lease";
  ASSERT_EQ(from_b.wait_for(30s), std::future_status::ready) << "B never got a lease";
  EXPECT_NE(from_a.get(), from_b.get());
  expect_nothing_left();
}

TEST_F(Sem, AnExpiryWhileHoldingIsReportedAndFencedWritesAreRefused) {
  zk::Session s(zkt::options());
  std::atomic<int> lost{0};
  zk::SemaphoreOptions o;
  o.on_lost = [&](const zk::Error& e) {
    if (e.errc() == Errc::session_lost || e.errc() == Errc::lock_lost) ++lost;
  };
  zk::Semaphore pool(s, path, 2, o);
  zk::Lease lease = pool.acquire(10s);
  std::atomic<int> replaced{0};
  zk::Lease other = pool.acquire(10s);
  other.on_lost([&](const zk::Error&) { ++replaced; });
  const std::string data = root.path() + "/data";
  root.session().create(data, "");
  EXPECT_TRUE(lease.fenced({zk::Op::set(data, "1")}).ok());
  EXPECT_LT(lease.fencing_token(), other.fencing_token());
  zkt::expire_session(s.client_id());
  ASSERT_TRUE(zkt::wait_until([&] { return lost.load() == 1 && replaced.load() == 1; }, 20s))
      << "lost " << lost.load() << ", replaced callback " << replaced.load();
  EXPECT_FALSE(lease.held());
  EXPECT_EQ(zkt::code_of([&] { (void)lease.fenced({zk::Op::set(data, "2")}); }), Errc::lock_lost);
  EXPECT_EQ(zkt::code_of([&] { lease.release(); }), Errc::lock_lost);
  EXPECT_FALSE(lease.held());
  std::atomic<int> late{0};
  other.on_lost([&](const zk::Error&) { ++late; });
  EXPECT_TRUE(zkt::wait_until([&] { return late.load() == 1; }, 5s)) << "a loss told too late";
  // The semaphore works again on the new session.
  auto again = pool.try_acquire_for(10s);
  ASSERT_TRUE(again);
  EXPECT_EQ(zkt::data_of(root.session(), data), "1");
}

TEST_F(Sem, ATimeoutATryAndACancelLeaveNothing) {
  zk::Session other(zkt::options());
  zk::Semaphore full(other, path, 1);
  auto held = full.acquire(5s);
  zk::Semaphore pool(root.session(), path, 1);
  EXPECT_EQ(zkt::code_of([&] { (void)pool.acquire(300ms); }), Errc::deadline_exceeded);
  EXPECT_FALSE(pool.try_acquire());
  zk::CancelToken cancel;
  auto waiting = std::async(std::launch::async,
                            [&] { return zkt::code_of([&] { (void)pool.acquire(cancel); }); });
  ASSERT_TRUE(zkt::wait_until([&] { return leases().size() == 2; }, 5s));
  cancel.cancel();
  EXPECT_EQ(waiting.get(), Errc::cancelled);
  EXPECT_EQ(leases().size(), 1U);
  EXPECT_TRUE(zkt::children(root.session(), path + "/locks").empty())
      << "the internal lock outlived the cancelled acquisition";
  held.release();
  expect_nothing_left();
}

TEST_F(Sem, SeveralLeasesAreTakenAllOrNone) {
  zk::Session other(zkt::options());
  zk::Semaphore elsewhere(other, path, 3);
  auto two = elsewhere.acquire(2, 5s);
  ASSERT_EQ(two.size(), 2U);
  zk::Semaphore pool(root.session(), path, 3);
  EXPECT_EQ(zkt::code_of([&] { (void)pool.acquire(2, 300ms); }), Errc::deadline_exceeded);
  EXPECT_EQ(leases().size(), 2U) << "a partial acquisition kept a lease";
  two.pop_back(); // released
  auto mine = pool.acquire(2, 5s);
  EXPECT_EQ(mine.size(), 2U);
  EXPECT_NE(mine[0].fencing_token(), mine[1].fencing_token());
  two.clear();
  mine.clear();
  expect_nothing_left();
}

TEST_F(Sem, ASharedCountChangeWakesAWaiterAtOnce) {
  const std::string count = root.path() + "/size";
  root.session().create(count, std::string("\0\0\0\1", 4));
  zk::Semaphore pool(root.session(), path, zk::SharedMaxLeases{count});
  auto first = pool.acquire(5s);
  EXPECT_EQ(pool.max_leases(), 1);
  auto waiting = std::async(std::launch::async, [&] { return pool.acquire(20s); });
  // Its lease created and still waiting after 300 ms: it decided with the old count, so only the
  // change can wake it (the servers' wchp lists no children watches to wait for instead).
  ASSERT_TRUE(zkt::wait_until([&] { return leases().size() == 2; }, 5s));
  ASSERT_EQ(waiting.wait_for(300ms), std::future_status::timeout) << "a lease beyond the count";
  const auto start = zk::Clock::now();
  root.session().set(count, std::string("\0\0\0\2", 4));
  auto second = waiting.get();
  EXPECT_LT(zk::Clock::now() - start, 3s) << "the waiter slept through the change";
  EXPECT_TRUE(second.held());
  root.session().set(count, std::string("\0\0\0\1", 4)); // lowering ends no lease
  EXPECT_TRUE(zkt::wait_until([&] { return pool.max_leases() == 1; }, 5s));
  EXPECT_TRUE(first.held() && second.held());
  root.session().set(count, "garbage");
  second.release();
  EXPECT_TRUE(zkt::wait_until(
      [&] { return zkt::code_of([&] { (void)pool.try_acquire(); }) == Errc::bad_data; }, 5s));
  first.release();
  expect_nothing_left();
}

TEST_F(Sem, TheKazooProfileStoresItsMaximumAndRefusesAnother) {
  zk::SemaphoreOptions o;
  o.profile = zk::SemaphoreProfile::kazoo;
  zk::Semaphore pool(root.session(), path, 2, o);
  auto a = pool.acquire(5s);
  EXPECT_EQ(root.session().get(path)->data, "2");
  EXPECT_EQ(a.node_path().size(), path.size() + 1 + 32) << a.node_path();
  EXPECT_EQ(zkt::children(root.session(), path + "-__lock__").size(), 0U);
  zk::Semaphore other(root.session(), path, 3, o);
  EXPECT_EQ(zkt::code_of([&] { (void)other.try_acquire(); }), Errc::invalid_argument);
  a.release();
  EXPECT_TRUE(zkt::wait_until([&] { return zkt::children(root.session(), path).empty(); }, 10s));
}

// Asynchronous acquisitions: no thread waits, the completions run on the callback thread.

TEST_F(Sem, AsyncAcquisitionsWithoutThreadsNeverHoldMoreThanTheMaximum) {
  zk::Session other(zkt::options());
  zk::Semaphore elsewhere(other, path, 3);
  auto theirs = elsewhere.acquire(5s); // one of the three places stays taken: ours share two
  zk::Semaphore pool(root.session(), path, 3);
  constexpr int total = 30;
  // Shared with the completions: after an early failure they may run once this test is over.
  struct Shared {
    std::mutex m;
    std::condition_variable cv;
    std::deque<zk::Lease> held;
    std::vector<std::int64_t> tokens;
    int holding = 0, most = 0, failed = 0;
  };
  const auto shared = std::make_shared<Shared>();
  for (int i = 0; i < total; ++i) {
    pool.async_acquire(60s, zk::CancelToken(), [shared](std::error_code ec, zk::Lease lease) {
      std::lock_guard<std::mutex> l(shared->m);
      if (ec || !lease.held()) {
        ++shared->failed;
      } else {
        shared->most = std::max(shared->most, ++shared->holding);
        shared->tokens.push_back(lease.fencing_token());
        shared->held.push_back(std::move(lease));
      }
      shared->cv.notify_all();
    });
  }
  auto& m = shared->m;
  auto& cv = shared->cv;
  auto& held = shared->held;
  auto& tokens = shared->tokens;
  auto& holding = shared->holding;
  auto& most = shared->most;
  auto& failed = shared->failed;
  std::unique_lock<std::mutex> l(m);
  while (static_cast<int>(tokens.size()) + failed < total) {
    ASSERT_TRUE(cv.wait_for(l, 30s, [&] { return !held.empty(); }))
        << tokens.size() << " of " << total << " leases came";
    cv.wait_for(l, 20ms, [] { return false; }); // held a while, so that holds can overlap
    zk::Lease done = std::move(held.front());
    held.pop_front();
    --holding;
    l.unlock();
    done.release();
    l.lock();
  }
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(most, 2) << "more leases than the maximum at once, or never two";
  EXPECT_EQ(std::set<std::int64_t>(tokens.begin(), tokens.end()).size(), tokens.size());
  held.clear();
  l.unlock();
  theirs.release();
  expect_nothing_left();
}

TEST_F(Sem, AsyncAcquisitionsEndByDeadlineCancelOrTheSemaphoresEndAndLeaveNothing) {
  zk::Session other(zkt::options());
  zk::Semaphore full(other, path, 1);
  auto held = full.acquire(5s);
  zk::Semaphore pool(root.session(), path, 1);
  auto late = pool.async_acquire(300ms);
  EXPECT_EQ(zkt::code_of([&] { (void)late.get(); }), Errc::deadline_exceeded);
  zk::CancelToken cancel;
  auto waiting = pool.async_acquire(zk::Deadline(), cancel);
  // Our lease there (seen by our session, so its create was answered): we hold the lock.
  ASSERT_TRUE(zkt::wait_until([&] { return leases().size() == 2; }, 5s));
  cancel.cancel();
  EXPECT_EQ(zkt::code_of([&] { (void)waiting.get(); }), Errc::cancelled);
  EXPECT_TRUE(zkt::wait_until([&] { return leases().size() == 1; }, 5s)) << "a lease was left";
  EXPECT_TRUE(
      zkt::wait_until([&] { return zkt::children(root.session(), path + "/locks").empty(); }, 5s))
      << "the internal lock outlived the cancelled acquisition";
  std::promise<std::error_code> ended;
  {
    zk::Semaphore going(root.session(), path, 1);
    going.async_acquire([&](std::error_code ec, zk::Lease) { ended.set_value(ec); });
  }
  auto f = ended.get_future();
  ASSERT_EQ(f.wait_for(10s), std::future_status::ready) << "the Semaphore's end left it pending";
  EXPECT_EQ(f.get(), Errc::cancelled);
  EXPECT_EQ(zkt::code_of([&] { pool.async_acquire(zk::LeaseHandler()); }), Errc::invalid_argument);
  held.release();
  expect_nothing_left();
}

TEST_F(Sem, AnAsyncAcquisitionFollowsTheSharedCountAndTheKazooMaximum) {
  const std::string count = root.path() + "/size";
  {
    zk::Semaphore missing(root.session(), path, zk::SharedMaxLeases{count});
    EXPECT_EQ(zkt::code_of([&] { (void)missing.async_acquire(5s).get(); }), Errc::no_node);
  }
  root.session().create(count, std::string("\0\0\0\1", 4));
  zk::Semaphore pool(root.session(), path, zk::SharedMaxLeases{count});
  auto first = pool.async_acquire(5s).get();
  ASSERT_TRUE(first.held());
  auto second = pool.async_acquire(20s);
  ASSERT_TRUE(zkt::wait_until([&] { return leases().size() == 2; }, 5s));
  ASSERT_EQ(second.wait_for(300ms), std::future_status::timeout) << "a lease beyond the count";
  root.session().set(count, std::string("\0\0\0\2", 4));
  ASSERT_EQ(second.wait_for(5s), std::future_status::ready) << "the waiter slept through it";
  EXPECT_TRUE(second.get().held()); // released at once
  first.release();
  expect_nothing_left();

  zk::SemaphoreOptions o;
  o.profile = zk::SemaphoreProfile::kazoo;
  const std::string kazoo_path = root.path() + "/kazoo/pool"; // its parent does not exist yet
  zk::Semaphore kazoo(root.session(), kazoo_path, 2, o);
  auto a = kazoo.async_acquire(10s).get();
  ASSERT_TRUE(a.held());
  EXPECT_EQ(zkt::data_of(root.session(), kazoo_path), "2");
  zk::Semaphore another(root.session(), kazoo_path, 3, o);
  EXPECT_EQ(zkt::code_of([&] { (void)another.async_acquire(10s).get(); }), Errc::invalid_argument);
  a.release();
  EXPECT_TRUE(
      zkt::wait_until([&] { return zkt::children(root.session(), kazoo_path).empty(); }, 10s));
}

TEST_F(Sem, BadInputGetsTypedErrors) {
  EXPECT_EQ(zkt::code_of([&] { zk::Semaphore s(root.session(), "no-slash", 1); }),
            Errc::invalid_argument);
  EXPECT_EQ(zkt::code_of([&] { zk::Semaphore s(root.session(), "/", 1); }), Errc::invalid_argument);
  EXPECT_EQ(zkt::code_of([&] { zk::Semaphore s(root.session(), path, 0); }),
            Errc::invalid_argument);
  zk::SemaphoreOptions kazoo;
  kazoo.profile = zk::SemaphoreProfile::kazoo;
  EXPECT_EQ(zkt::code_of([&] {
              zk::Semaphore s(root.session(), path, zk::SharedMaxLeases{root.path() + "/n"}, kazoo);
            }),
            Errc::invalid_argument);
  zk::Semaphore pool(root.session(), path, 2);
  EXPECT_EQ(zkt::code_of([&] { (void)pool.acquire(0, 1s); }), Errc::invalid_argument);
  EXPECT_EQ(zkt::code_of([&] { (void)pool.acquire(3, 1s); }), Errc::invalid_argument);
  zk::Lease empty;
  EXPECT_FALSE(empty.held());
  EXPECT_EQ(zkt::code_of([&] { (void)empty.fencing_token(); }), Errc::lock_not_held);
  empty.release(); // nothing to do
  zk::Semaphore missing(root.session(), path, zk::SharedMaxLeases{root.path() + "/no-count"});
  EXPECT_EQ(zkt::code_of([&] { (void)missing.acquire(2s); }), Errc::no_node);
  zk::Semaphore moved(std::move(pool));
  EXPECT_EQ(zkt::code_of([&] { (void)pool.try_acquire(); }), Errc::invalid_argument);
  EXPECT_TRUE(moved.try_acquire());
}

} // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "--sem-worker")
    return zkt::sem::worker_main(std::vector<std::string>(argv + 2, argv + argc));
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
