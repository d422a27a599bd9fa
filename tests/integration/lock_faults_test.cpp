// The lock under failures: server-side session expiry while holding and while waiting, a closed
// session, a create whose reply is lost (protected-create recovery), a suspended connection
// (uncertain, not lost) and a partition longer than the session timeout (lost by the local timer).
// Network faults come from zkt::FaultProxy, in this process, so other tests are not disturbed.
#include "lock_harness.hpp"
#include "support/fault_proxy.hpp"
#include "support/recorder.hpp"

#include <gtest/gtest.h>

#include <future>
#include <iostream>

using namespace std::chrono_literals;
using zk::DistributedLock;
using zk::Errc;

namespace {

struct LossLog {
  zkt::Recorder<Errc> lost;
  zkt::Recorder<bool> uncertain;
  zk::LockOptions options() {
    zk::LockOptions o;
    o.on_lost = [this](const zk::Error& e) { lost.push(e.errc()); };
    o.on_uncertain = [this](bool u) { uncertain.push(u); };
    return o;
  }
};

TEST(LockFaults, ExpiryWhileHoldingIsReportedAndTheLockMovesOn) {
  zkt::RootGuard root("lock-expire-hold");
  const std::string path = root.path() + "/l";
  zk::Session s(zkt::options(4s));
  zkt::StateLog states(s);
  LossLog log;
  DistributedLock lock(s, path, log.options());
  lock.lock();
  const std::string node = lock.node_path();
  const auto old_id = s.session_id();

  zkt::expire_session(s.client_id());
  ASSERT_TRUE(log.lost.wait_count(1, 15s));
  // The server deletes our node as it ends the session; whichever the client hears of first (our
  // node's deletion: lock_lost, or the expiry: session_lost) is reported, once.
  const Errc why = log.lost.items().front();
  EXPECT_TRUE(why == Errc::session_lost || why == Errc::lock_lost) << zk::to_string(why);
  EXPECT_FALSE(lock.owns_lock());
  zkt::lock::sync(root.session(), path);
  EXPECT_FALSE(root.session().exists(node));
  ASSERT_TRUE(states.wait_for_state(zk::SessionState::connected, 15s)); // the new session
  EXPECT_EQ(log.lost.items().size(), 1U) << "reported once";

  zk::Session other(zkt::options());
  DistributedLock b(other, path);
  ASSERT_TRUE(b.try_lock_for(10s));
  b.unlock();
  // The same object works again on the renewed session, after the loss is acknowledged.
  EXPECT_THROW(lock.release(), zk::Error);
  ASSERT_TRUE(lock.try_lock_for(10s));
  EXPECT_NE(s.session_id(), old_id);
  EXPECT_EQ(s.get(lock.node_path())->stat.ephemeral_owner, s.session_id());
  lock.unlock();
  EXPECT_TRUE(zkt::lock::children(root.session(), path).empty());
}

TEST(LockFaults, ExpiryWhileWaitingRequeuesOnTheNewSession) {
  zkt::RootGuard root("lock-expire-wait");
  const std::string path = root.path() + "/l";
  DistributedLock holder(root.session(), path);
  holder.lock();
  zk::Session w(zkt::options(4s));
  DistributedLock waiter(w, path);
  auto result = std::async(std::launch::async, [&] { return waiter.try_lock_for(60s); });
  ASSERT_TRUE(zkt::wait_until([&] { return zkt::lock::children(w, path).size() == 2; }, 10s));
  std::string first;
  for (const auto& c : zkt::lock::children(w, path))
    if (w.get(path + "/" + c)->stat.ephemeral_owner == w.session_id()) first = c;
  ASSERT_FALSE(first.empty());
  const auto old_id = w.session_id();

  zkt::expire_session(w.client_id());
  // The old node goes with the old session; the waiter queues again with a new node.
  ASSERT_TRUE(zkt::wait_until(
      [&] {
        const auto kids = zkt::lock::children(root.session(), path);
        return kids.size() == 2 && std::find(kids.begin(), kids.end(), first) == kids.end();
      },
      20s));
  EXPECT_NE(w.session_id(), old_id);
  EXPECT_EQ(result.wait_for(100ms), std::future_status::timeout);
  holder.unlock();
  ASSERT_TRUE(result.get());
  EXPECT_EQ(w.get(waiter.node_path())->stat.ephemeral_owner, w.session_id());
  waiter.unlock();
  EXPECT_EQ(zkt::lock::children(root.session(), path), std::vector<std::string>{});
  EXPECT_TRUE(zkt::wait_until([&] { return zkt::lock::watches_under(path) == 0; }, 5s));
}

TEST(LockFaults, ClosingTheSessionFailsWaitersAndReportsTheHolder) {
  zkt::RootGuard root("lock-close");
  const std::string path = root.path() + "/l";
  DistributedLock holder(root.session(), path);
  holder.lock();
  zk::Session w(zkt::options());
  DistributedLock waiter(w, path);
  auto result = std::async(std::launch::async, [&] {
    try {
      waiter.lock();
    } catch (const zk::Error& e) {
      return e.errc();
    }
    return Errc::ok;
  });
  ASSERT_TRUE(zkt::wait_until([&] { return zkt::lock::children(w, path).size() == 2; }, 10s));
  w.close();
  ASSERT_EQ(result.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(result.get(), Errc::session_closed);
  // close() returns once the close request is sent; the server then drops the session's nodes.
  EXPECT_TRUE(
      zkt::wait_until([&] { return zkt::lock::children(root.session(), path).size() == 1; }, 10s));

  zk::Session h(zkt::options());
  LossLog log;
  DistributedLock held(h, root.path() + "/m", log.options());
  held.lock();
  h.close();
  ASSERT_TRUE(log.lost.wait_count(1, 10s));
  EXPECT_EQ(log.lost.items().front(), Errc::session_closed);
  EXPECT_FALSE(held.owns_lock());
  EXPECT_TRUE(zkt::wait_until(
      [&] { return zkt::lock::children(root.session(), root.path() + "/m").empty(); }, 10s));
}

// The server applies our create but its reply is lost: the node is found by its guid and adopted.
TEST(LockFaults, ACreateWhoseReplyIsLostIsAdopted) {
  zkt::RootGuard root("lock-lost-reply");
  const std::string path = root.path() + "/l";
  root.session().ensure_path(path);
  zkt::FaultProxy proxy(zkt::hosts());
  auto o = zkt::options();
  o.hosts = proxy.connect_string();
  zk::Session s(o);
  DistributedLock lock(s, path);
  proxy.drop_reply_after_apply(zkt::opcode::create2);
  ASSERT_TRUE(lock.try_lock_for(20s));
  ASSERT_EQ(proxy.dropped().size(), 1U);
  EXPECT_EQ(proxy.dropped().front().err, 0);
  EXPECT_EQ(zkt::lock::children(root.session(), path).size(), 1U) << "adopted, not created twice";
  EXPECT_LE(lock.fencing_token(),
            proxy.dropped().front().zxid); // created before the reply was lost
  lock.unlock();
  EXPECT_TRUE(zkt::lock::children(root.session(), path).empty());
}

TEST(LockFaults, ALostCreateReplyLeavesNoNodeWhenTheCallTimesOut) {
  zkt::RootGuard root("lock-lost-reply-timeout");
  const std::string path = root.path() + "/l";
  DistributedLock holder(root.session(), path);
  holder.lock();
  zkt::FaultProxy proxy(zkt::hosts());
  auto o = zkt::options();
  o.hosts = proxy.connect_string();
  zk::Session s(o);
  DistributedLock lock(s, path);
  for (const auto timeout : {50ms, 1500ms}) { // before and after the node is recovered
    proxy.drop_reply_after_apply(zkt::opcode::create2);
    EXPECT_FALSE(lock.try_lock_for(timeout));
    EXPECT_EQ(zkt::lock::children(root.session(), path).size(), 1U)
        << "after try_lock_for(" << timeout.count() << "ms)";
  }
  EXPECT_EQ(proxy.dropped().size(), 2U);
  EXPECT_TRUE(
      zkt::wait_until([&] { return zkt::lock::watches_under(path) == 1; }, 5s)); // the holder's own
}

TEST(LockFaults, ASuspendedConnectionIsUncertainNotLost) {
  zkt::RootGuard root("lock-suspend");
  zkt::FaultProxy proxy(zkt::hosts());
  auto o = zkt::options(6s);
  o.hosts = proxy.connect_string();
  zk::Session s(o);
  LossLog log;
  DistributedLock lock(s, root.path() + "/l", log.options());
  lock.lock();
  proxy.blackhole(true);
  ASSERT_TRUE(log.uncertain.wait_count(1, 10s));
  EXPECT_TRUE(log.uncertain.items().front());
  EXPECT_TRUE(lock.uncertain());
  EXPECT_TRUE(lock.owns_lock());
  proxy.blackhole(false); // well before the server would expire the session
  ASSERT_TRUE(log.uncertain.wait_count(2, 10s));
  EXPECT_FALSE(log.uncertain.items()[1]);
  EXPECT_FALSE(lock.uncertain());
  EXPECT_TRUE(lock.owns_lock());
  EXPECT_TRUE(log.lost.items().empty());
  EXPECT_TRUE(root.session().exists(lock.node_path()));
}

TEST(LockFaults, APartitionLongerThanTheSessionIsLostByTheLocalTimer) {
  zkt::RootGuard root("lock-partition");
  const std::string path = root.path() + "/l";
  zkt::FaultProxy proxy(zkt::hosts());
  auto o = zkt::options(3s);
  o.hosts = proxy.connect_string();
  zk::Session s(o);
  LossLog log;
  DistributedLock lock(s, path, log.options());
  lock.lock();
  const auto negotiated = s.negotiated_timeout();
  const auto cut = std::chrono::steady_clock::now();
  const auto since_cut = [&] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 cut);
  };
  proxy.blackhole(true);
  // First uncertain, before the server can expire the session and let someone else in.
  ASSERT_TRUE(log.uncertain.wait_count(1, 10s));
  const auto uncertain_after = since_cut();
  EXPECT_LT(uncertain_after, negotiated);
  // Then lost, while the partition lasts: the client cannot hear of the expiry, its timer decides.
  // (The session's local timer starts when the disconnection is noticed, about 2/3 of the timeout.)
  ASSERT_TRUE(log.lost.wait_count(1, 10s));
  const auto lost_after = since_cut();
  EXPECT_EQ(log.lost.items().front(), Errc::session_lost);
  EXPECT_FALSE(lock.owns_lock());
  EXPECT_LT(lost_after, 2 * negotiated + 1s);
  std::cout << "[ measured ] partition: uncertain after " << uncertain_after.count()
            << " ms, lost after " << lost_after.count() << " ms (negotiated timeout "
            << negotiated.count() << " ms)\n";
  proxy.blackhole(false);
  zk::Session other(zkt::options());
  DistributedLock b(other, path);
  EXPECT_TRUE(b.try_lock_for(15s)); // the server expired the partitioned session: its node is gone
  b.unlock();
  EXPECT_TRUE(zkt::wait_until([&] { return zkt::lock::children(other, path).empty(); }, 10s));
}

} // namespace
