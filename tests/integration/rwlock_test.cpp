// ReadWriteLock against the ensemble: processes × threads mixing readers and writers under the
// checker (no writer overlaps anyone, readers overlap, tokens ordered), downgrade with a writer
// queued, upgrade refused, foreign children, expiry and kill -9 while reading, timeouts and cancel
// leaving nothing, the Kazoo profile, contenders(). main() also runs the worker processes:
//
//   --rw-worker contend HOSTS PATH PROFILE THREADS COUNT HOLD_US WRITE_PERCENT
//       THREADS threads share one ReadWriteLock over one Session; each makes COUNT acquisitions,
//       a write with probability WRITE_PERCENT, and prints one zkt::HoldRecord line per hold
//       ("hold ..." for a write, "read ..." for a read), then "DONE".
//   --rw-worker hold HOSTS PATH read|write SESSION_MS
//       holds one side, prints "HELD <token>", releases on a line from stdin (or waits to be
//       killed).
// Prints "READY" once its session is connected; `contend` then starts on a line from stdin.
#include "rwlock_harness.hpp"

#include <zkrecipes/read_write_lock.hpp>

#include <gtest/gtest.h>

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <future>
#include <iostream>
#include <mutex>
#include <random>
#include <shared_mutex>
#include <sstream>
#include <thread>

using namespace std::chrono_literals;
using zk::Errc;

namespace zkt::rw {

zk::ReadWriteProfile profile_named(const std::string& name) {
  return name == "kazoo" ? zk::ReadWriteProfile::kazoo : zk::ReadWriteProfile::curator;
}

std::vector<std::string> worker(const std::vector<std::string>& args) {
  return with({self_exe(), "--rw-worker"}, args);
}

namespace {

int contend(zk::Session& session, const std::string& path, zk::ReadWriteProfile profile,
            int threads, int count, int hold_us, int write_percent) {
  zk::ReadWriteLockOptions o;
  o.profile = profile;
  o.lock.container_parent = false; // Kazoo 2.8 peers trip over a reaped container
  zk::ReadWriteLock rw(session, path, o);
  std::mutex m;
  std::ostringstream out;
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      std::mt19937 rng(static_cast<unsigned>(this_process() * 31 + t));
      std::vector<std::string> lines;
      for (int i = 0; i < count; ++i) {
        const bool write = static_cast<int>(rng() % 100) < write_percent;
        HoldRecord r;
        const auto spin = [&] {
          r.enter_ns = monotonic_ns();
          while (monotonic_ns() - r.enter_ns < std::int64_t{hold_us} * 1000) {
          }
          r.exit_ns = monotonic_ns();
        };
        if (write) {
          std::unique_lock<zk::ReadWriteLock::Writer> w(rw.writer());
          r.token = rw.writer().fencing_token();
          spin();
        } else {
          std::shared_lock<zk::ReadWriteLock::Reader> rd(rw.reader());
          r.token = rw.reader().fencing_token();
          spin();
          r.shared = true;
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
  for (auto& th : pool)
    th.join();
  std::cout << out.str() << "DONE" << std::endl;
  return 0;
}

int hold(zk::Session& session, const std::string& path, bool write) {
  zk::ReadWriteLock rw(session, path);
  std::int64_t token = 0;
  if (write) {
    rw.writer().lock();
    token = rw.writer().fencing_token();
  } else {
    rw.reader().lock_shared();
    token = rw.reader().fencing_token();
  }
  std::cout << "HELD " << token << std::endl;
  std::string line;
  std::getline(std::cin, line);
  return 0;
}

int worker_main(const std::vector<std::string>& a) {
  try {
    if (a.size() == 8 && a[0] == "contend") {
      zk::SessionOptions o = options(6s);
      o.hosts = a[1];
      zk::Session session(o);
      std::cout << "READY" << std::endl;
      std::string go;
      std::getline(std::cin, go);
      return contend(session, a[2], profile_named(a[3]), std::stoi(a[4]), std::stoi(a[5]),
                     std::stoi(a[6]), std::stoi(a[7]));
    }
    if (a.size() == 5 && a[0] == "hold") {
      zk::SessionOptions o = options(std::chrono::milliseconds(std::stoi(a[4])));
      o.hosts = a[1];
      zk::Session session(o);
      std::cout << "READY" << std::endl;
      return hold(session, a[2], a[3] == "write");
    }
  } catch (const std::exception& e) {
    std::cerr << "rw worker: " << e.what() << std::endl;
    return 1;
  }
  std::cerr << "rw worker: bad arguments" << std::endl;
  return 2;
}

} // namespace
} // namespace zkt::rw

namespace {

using zkt::Child;

class Rw : public ::testing::Test {
protected:
  zkt::RootGuard root{"rwlock"};
  const std::string path = root.path() + "/lock";

  // Every node and watch of a test gone (the lock's children, the servers' watches).
  void expect_nothing_left() {
    EXPECT_TRUE(zkt::wait_until([&] { return zkt::children(root.session(), path).empty(); }, 10s))
        << "a node was left behind";
    EXPECT_TRUE(zkt::wait_until([&] { return zkt::watches_under(path) == 0; }, 10s))
        << "a watch was left behind";
  }
};

TEST_F(Rw, ProcessesOfThreadsMixingReadersAndWritersNeverOverlapAWriter) {
  zkt::Contenders all;
  for (int i = 0; i < 4; ++i)
    all.add(zkt::rw::worker({"contend", zkt::hosts(), path, "curator", "2", "40", "2000", "30"}));
  ASSERT_TRUE(all.start());
  const auto holds = all.finish(120s);
  ASSERT_EQ(holds.size(), 4U * 2 * 40);
  const auto r = zkt::check_read_write(holds);
  EXPECT_TRUE(r.ok()) << r.explain();
  EXPECT_GT(zkt::max_concurrent_readers(holds), 1U) << "readers were serialised";
  EXPECT_TRUE(std::any_of(holds.begin(), holds.end(), [](const auto& h) { return !h.shared; }))
      << "no writer in the run";
  expect_nothing_left();
}

TEST_F(Rw, ADowngradeKeepsAQueuedWriterOutWhileOtherReadersJoin) {
  zk::Session a(zkt::options());
  zk::Session b(zkt::options());
  zk::Session c(zkt::options());
  zk::ReadWriteLock ours(a, path);
  zk::ReadWriteLock other(b, path);
  zk::ReadWriteLock third(c, path);
  ASSERT_TRUE(ours.writer().try_lock_for(5s));
  const auto write_token = ours.writer().fencing_token();
  std::int64_t other_token = 0;
  auto queued = std::async(std::launch::async, [&] {
    const bool ok = other.writer().try_lock_for(20s);
    if (ok) {
      other_token = other.writer().fencing_token();
      other.writer().unlock(); // a side's unlock ends the calling thread's hold
    }
    return ok;
  });
  ASSERT_TRUE(zkt::wait_until([&] { return zkt::children(a, path).size() == 2; }, 5s));
  ours.writer().downgrade();
  EXPECT_FALSE(ours.writer().owns_lock());
  ASSERT_TRUE(ours.reader().owns_lock());
  EXPECT_EQ(ours.reader().fencing_token(), write_token) << "a downgrade keeps the token";
  EXPECT_EQ(queued.wait_for(500ms), std::future_status::timeout)
      << "the queued writer slipped in at the downgrade";
  // A reader queued after the writer waits for it (no reader overtakes a writer)...
  EXPECT_FALSE(third.reader().try_lock_shared_for(300ms));
  const auto listed = zk::ReadWriteLock::contenders(a, path);
  ASSERT_EQ(listed.size(), 2U);
  EXPECT_TRUE(listed[0].holder) << "our downgraded read node holds";
  EXPECT_FALSE(listed[1].holder);
  ours.reader().unlock_shared();
  ASSERT_TRUE(queued.get());
  EXPECT_GT(other_token, write_token);
  expect_nothing_left();
}

TEST_F(Rw, AnUpgradeAndAReadWhileWritingAreRefusedNotDeadlocked) {
  zk::ReadWriteLock rw(root.session(), path);
  rw.reader().lock_shared();
  EXPECT_EQ(zkt::code_of([&] { rw.writer().lock(); }), Errc::would_deadlock);
  EXPECT_EQ(zkt::code_of([&] { rw.reader().lock_shared(); }), Errc::would_deadlock)
      << "a thread reading again would wait for itself behind a writer";
  // Another thread of the process reads along on the same node.
  std::async(std::launch::async, [&] {
    EXPECT_TRUE(rw.reader().try_lock_shared_for(2s));
    rw.reader().unlock_shared();
  }).get();
  rw.reader().unlock_shared();
  EXPECT_EQ(zkt::code_of([&] { rw.writer().downgrade(); }), Errc::lock_not_held);
  rw.writer().lock();
  EXPECT_EQ(zkt::code_of([&] { rw.reader().lock_shared(); }), Errc::would_deadlock);
  rw.writer().unlock();
  expect_nothing_left();
}

TEST_F(Rw, AChildOfAnotherFormFailsFast) {
  root.session().create(path, "");
  root.session().create(path + "/_c_0f8fad5b-d9cb-469f-a165-70867728950e-lock-0000000001", "");
  zk::ReadWriteLock rw(root.session(), path);
  std::string why;
  EXPECT_EQ(zkt::code_of([&] { (void)rw.reader().try_lock_shared_for(5s); }, &why),
            Errc::foreign_node);
  EXPECT_NE(why.find("-lock-"), std::string::npos) << why;
  EXPECT_EQ(zkt::code_of([&] { (void)rw.writer().try_lock_for(5s); }), Errc::foreign_node);
  EXPECT_EQ(zkt::children(root.session(), path).size(), 1U) << "our node was left";
}

TEST_F(Rw, AnExpiryWhileReadingIsReportedAndFencedWritesAreRefused) {
  zk::Session s(zkt::options());
  std::atomic<int> lost{0};
  zk::ReadWriteLockOptions o;
  o.lock.on_lost = [&](const zk::Error& e) {
    if (e.errc() == Errc::session_lost || e.errc() == Errc::lock_lost) ++lost;
  };
  zk::ReadWriteLock rw(s, path, o);
  rw.reader().lock_shared();
  const std::string data = root.path() + "/data";
  root.session().create(data, "");
  EXPECT_TRUE(rw.reader().fenced({zk::Op::set(data, "1")}).ok());
  zkt::expire_session(s.client_id());
  ASSERT_TRUE(zkt::wait_until([&] { return lost.load() == 1; }, 20s)) << "no loss reported";
  EXPECT_FALSE(rw.reader().owns_lock());
  EXPECT_EQ(zkt::code_of([&] { (void)rw.reader().fenced({zk::Op::set(data, "2")}); }),
            Errc::lock_lost);
  EXPECT_EQ(zkt::code_of([&] { rw.reader().release_shared(); }), Errc::lock_lost);
  // The lock works again on the new session.
  ASSERT_TRUE(rw.writer().try_lock_for(10s));
  rw.writer().unlock();
  EXPECT_EQ(zkt::data_of(root.session(), data), "1");
}

TEST_F(Rw, AKilledReaderFreesAWaitingWriterWithinItsSessionTimeout) {
  Child reader(zkt::rw::worker({"hold", zkt::hosts(), path, "read", "2000"}));
  ASSERT_EQ(reader.wait_for("READY", 30s), "READY");
  ASSERT_EQ(reader.wait_for("HELD", 10s).substr(0, 4), "HELD");
  zk::ReadWriteLock rw(root.session(), path);
  EXPECT_FALSE(rw.writer().try_lock_for(300ms)) << "wrote while a reader held";
  reader.kill(SIGKILL);
  const auto start = zk::Clock::now();
  ASSERT_TRUE(rw.writer().try_lock_for(15s));
  EXPECT_LT(zk::Clock::now() - start, 10s);
  rw.writer().unlock();
  expect_nothing_left();
}

TEST_F(Rw, ATimeoutAndACancelLeaveNoNodeAndNoWatch) {
  zk::Session other(zkt::options());
  zk::ReadWriteLock holder(other, path);
  ASSERT_TRUE(holder.writer().try_lock_for(5s));
  zk::ReadWriteLock rw(root.session(), path);
  EXPECT_FALSE(rw.reader().try_lock_shared_for(300ms));
  EXPECT_FALSE(rw.writer().try_lock());
  zk::CancelToken cancel;
  auto waiting = std::async(std::launch::async,
                            [&] { return zkt::code_of([&] { rw.reader().lock_shared(cancel); }); });
  ASSERT_TRUE(zkt::wait_until([&] { return zkt::children(other, path).size() == 2; }, 5s));
  cancel.cancel();
  EXPECT_EQ(waiting.get(), Errc::cancelled);
  EXPECT_EQ(zkt::children(other, path).size(), 1U);
  holder.writer().unlock();
  expect_nothing_left();
}

// The asynchronous sides: waits that no thread makes, ended by guards.

TEST_F(Rw, AsyncReadersReadTogetherWithoutThreadsAndAnAsyncWriterWaitsForTheLast) {
  zk::Session other(zkt::options());
  zk::ReadWriteLock holder(other, path);
  ASSERT_TRUE(holder.writer().try_lock_for(5s));
  const auto writer_token = holder.writer().fencing_token();
  // Shared with the completions: after an early failure they may run once this test is over.
  struct Shared {
    std::mutex m;
    std::condition_variable cv;
    std::vector<zk::LockGuard> guards;
    std::vector<std::error_code> errors;
  };
  const auto shared = std::make_shared<Shared>();
  auto& m = shared->m;
  auto& cv = shared->cv;
  auto& guards = shared->guards;
  auto& errors = shared->errors;
  zk::ReadWriteLock rw(root.session(), path);
  constexpr std::size_t readers = 20;
  for (std::size_t i = 0; i < readers; ++i) {
    rw.reader().async_lock_shared(20s, zk::CancelToken(),
                                  [shared](std::error_code ec, zk::LockGuard g) {
                                    std::lock_guard<std::mutex> l(shared->m);
                                    if (ec) shared->errors.push_back(ec);
                                    if (!ec) shared->guards.push_back(std::move(g));
                                    shared->cv.notify_all();
                                  });
  }
  const auto all_in = [&] { return guards.size() + errors.size() == readers; };
  ASSERT_TRUE(zkt::wait_until([&] { return zkt::children(other, path).size() == 2; }, 5s))
      << "the waiting readers did not queue one read node behind the writer";
  {
    std::unique_lock<std::mutex> l(m);
    EXPECT_FALSE(cv.wait_for(l, 300ms, [&] { return !guards.empty(); })) << "read while written";
  }
  holder.writer().unlock();
  {
    std::unique_lock<std::mutex> l(m);
    ASSERT_TRUE(cv.wait_for(l, 20s, all_in)) << guards.size() << " of " << readers << " read";
  }
  EXPECT_TRUE(errors.empty());
  ASSERT_EQ(guards.size(), readers) << "not every async reader read";
  for (const auto& g : guards) {
    EXPECT_TRUE(g.owns_lock());
    EXPECT_EQ(g.fencing_token(), guards.front().fencing_token()) << "one read node for all";
  }
  const auto read_token = guards.front().fencing_token();
  EXPECT_GT(read_token, writer_token);

  auto writing = rw.writer().async_lock(20s);
  ASSERT_TRUE(zkt::wait_until([&] { return zkt::children(other, path).size() == 2; }, 5s))
      << "our writer did not queue behind our readers";
  EXPECT_EQ(writing.wait_for(300ms), std::future_status::timeout) << "wrote while read";
  EXPECT_FALSE(holder.reader().try_lock_shared()) << "a reader elsewhere overtook our writer";
  for (std::size_t i = 0; i + 1 < readers; ++i) {
    guards[i].release();
    EXPECT_FALSE(guards[i].owns_lock());
    EXPECT_TRUE(guards.back().owns_lock()) << "a guard's release ended another's read";
  }
  EXPECT_EQ(writing.wait_for(300ms), std::future_status::timeout) << "wrote while one read";
  guards.back().release();
  ASSERT_EQ(writing.wait_for(20s), std::future_status::ready);
  zk::LockGuard w = writing.get();
  EXPECT_GT(w.fencing_token(), read_token);
  EXPECT_FALSE(holder.reader().try_lock_shared()) << "read elsewhere while our guard writes";
  w.release();
  expect_nothing_left();
}

TEST_F(Rw, AsyncWaitsOfBothSidesEndByDeadlineCancelOrTheLocksEndAndLeaveNothing) {
  zk::Session other(zkt::options());
  zk::ReadWriteLock holder(other, path);
  ASSERT_TRUE(holder.writer().try_lock_for(5s));
  zk::ReadWriteLock rw(root.session(), path);
  auto reading = rw.reader().async_lock_shared(300ms);
  EXPECT_EQ(zkt::code_of([&] { reading.get(); }), Errc::deadline_exceeded);
  zk::CancelToken cancel;
  auto writing = rw.writer().async_lock(zk::Deadline(), cancel);
  // Seen by our session: the reader's node gone, our writer's create answered (see async.hpp).
  ASSERT_TRUE(zkt::wait_until([&] { return zkt::children(root.session(), path).size() == 2; }, 5s));
  cancel.cancel();
  EXPECT_EQ(zkt::code_of([&] { writing.get(); }), Errc::cancelled);
  // The deletion was sent before the completion ran: our session's next request finds it done.
  EXPECT_EQ(zkt::children(root.session(), path).size(), 1U) << "a node outlived its async wait";
  std::promise<std::error_code> ended;
  {
    zk::ReadWriteLock going(root.session(), path);
    going.reader().async_lock_shared(
        [&](std::error_code ec, zk::LockGuard) { ended.set_value(ec); });
  }
  auto f = ended.get_future();
  ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(f.get(), Errc::cancelled);
  EXPECT_EQ(zkt::code_of([&] { rw.reader().async_lock_shared(zk::LockHandler()); }),
            Errc::invalid_argument);
  holder.writer().unlock();
  expect_nothing_left();
}

TEST_F(Rw, AnAsyncWriteHoldIsNoThreadsSoOnlyItsGuardEndsIt) {
  zk::ReadWriteLock rw(root.session(), path);
  zk::LockGuard g = rw.writer().async_lock(10s).get();
  ASSERT_TRUE(g.owns_lock());
  rw.writer().unlock(); // this thread holds nothing through rw
  EXPECT_TRUE(g.owns_lock()) << "a thread's unlock ended the guard's hold";
  EXPECT_EQ(zkt::code_of([&] { rw.writer().downgrade(); }), Errc::lock_not_held);
  EXPECT_TRUE(g.owns_lock()) << "a refused downgrade ended the guard's hold";
  zk::Session other(zkt::options());
  zk::ReadWriteLock elsewhere(other, path);
  EXPECT_FALSE(elsewhere.reader().try_lock_shared_for(200ms)) << "read while our guard writes";
  g.release();
  EXPECT_TRUE(elsewhere.reader().try_lock_shared_for(5s));
  elsewhere.reader().unlock_shared();
  // A guard may outlive its lock object: the object's end ended the hold.
  zk::LockGuard kept;
  {
    zk::ReadWriteLock going(root.session(), path);
    kept = going.reader().async_lock_shared(10s).get();
    ASSERT_TRUE(kept.owns_lock());
  }
  EXPECT_FALSE(kept.owns_lock());
  EXPECT_EQ(zkt::code_of([&] { (void)kept.fencing_token(); }), Errc::lock_not_held);
  kept.release(); // nothing left to end
  expect_nothing_left();
}

TEST_F(Rw, TheKazooProfileSharesReadersAndRefusesCuratorNodes) {
  zk::ReadWriteLockOptions o;
  o.profile = zk::ReadWriteProfile::kazoo;
  zk::Session s2(zkt::options());
  zk::ReadWriteLock a(root.session(), path, o);
  zk::ReadWriteLock b(s2, path, o);
  a.reader().lock_shared();
  ASSERT_TRUE(b.reader().try_lock_shared_for(5s)) << "two sessions' readers did not share";
  const auto kids = zkt::children(root.session(), path);
  ASSERT_EQ(kids.size(), 2U);
  for (const auto& k : kids)
    EXPECT_NE(k.find("__rlock__"), std::string::npos) << k;
  EXPECT_FALSE(std::async(std::launch::async, [&] { return b.writer().try_lock_for(200ms); }).get())
      << "another thread wrote while two readers held";
  zk::ReadWriteLock curator(s2, path); // the other profile on the same path
  EXPECT_EQ(zkt::code_of([&] { (void)curator.writer().try_lock_for(2s); }), Errc::foreign_node);
  a.reader().unlock_shared();
  b.reader().unlock_shared();
  ASSERT_TRUE(b.writer().try_lock_for(5s));
  EXPECT_NE(b.writer().node_path().find("__lock__"), std::string::npos);
  b.writer().unlock();
  expect_nothing_left();
}

TEST_F(Rw, BadInputGetsTypedErrors) {
  EXPECT_EQ(zkt::code_of([&] { zk::ReadWriteLock rw(root.session(), "no-slash"); }),
            Errc::invalid_argument);
  EXPECT_EQ(zkt::code_of([&] { zk::ReadWriteLock rw(root.session(), "/"); }),
            Errc::invalid_argument);
  zk::ReadWriteLock rw(root.session(), path);
  EXPECT_EQ(zkt::code_of([&] { (void)rw.reader().fencing_token(); }), Errc::lock_not_held);
  EXPECT_EQ(zkt::code_of([&] { rw.writer().release(); }), Errc::lock_not_held);
  zk::ReadWriteLock moved(std::move(rw));
  EXPECT_EQ(zkt::code_of([&] { rw.writer().lock(); }), Errc::invalid_argument);
  EXPECT_FALSE(rw.reader().owns_lock());
  ASSERT_TRUE(moved.reader().try_lock_shared());
  moved.reader().unlock_shared();
}

} // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "--rw-worker")
    return zkt::rw::worker_main(std::vector<std::string>(argv + 2, argv + argc));
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
