// DistributedLock against the ensemble: acquire/release, try_lock semantics, timeouts that leave no
// node and no watch, fencing, bad input, introspection, foreign and unrecognised children.
#include "lock_harness.hpp"
#include "support/recorder.hpp"

#include <gtest/gtest.h>

#include <future>
#include <mutex>
#include <thread>

using namespace std::chrono_literals;
using zk::DistributedLock;
using zk::Errc;

namespace {

using zkt::lock::child_count;

TEST(Lock, LockAndUnlock) {
  zkt::RootGuard root("lock-basic");
  const std::string path = root.path() + "/a/b";
  DistributedLock lock(root.session(), path);
  EXPECT_FALSE(lock.owns_lock());
  lock.lock();
  EXPECT_TRUE(lock.owns_lock());
  EXPECT_FALSE(lock.uncertain());
  const auto node = lock.node_path();
  const auto got = root.session().get(node);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->stat.czxid, lock.fencing_token());
  EXPECT_EQ(got->stat.ephemeral_owner, root.session().session_id());
  EXPECT_NE(got->data.find(':'), std::string::npos) << got->data; // host:pid
  EXPECT_EQ(node.rfind(path + "/_c_", 0), 0U) << node;
  lock.unlock();
  EXPECT_FALSE(lock.owns_lock());
  EXPECT_FALSE(root.session().exists(node)); // deleted before unlock() returned
  EXPECT_EQ(zkt::code_of([&] { (void)lock.fencing_token(); }), Errc::lock_not_held);
}

TEST(Lock, ZeroAndForeverTimeoutsBehaveLikeStdTimedMutex) {
  using namespace std::chrono;
  zkt::RootGuard root("lock-timeouts");
  DistributedLock lock(root.session(), root.path() + "/l");
  // A non-positive timeout, or a time already passed, is one try_lock(), not a refusal.
  EXPECT_TRUE(lock.try_lock_for(0ms));
  lock.unlock();
  EXPECT_TRUE(lock.try_lock_for(-1s));
  lock.unlock();
  EXPECT_TRUE(lock.try_lock_until(steady_clock::now()));
  lock.unlock();
  EXPECT_TRUE(lock.try_lock_until(system_clock::now() - 1s));
  lock.unlock();
  {
    std::unique_lock<DistributedLock> guard(lock, 0ms);
    EXPECT_TRUE(guard.owns_lock());
  }
  // "Forever" in any representation waits (here: acquires a free lock), never expires at once.
  EXPECT_TRUE(lock.try_lock_for(hours::max()));
  lock.unlock();
  EXPECT_TRUE(lock.try_lock_for(nanoseconds::max()));
  lock.unlock();
  EXPECT_TRUE(lock.try_lock_for(duration<double>(1e10)));
  lock.unlock();
  EXPECT_TRUE(lock.try_lock_until(system_clock::time_point::max()));
  lock.unlock();

  // On a held lock, a zero timeout fails at once and leaves no node behind.
  zk::Session other(zkt::options());
  DistributedLock b(other, root.path() + "/l");
  ASSERT_TRUE(lock.try_lock());
  EXPECT_FALSE(b.try_lock_for(0ms));
  EXPECT_EQ(child_count(root.session(), root.path() + "/l"), 1U);
}

TEST(Lock, TryLockOnAHeldLockFailsAndLeavesNothing) {
  zkt::RootGuard root("lock-try");
  const std::string path = root.path() + "/l";
  zk::Session other(zkt::options());
  DistributedLock a(root.session(), path);
  DistributedLock b(other, path);
  ASSERT_TRUE(a.try_lock());
  // The holder watches its own node (to notice its deletion): that one watch is expected.
  ASSERT_TRUE(zkt::wait_until([&] { return zkt::lock::watches_under(path) == 1; }, 5s));
  const std::size_t before = 1;
  EXPECT_FALSE(b.try_lock());
  EXPECT_EQ(child_count(root.session(), path), 1U);

  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(b.try_lock_for(300ms));
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, 300ms);
  EXPECT_LT(took, 3s);
  EXPECT_EQ(child_count(root.session(), path), 1U);                         // b's node is gone
  EXPECT_EQ(zkt::lock::watches_under(path), before);                        // and so is its watch
  EXPECT_FALSE(b.try_lock_until(std::chrono::system_clock::now() + 100ms)); // another clock
  EXPECT_EQ(child_count(root.session(), path), 1U);

  a.unlock();
  EXPECT_TRUE(b.try_lock());
  b.unlock();
  EXPECT_EQ(child_count(root.session(), path), 0U);
}

TEST(Lock, WaiterAcquiresWhenTheHolderReleases) {
  zkt::RootGuard root("lock-wait");
  const std::string path = root.path() + "/l";
  zk::Session other(zkt::options());
  DistributedLock a(root.session(), path);
  DistributedLock b(other, path);
  a.lock();
  const auto token_a = a.fencing_token();
  auto waiter = std::async(std::launch::async, [&] {
    b.lock();
    return b.fencing_token();
  });
  ASSERT_TRUE(zkt::wait_until([&] { return child_count(root.session(), path) == 2; }, 10s));
  EXPECT_EQ(waiter.wait_for(200ms), std::future_status::timeout); // still excluded
  a.unlock();
  ASSERT_EQ(waiter.wait_for(10s), std::future_status::ready);
  EXPECT_GT(waiter.get(), token_a);
  b.unlock();
}

TEST(Lock, WaitersWatchOnlyTheirPredecessor) {
  zkt::RootGuard root("lock-herd");
  const std::string path = root.path() + "/l";
  DistributedLock holder(root.session(), path);
  holder.lock();
  constexpr int waiters = 4;
  std::vector<std::unique_ptr<zk::Session>> sessions;
  std::vector<std::unique_ptr<DistributedLock>> locks;
  std::vector<std::future<bool>> results;
  for (int i = 0; i < waiters; ++i) {
    sessions.push_back(std::make_unique<zk::Session>(zkt::options()));
    locks.push_back(std::make_unique<DistributedLock>(*sessions.back(), path));
    // One at a time, so each waits behind the previous.
    results.push_back(std::async(std::launch::async, [l = locks.back().get()] {
      if (!l->try_lock_for(20s)) return false;
      l->unlock();
      return true;
    }));
    ASSERT_TRUE(
        zkt::wait_until([&] { return child_count(root.session(), path) == size_t(i) + 2; }, 10s));
  }
  // One watch per waiter (on its predecessor) plus the holder's watch on its own node: no herd.
  ASSERT_TRUE(zkt::wait_until([&] { return zkt::lock::watches_under(path) == waiters + 1; }, 5s))
      << zkt::lock::watches_under(path);
  const auto contenders = DistributedLock::contenders(root.session(), path);
  ASSERT_EQ(contenders.size(), size_t(waiters) + 1);
  EXPECT_TRUE(contenders.front().holder);
  EXPECT_EQ(root.session().get(holder.node_path())->stat.czxid, contenders.front().czxid);
  for (std::size_t i = 1; i < contenders.size(); ++i) {
    EXPECT_FALSE(contenders[i].holder);
    EXPECT_GT(*contenders[i].sequence, *contenders[i - 1].sequence);
  }
  holder.unlock();
  for (auto& r : results)
    EXPECT_TRUE(r.get());
  EXPECT_EQ(child_count(root.session(), path), 0U);
  EXPECT_TRUE(zkt::wait_until([&] { return zkt::lock::watches_under(path) == 0; }, 5s));
}

TEST(Lock, FencingTokensIncreaseAcrossSessions) {
  zkt::RootGuard root("lock-fence");
  const std::string path = root.path() + "/l";
  zk::Session other(zkt::options());
  DistributedLock a(root.session(), path);
  DistributedLock b(other, path);
  std::int64_t last = 0;
  for (int i = 0; i < 10; ++i) {
    DistributedLock& l = i % 2 ? a : b;
    std::lock_guard<DistributedLock> g(l);
    EXPECT_GT(l.fencing_token(), last);
    last = l.fencing_token();
  }
}

TEST(Lock, FencedWritesCommitOnlyWhileHeld) {
  zkt::RootGuard root("lock-fenced");
  const std::string path = root.path() + "/l";
  const std::string resource = root.path() + "/resource";
  root.session().create(resource, "0");
  zkt::Recorder<zk::Errc> lost;
  zk::LockOptions o;
  o.on_lost = [&](const zk::Error& e) { lost.push(e.errc()); };
  DistributedLock lock(root.session(), path, o);
  EXPECT_EQ(zkt::code_of([&] { (void)lock.fenced({zk::Op::set(resource, "x")}); }),
            Errc::lock_not_held);
  lock.lock();
  const auto r = lock.fenced({zk::Op::set(resource, std::to_string(lock.fencing_token()))});
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r.results.size(), 1U);
  EXPECT_EQ(root.session().get(resource)->data, std::to_string(lock.fencing_token()));
  // A failing op of ours is reported with its own index.
  const auto bad = lock.fenced({zk::Op::set(resource, "y"), zk::Op::check(resource, 99)});
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.failed_op(), 1U);

  // Someone deletes our node: the fenced write is refused and the loss is reported.
  const std::string node = lock.node_path();
  zk::Session admin(zkt::options());
  admin.remove(node);
  ASSERT_TRUE(lost.wait_count(1, 10s));
  EXPECT_EQ(lost.items().front(), Errc::lock_lost);
  EXPECT_FALSE(lock.owns_lock());
  EXPECT_EQ(zkt::code_of([&] { (void)lock.fenced({zk::Op::set(resource, "stale")}); }),
            Errc::lock_lost);
  EXPECT_EQ(zkt::code_of([&] { lock.release(); }), Errc::lock_lost); // acknowledged once
  EXPECT_EQ(zkt::code_of([&] { lock.release(); }), Errc::lock_not_held);
  EXPECT_NE(root.session().get(resource)->data, "stale");
}

TEST(Lock, BadInputIsTyped) {
  zkt::RootGuard root("lock-bad");
  auto& s = root.session();
  EXPECT_EQ(zkt::code_of([&] { DistributedLock l(s, "no-slash"); }), Errc::invalid_argument);
  EXPECT_EQ(zkt::code_of([&] { DistributedLock l(s, "/trailing/"); }), Errc::invalid_argument);
  EXPECT_EQ(zkt::code_of([&] { DistributedLock l(s, "/"); }), Errc::invalid_argument);
  DistributedLock lock(s, root.path() + "/l");
  EXPECT_EQ(zkt::code_of([&] { lock.release(); }), Errc::lock_not_held);
  lock.unlock(); // not held: nothing happens
  lock.lock();
  EXPECT_EQ(zkt::code_of([&] { lock.lock(); }), Errc::would_deadlock);
  EXPECT_EQ(zkt::code_of([&] { (void)lock.try_lock(); }), Errc::would_deadlock);
  DistributedLock same_path(s, root.path() + "/l"); // this thread holds the path already
  EXPECT_EQ(zkt::code_of([&] { (void)same_path.try_lock_for(1s); }), Errc::would_deadlock);
  lock.release();

  zk::Session closing(zkt::options());
  DistributedLock orphan(closing, root.path() + "/l");
  closing.close();
  EXPECT_EQ(zkt::code_of([&] { orphan.lock(); }), Errc::session_closed);
  EXPECT_EQ(zkt::code_of([&] { DistributedLock l(closing, root.path() + "/l"); }),
            Errc::session_closed);
  DistributedLock moved(std::move(lock));
  EXPECT_EQ(zkt::code_of([&] { lock.lock(); }),
            Errc::invalid_argument); // NOLINT(bugprone-use-after-move)
}

TEST(Lock, BlockingFromTheCallbackThreadIsRefused) {
  zkt::RootGuard root("lock-thread");
  DistributedLock lock(root.session(), root.path() + "/l");
  std::promise<Errc> result;
  root.session().get_async(root.path(), [&](zk::Result<zk::NodeData>) {
    result.set_value(zkt::code_of([&] { lock.lock(); }));
  });
  auto f = result.get_future();
  ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(f.get(), Errc::wrong_thread);
}

TEST(Lock, DestroyingAHeldLockReleasesIt) {
  zkt::RootGuard root("lock-dtor");
  const std::string path = root.path() + "/l";
  std::string node;
  {
    DistributedLock lock(root.session(), path);
    lock.lock();
    node = lock.node_path();
  }
  EXPECT_FALSE(root.session().exists(node));
  zk::Session other(zkt::options());
  DistributedLock b(other, path);
  EXPECT_TRUE(b.try_lock());
}

TEST(Lock, StdLockTypesWork) {
  zkt::RootGuard root("lock-std");
  DistributedLock a(root.session(), root.path() + "/a");
  DistributedLock b(root.session(), root.path() + "/b");
  std::mutex m;
  {
    std::scoped_lock both(a, b, m);
    EXPECT_TRUE(a.owns_lock());
    EXPECT_TRUE(b.owns_lock());
  }
  EXPECT_FALSE(a.owns_lock());
  std::unique_lock<DistributedLock> u(a, 2s);
  EXPECT_TRUE(u.owns_lock());
}

TEST(Lock, ThreadsOfOneProcessShareOneNodeAndHandOver) {
  zkt::RootGuard root("lock-local");
  const std::string path = root.path() + "/l";
  for (const std::size_t handoffs : {std::size_t{8}, std::size_t{0}}) {
    zk::LockOptions o;
    o.max_local_handoffs = handoffs;
    o.max_local_hold = 10s;
    DistributedLock a(root.session(), path, o);
    DistributedLock b(root.session(), path, o);
    a.lock();
    const auto first = a.fencing_token();
    auto waiter = std::async(std::launch::async, [&] {
      b.lock();
      const auto t = b.fencing_token();
      b.unlock();
      return t;
    });
    EXPECT_EQ(waiter.wait_for(300ms), std::future_status::timeout);
    EXPECT_EQ(child_count(root.session(), path), 1U); // one node for the whole process
    a.unlock();
    ASSERT_EQ(waiter.wait_for(10s), std::future_status::ready);
    if (handoffs > 0)
      EXPECT_EQ(waiter.get(), first) << "handed over locally: same node";
    else
      EXPECT_GT(waiter.get(), first) << "released globally: a new node";
    EXPECT_EQ(child_count(root.session(), path), 0U);
  }
}

TEST(Lock, UnrecognisedChildBlocksAndIsNamed) {
  zkt::RootGuard root("lock-foreign");
  const std::string path = root.path() + "/l";
  root.session().ensure_path(path);
  root.session().create(path + "/leftover-node", "?");
  zkt::Recorder<std::string> log;
  zk::SessionOptions so = zkt::options();
  so.log_sink = [&](zk::LogLevel, std::string_view m) { log.push(std::string(m)); };
  zk::Session s(so);
  DistributedLock lock(s, path);
  EXPECT_FALSE(lock.try_lock_for(500ms));
  EXPECT_EQ(child_count(s, path), 1U);
  EXPECT_TRUE(log.wait(
      [](const std::vector<std::string>& v) {
        for (const auto& m : v)
          if (m.find("leftover-node") != std::string::npos) return true;
        return false;
      },
      1s));
  const auto c = DistributedLock::contenders(s, path);
  ASSERT_EQ(c.size(), 1U);
  EXPECT_FALSE(c[0].sequence);
  EXPECT_FALSE(c[0].holder);

  auto waiter = std::async(std::launch::async, [&] { return lock.try_lock_for(10s); });
  ASSERT_TRUE(zkt::wait_until([&] { return child_count(s, path) == 2; }, 5s));
  root.session().remove(path + "/leftover-node");
  EXPECT_TRUE(waiter.get());
  lock.unlock();
}

TEST(Lock, KazooAndGoNamesAreContenders) {
  zkt::RootGuard root("lock-names");
  const std::string path = root.path() + "/l";
  root.session().ensure_path(path);
  zk::Session other(zkt::options());
  const auto kazoo = other.create(path + "/5a0b9c3e1f2d4e6a8b7c9d0e1f2a3b4c__lock__", "k",
                                  zk::CreateMode::ephemeral_sequential);
  DistributedLock lock(root.session(), path);
  EXPECT_FALSE(lock.try_lock());
  const auto go = other.create(path + "/_c_00112233445566778899aabbccddeeff-lock-", "g",
                               zk::CreateMode::ephemeral_sequential);
  auto waiter = std::async(std::launch::async, [&] { return lock.try_lock_for(10s); });
  ASSERT_TRUE(zkt::wait_until([&] { return child_count(other, path) == 3; }, 5s));
  other.remove(kazoo.path);
  EXPECT_EQ(waiter.wait_for(300ms), std::future_status::timeout); // the go-style node is first now
  other.remove(go.path);
  EXPECT_TRUE(waiter.get());
  EXPECT_NE(DistributedLock::contenders(other, path).front().data.find(':'), std::string::npos);
  lock.unlock();
}

} // namespace

// --- The asynchronous form -----------------------------------------------------------------------

TEST(LockAsync, AFutureGuardHoldsTheLockAndReleasesItFromAnotherThread) {
  zkt::RootGuard root("lock-async");
  const std::string path = root.path() + "/l";
  DistributedLock lock(root.session(), path);
  auto f = lock.async_lock(5s);
  ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
  zk::LockGuard guard = f.get();
  ASSERT_TRUE(guard.owns_lock());
  EXPECT_EQ(guard.path(), path);
  const auto token = guard.fencing_token();
  EXPECT_EQ(token, lock.fencing_token());
  ASSERT_EQ(child_count(root.session(), path), 1U);
  // Another session waits; the guard is released on a thread that never locked anything.
  zk::Session other(zkt::options());
  DistributedLock theirs(other, path);
  auto waiting = theirs.async_lock();
  EXPECT_EQ(waiting.wait_for(300ms), std::future_status::timeout) << "two holders at once";
  std::thread([g = std::move(guard)]() mutable { g.release(); }).join();
  EXPECT_FALSE(lock.owns_lock());
  ASSERT_EQ(waiting.wait_for(10s), std::future_status::ready);
  zk::LockGuard second = waiting.get();
  EXPECT_GT(second.fencing_token(), token) << "tokens must increase";
  second.release();
  EXPECT_FALSE(second.owns_lock());
  EXPECT_TRUE(zkt::wait_until([&] { return child_count(root.session(), path) == 0; }, 10s));
}

TEST(LockAsync, ADeadlineAndACancelEndTheWaitWithTheirCodesAndLeaveNothing) {
  zkt::RootGuard root("lock-async-end");
  const std::string path = root.path() + "/l";
  DistributedLock holder(root.session(), path);
  holder.lock();
  zk::Session s(zkt::options());
  DistributedLock lock(s, path);
  std::promise<std::error_code> timed_out;
  const auto start = std::chrono::steady_clock::now();
  lock.async_lock(300ms, zk::CancelToken(), [&](std::error_code ec, zk::LockGuard g) {
    EXPECT_FALSE(g.owns_lock());
    timed_out.set_value(ec);
  });
  auto t = timed_out.get_future();
  ASSERT_EQ(t.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(t.get(), Errc::deadline_exceeded);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 300ms);
  // Sent before the completion ran: a request of the same session sees the node gone.
  EXPECT_EQ(child_count(s, path), 1U) << "our node outlived the completion";

  zk::CancelToken cancel;
  auto f = lock.async_lock({}, cancel);
  ASSERT_TRUE(zkt::wait_until([&] { return child_count(s, path) == 2; }, 10s));
  cancel.cancel();
  ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(zkt::code_of([&] { (void)f.get(); }), Errc::cancelled);
  EXPECT_EQ(child_count(s, path), 1U);
  // The holder watches its own node; our watch on it must be gone.
  EXPECT_TRUE(zkt::wait_until([&] { return zkt::lock::watches_under(path) == 1; }, 10s))
      << zkt::lock::watches_under(path) << " watches: ours on the holder's node was left";
  holder.unlock();
  EXPECT_TRUE(zkt::wait_until([&] { return zkt::lock::watches_under(path) == 0; }, 10s));
}

TEST(LockAsync, CompletionsRunOnTheCallbackThreadOrTheGivenExecutorNeverInline) {
  zkt::RootGuard root("lock-async-exec");
  const std::string path = root.path() + "/l";
  DistributedLock lock(root.session(), path);
  // The callback thread: a blocking call there is refused.
  std::promise<Errc> on_callback;
  lock.async_lock([&](std::error_code ec, zk::LockGuard /*held until this returns*/) {
    EXPECT_FALSE(ec);
    on_callback.set_value(zkt::code_of([&] { (void)lock.try_lock(); }));
  });
  auto refused = on_callback.get_future();
  ASSERT_EQ(refused.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(refused.get(), Errc::wrong_thread);

  // An executor: the completion is handed to it, and runs where it says.
  std::mutex m;
  std::vector<std::function<void()>> posted;
  std::atomic<bool> inline_run{false};
  bool in_call = true;
  lock.async_lock(
      5s, zk::CancelToken(),
      [&](std::error_code ec, zk::LockGuard g) {
        inline_run = in_call;
        EXPECT_FALSE(ec);
        EXPECT_TRUE(g.owns_lock());
      },
      [&](std::function<void()> work) {
        std::lock_guard<std::mutex> l(m);
        posted.push_back(std::move(work));
      });
  in_call = false;
  ASSERT_TRUE(zkt::wait_until(
      [&] {
        std::lock_guard<std::mutex> l(m);
        return !posted.empty();
      },
      10s));
  std::function<void()> work;
  {
    std::lock_guard<std::mutex> l(m);
    work = std::move(posted.front());
  }
  work(); // the guard is released at the end of the completion: the lock is free again
  EXPECT_FALSE(inline_run.load());
  EXPECT_TRUE(zkt::wait_until([&] { return child_count(root.session(), path) == 0; }, 10s));
  EXPECT_EQ(zkt::code_of([&] { lock.async_lock(zk::DistributedLock::LockHandler()); }),
            Errc::invalid_argument);
}

TEST(LockAsync, AMovedLockKeepsItsPendingWaitAndItsGuardAndAGuardMayOutliveIt) {
  zkt::RootGuard root("lock-async-move");
  const std::string path = root.path() + "/l";
  DistributedLock holder(root.session(), path);
  holder.lock();
  zk::Session s(zkt::options());
  DistributedLock lock(s, path);
  auto f = lock.async_lock(10s);
  DistributedLock moved(std::move(lock)); // the wait and the hold to come go with it
  holder.unlock();
  ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
  zk::LockGuard guard = f.get();
  EXPECT_TRUE(guard.owns_lock());
  EXPECT_TRUE(moved.owns_lock());
  EXPECT_EQ(guard.fencing_token(), moved.fencing_token());
  guard.release();
  EXPECT_FALSE(moved.owns_lock());
  EXPECT_EQ(child_count(s, path), 0U);
  // A guard may outlive its lock object, whose end ended the hold.
  zk::LockGuard kept;
  {
    DistributedLock going(s, path);
    kept = going.async_lock(10s).get();
    ASSERT_TRUE(kept.owns_lock());
  }
  EXPECT_FALSE(kept.owns_lock());
  EXPECT_EQ(zkt::code_of([&] { (void)kept.path(); }), zk::Errc::lock_not_held);
  kept.release(); // nothing left to end
  EXPECT_EQ(child_count(s, path), 0U);
}
