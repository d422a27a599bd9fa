// Connection states under real faults: the connected server killed or paused, a server-side expiry;
// a session closed or destroyed from its own callback.
#include "support/ensemble.hpp"
#include "support/processes.hpp"
#include "support/recorder.hpp"

#include <zkrecipes/distributed_lock.hpp>

#include <gtest/gtest.h>

#include <future>
#include <memory>

using namespace std::chrono_literals;

namespace {

// Restores a server that a test stopped, whatever the test's outcome.
class ServerGuard {
public:
  ServerGuard(int n, const char* undo) : m_n(n), m_undo(undo) {}
  ~ServerGuard() {
    try {
      zkt::ensemble(std::string(m_undo) + " " + std::to_string(m_n));
    } catch (const std::exception& e) {
      ADD_FAILURE() << e.what();
    }
  }
  ServerGuard(const ServerGuard&) = delete;
  ServerGuard& operator=(const ServerGuard&) = delete;

private:
  int m_n;
  const char* m_undo;
};

TEST(SessionState, KillingTheConnectedServerMovesTheSessionWithoutLosingIt) {
  if (!zkt::own_ensemble()) GTEST_SKIP() << "needs the project's ensemble (kills a server)";
  zkt::RootGuard root("kill");
  zk::Session s(zkt::options(6s));
  zkt::StateLog states(s);
  const auto eph = s.create(root.path() + "/eph", "", zk::CreateMode::ephemeral);
  const auto id = s.session_id();
  const int victim = zkt::server_number(s.current_server());
  ASSERT_NE(victim, 0) << s.current_server();

  {
    ServerGuard restart(victim, "start");
    zkt::ensemble("kill " + std::to_string(victim));
    ASSERT_TRUE(states.wait_for_state(zk::SessionState::suspended, 10s));
    ASSERT_TRUE(states.wait_for_state(zk::SessionState::reconnected, 15s));
    EXPECT_EQ(s.session_id(), id);
    EXPECT_NE(zkt::server_number(s.current_server()), victim);
    EXPECT_TRUE(s.exists(eph.path)); // the ephemeral node survived: same session
  }
  for (const auto& e : states.items()) {
    EXPECT_NE(e.state, zk::SessionState::lost);
    EXPECT_EQ(e.session_id, id);
  }
}

TEST(SessionState, PausingTheConnectedServerSuspendsThenReconnects) {
  if (!zkt::own_ensemble()) GTEST_SKIP() << "needs the project's ensemble (pauses a server)";
  zk::Session s(zkt::options(4s));
  zkt::StateLog states(s);
  const auto id = s.session_id();
  const int victim = zkt::server_number(s.current_server());
  ASSERT_NE(victim, 0);
  {
    ServerGuard resume(victim, "resume");
    zkt::ensemble("pause " + std::to_string(victim));
    // The client notices the silent server after about 2/3 of the session timeout and moves on.
    ASSERT_TRUE(states.wait_for_state(zk::SessionState::suspended, 10s));
    ASSERT_TRUE(states.wait_for_state(zk::SessionState::reconnected, 15s));
  }
  EXPECT_EQ(s.session_id(), id);
  // Usable again with the same session (a later blip of the connection would only delay this).
  EXPECT_TRUE(zkt::wait_until(
      [&] {
        try {
          s.sync("/", std::chrono::seconds(2));
          return true;
        } catch (const zk::Error& e) {
          return !e.is_retryable() ? (ADD_FAILURE() << e.what(), true) : false;
        }
      },
      10s));
  EXPECT_EQ(s.session_id(), id);
  for (const auto& e : states.items())
    EXPECT_NE(e.state, zk::SessionState::lost);
}

TEST(SessionState, ServerSideExpiryReportsLostThenANewSession) {
  zkt::RootGuard root("expiry");
  zk::Session s(zkt::options(4s));
  zkt::StateLog states(s);
  const auto eph = s.create(root.path() + "/eph", "", zk::CreateMode::ephemeral);
  const auto old_id = s.session_id();

  zkt::expire_session(s.client_id());
  EXPECT_TRUE(zkt::wait_until([&] { return !root.session().exists(eph.path); }, 5s))
      << "the server did not end the session";
  ASSERT_TRUE(states.wait_for_state(zk::SessionState::lost, 15s));
  ASSERT_TRUE(states.wait(
      [&](const std::vector<zk::SessionEvent>& v) {
        return !v.empty() && v.back().state == zk::SessionState::connected &&
               v.back().session_id != old_id;
      },
      15s));
  EXPECT_NE(s.session_id(), old_id);
  EXPECT_NO_THROW(s.create(root.path() + "/after", "", zk::CreateMode::ephemeral));

  const auto items = states.items();
  const auto lost = std::find_if(items.begin(), items.end(),
                                 [](const auto& e) { return e.state == zk::SessionState::lost; });
  ASSERT_NE(lost, items.end());
  EXPECT_EQ(lost->session_id, old_id);
}

TEST(SessionState, WithoutRenewalAnExpiredSessionStaysLost) {
  zkt::RootGuard root("norenew");
  auto o = zkt::options(4s);
  o.renew_after_expiry = false;
  zk::Session s(o);
  zkt::StateLog states(s);
  zkt::expire_session(s.client_id());
  ASSERT_TRUE(states.wait_for_state(zk::SessionState::lost, 15s));
  try {
    s.get(root.path(), {}, 5s);
    FAIL();
  } catch (const zk::Error& e) {
    EXPECT_TRUE(e.is_session_lost()) << e.what();
  }
}

TEST(SessionState, ClosingReportsClosedAndDestructionNeverHangs) {
  zk::Session s(zkt::options());
  zkt::StateLog states(s);
  s.close();
  EXPECT_TRUE(states.wait_for_state(zk::SessionState::closed, 1s));
}

TEST(SessionState, ASessionDestroyedFromItsOwnCallbackEndsItsPendingWaits) {
  zkt::RootGuard root("self-destroyed");
  const std::string path = root.path() + "/l";
  zk::DistributedLock holder(root.session(), path);
  holder.lock();
  auto s = std::make_unique<zk::Session>(zkt::options());
  auto lock = std::make_unique<zk::DistributedLock>(*s, path);
  std::promise<std::error_code> ended;
  lock->async_lock([&](std::error_code ec, zk::LockGuard) { ended.set_value(ec); });
  ASSERT_TRUE(
      zkt::wait_until([&] { return zkt::children(root.session(), path).size() == 2; }, 10s));
  std::promise<void> destroyed;
  s->get_async(path, [&](const zk::Result<zk::NodeData>&) {
    s.reset(); // the last of it, on its own callback thread
    destroyed.set_value();
  });
  auto gone = destroyed.get_future();
  ASSERT_EQ(gone.wait_for(10s), std::future_status::ready)
      << "destroying it from its callback hung";
  auto f = ended.get_future();
  ASSERT_EQ(f.wait_for(10s), std::future_status::ready) << "the pending wait never ended";
  EXPECT_EQ(f.get(), zk::Errc::session_closed);
  lock.reset();
  EXPECT_TRUE(zkt::wait_until([&] { return zkt::children(root.session(), path).size() == 1; }, 10s))
      << "the closed session's node outlived it";
  holder.unlock();
}

} // namespace
