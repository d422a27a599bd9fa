// The fault matrix for zk::DistributedLock, and with the same cells for the leader election, the
// read-write lock and the semaphore (see LockCell::recipe()): F1-F10 and F12 of the design's
// testing.md (it has no F11). Each cell runs a LockRig (three contenders locking, writing through
// lock.fenced() and unlocking) through its fault, for three seeds, and asserts that no two
// contenders ever acted as holder at once, that the fenced resource never accepted a stale token,
// that no loss went unreported, plus the cell's own criteria and the global ones (Cell::finish).
// This file: the ensemble faults (F1-F4, F9, F10); lock_matrix_client_test.cpp: the faults aimed at
// one client (F5-F8, F12).
#include "lock_rig.hpp"

#include <algorithm>
#include <set>

using namespace std::chrono_literals;

namespace zkt::matrix {
namespace {

ZKR_LOCK_CELL(
    LockF1, "F1",
    "kill -9 the follower a contender is connected to (the holder or a waiter), restart it",
    "never two holders; no stale fenced write; waiters proceed after reconnecting");
TEST_P(LockF1, KillTheClientsFollower) {
  auto& rig = run(rig_options(by_variant({2000ms, 3000ms, 4000ms})));
  ASSERT_TRUE(rig.wait_holds(5, 15s));
  const int leader = faults().leader();
  const int victim = contender_on_follower(rig, leader, variant() != 1);
  const int n = victim >= 0 ? server_of(rig.session(victim)) : leader % 3 + 1;
  event("victim: contender " + std::to_string(victim) +
        (victim == rig.holder() ? " (holder)" : "") + " on server " + std::to_string(n));
  const auto t_fault = monotonic_ns();
  faults().kill(n);
  std::this_thread::sleep_for(between(1000ms, 3000ms));
  faults().start(n);
  faults().wait_healthy();
  expect_progress_since(rig, t_fault, 2, 20s);
  measure("longest_without_acquisition_ms=" +
          std::to_string(rig.longest_gap(t_fault, monotonic_ns()).count()));
  done();
}

ZKR_LOCK_CELL(
    LockF2, "F2", "kill -9 the leader, restart it",
    "never two holders; no stale fenced write; waiters proceed within election + reconnect time");
TEST_P(LockF2, KillTheLeader) {
  auto& rig = run(rig_options(by_variant({2000ms, 3000ms, 4000ms})));
  ASSERT_TRUE(rig.wait_holds(5, 15s));
  const int leader = faults().leader();
  const auto t_fault = monotonic_ns();
  faults().kill(leader);
  EXPECT_TRUE(wait_until([&] { return rig.first_hold_after(t_fault) > 0; }, 20s))
      << "nobody got the lock after the leader died";
  std::this_thread::sleep_for(between(0ms, 1000ms));
  faults().start(leader);
  faults().wait_healthy();
  expect_progress_since(rig, t_fault, 2, 20s);
  measure("longest_without_acquisition_ms=" +
          std::to_string(rig.longest_gap(t_fault, monotonic_ns()).count()));
  done();
}

ZKR_LOCK_CELL(LockF3, "F3", "pause (SIGSTOP) the leader past syncLimit (2.5 s), resume it",
              "never two holders; every session kept or its loss reported, never silent; progress "
              "afterwards");
TEST_P(LockF3, PauseTheLeaderPastSyncLimit) {
  auto& rig = run(rig_options(by_variant({3000ms, 4000ms, 6000ms})));
  ASSERT_TRUE(rig.wait_holds(5, 15s));
  const int leader = faults().leader();
  // Variants 0 and 1: a contender on the leader holds the lock through the pause, if there is one.
  int pinned = -1;
  for (int i = 0; i < rig.size() && variant() != 2 && pinned < 0; ++i)
    if (server_of(rig.session(i)) == leader) pinned = i;
  if (pinned >= 0) {
    rig.pin(pinned);
    ASSERT_TRUE(rig.wait_pinned_holding(pinned, 15s));
    event("contender " + std::to_string(pinned) + ", on the leader, holds the lock");
  }
  const auto t_fault = monotonic_ns();
  faults().pause(leader);
  std::this_thread::sleep_for(between(3500ms, 5000ms));
  faults().resume(leader);
  faults().wait_healthy();
  if (pinned >= 0) rig.unpin(pinned);
  expect_progress_since(rig, t_fault, 2, 25s);
  measure("longest_without_acquisition_ms=" +
          std::to_string(rig.longest_gap(t_fault, monotonic_ns()).count()));
  for (int i = 0; i < rig.size(); ++i) {
    const auto st = rig.states(i);
    const bool renewed = rig.session(i).session_id() != rig.first_session(i);
    const bool reported =
        std::any_of(st.begin(), st.end(), [](const auto& s) { return s.what == "lost"; });
    EXPECT_TRUE(!renewed || reported) << "contender " << i << " changed session silently";
  }
  done();
}

ZKR_LOCK_CELL(
    LockF4, "F4", "pause the server the holder is connected to for half the session timeout",
    "the holder's session and lock survive, no loss reported; nobody else holds meanwhile");
TEST_P(LockF4, PauseTheHoldersServerForHalfTheSessionTimeout) {
  auto& rig = run(rig_options(by_variant({2000ms, 3000ms, 4000ms})));
  ASSERT_TRUE(rig.wait_holds(3, 15s));
  const int victim = static_cast<int>(rng()() % 3);
  rig.pin(victim);
  ASSERT_TRUE(rig.wait_pinned_holding(victim, 15s));
  const int n = server_of(rig.session(victim));
  ASSERT_NE(n, 0);
  const auto id = rig.session(victim).session_id();
  const auto token = rig.target(victim).token();
  const auto t_fault = monotonic_ns();
  faults().pause(n);
  std::this_thread::sleep_for(rig.session(victim).negotiated_timeout() / 2);
  faults().resume(n);
  faults().wait_healthy();
  // Certain again: connected on the same session with the node still ours.
  EXPECT_TRUE(wait_until([&] { return !rig.target(victim).uncertain(); }, 10s));
  EXPECT_TRUE(rig.target(victim).holds()) << "the holder lost the lock";
  EXPECT_EQ(rig.target(victim).token(), token);
  EXPECT_EQ(rig.session(victim).session_id(), id) << "the holder's session did not survive";
  if (exclusive(rig, victim)) {
    EXPECT_EQ(rig.first_hold_after(t_fault), -1) << "someone else got the lock meanwhile";
  }
  rig.unpin(victim);
  expect_progress_since(rig, t_fault, 1, 15s);
  for (int i = 0; i < rig.size(); ++i) {
    EXPECT_TRUE(rig.losses(i).empty()) << "contender " << i << " was told it lost the lock";
    for (const auto& s : rig.states(i))
      EXPECT_NE(s.what, "lost") << "contender " << i << " reported its session lost";
  }
  expect_whole_holds_keep_the_rule(rig);
  done();
}

ZKR_LOCK_CELL(LockF9, "F9",
              "one server isolated from its peers (iptables on the quorum ports), then healed",
              "contenders move to the majority and continue; nothing succeeds on the minority "
              "(lock or write); never two holders");
TEST_P(LockF9, IsolateOneServer) {
  const Ms timeout = by_variant({4000ms, 5000ms, 6000ms});
  auto& rig = run(rig_options(timeout));
  ASSERT_TRUE(rig.wait_holds(5, 15s));
  const int leader = faults().leader();
  const int n = variant() == 0 ? leader : (leader + static_cast<int>(rng()() % 2)) % 3 + 1;
  // The minority probe can reach only the isolated server.
  auto po = options(timeout);
  po.hosts = zkt::server_address(n);
  po.operation_timeout = 1000ms;
  po.log_level = zk::LogLevel::error;
  zk::Session probe(po);
  const TargetReports quiet{[](const std::string&) {}, [](bool) {}};
  const auto probe_lock = make_target(recipe(), probe, root() + "/lock", quiet, seed());
  event("minority probe on server " + std::to_string(n) +
        (n == leader ? " (the leader)" : " (a follower)"));
  faults().isolate(n);
  const auto t_iso = monotonic_ns();
  const auto iso_end = Clock::now() + between(6000ms, 8000ms);
  int attempts = 0;
  std::set<std::string> acknowledged; // minority creates the server said succeeded
  while (Clock::now() + 2500ms < iso_end) {
    bool got = false;
    calls().run("probe try_lock_for", 1000ms + po.operation_timeout,
                [&] { got = probe_lock->acquire_for(1000ms); });
    EXPECT_FALSE(got) << "the lock was acquired through the isolated server";
    if (got) probe_lock->release();
    probe_lock->idle(); // the election's probe leaves: it must not lead once the server is healed
    const std::string name = "minority-" + std::to_string(attempts);
    if (calls().run("probe create", 1000ms,
                    [&] { probe.create(root() + "/" + name, "", {}, 1000ms); }))
      acknowledged.insert(name);
    ++attempts;
  }
  for (int i = 0; i < rig.size(); ++i)
    EXPECT_TRUE(wait_until([&] { return server_of(rig.session(i)) != n; },
                           std::chrono::duration_cast<Ms>(iso_end - Clock::now())))
        << "contender " << i << " is still on the isolated server";
  EXPECT_TRUE(wait_until([&] { return rig.first_hold_after(t_iso) > 0; },
                         std::chrono::duration_cast<Ms>(iso_end - Clock::now())))
      << "nobody got the lock on the majority during the isolation";
  std::this_thread::sleep_until(iso_end);
  const auto t_heal = monotonic_ns();
  faults().heal();
  faults().wait_healthy();
  probe.close();
  admin().sync(root());
  // Nothing the minority acknowledged. A create that ended in connection_loss is indeterminate: if
  // the isolated leader had logged it on a follower before the cut, the next leader commits it.
  EXPECT_TRUE(acknowledged.empty())
      << "a write through the isolated server succeeded: " << *acknowledged.begin();
  const auto kids = admin().children(root());
  const auto applied =
      std::count_if(kids->names.begin(), kids->names.end(),
                    [](const std::string& k) { return k.rfind("minority-", 0) == 0; });
  measure("minority_attempts=" + std::to_string(attempts) +
          " minority_unacknowledged_applied=" + std::to_string(applied));
  expect_progress_since(rig, t_heal, 1, 20s);
  done();
}

ZKR_LOCK_CELL(LockF10, "F10", "the whole ensemble killed (kill -9 all three) and restarted",
              "a holder whose session outlives the outage keeps the lock; one whose session is "
              "shorter is told it lost it, and the lock moves on; never two holders");
TEST_P(LockF10, KillAndRestartTheWholeEnsemble) {
  // Rig "keep": sessions far longer than the outage. Rig "lose": 2 s sessions.
  auto& keep = run(rig_options(by_variant({20000ms, 30000ms, 40000ms}), "keep"));
  auto& lose = run(rig_options(2000ms, "lose"));
  ASSERT_TRUE(keep.wait_holds(3, 15s));
  ASSERT_TRUE(lose.wait_holds(3, 15s));
  keep.pin(0);
  lose.pin(0);
  ASSERT_TRUE(keep.wait_pinned_holding(0, 15s));
  ASSERT_TRUE(lose.wait_pinned_holding(0, 15s));
  const auto keep_token = keep.target(0).token();
  const auto t0 = Clock::now();
  for (int n : {1, 2, 3})
    faults().kill(n);
  std::this_thread::sleep_for(between(500ms, 2000ms));
  for (int n : {1, 2, 3})
    faults().start(n);
  faults().wait_healthy();
  const auto t_up = monotonic_ns();
  measure("outage_ms=" + std::to_string(std::chrono::duration_cast<Ms>(Clock::now() - t0).count()));
  EXPECT_TRUE(wait_until([&] { return !keep.target(0).uncertain(); }, 15s));
  EXPECT_TRUE(keep.target(0).holds()) << "the long-session holder lost the lock";
  EXPECT_EQ(keep.target(0).token(), keep_token);
  EXPECT_TRUE(keep.losses(0).empty());
  ASSERT_TRUE(wait_until([&] { return !lose.losses(0).empty(); }, 5s))
      << "the short-session holder was not told it lost the lock:" << lose.describe_since(t_up);
  // Moving on counts from the loss, not from the ensemble's health: the lost holder itself (it is
  // pinned, so it locks again at once) may take the lock anew before wait_healthy() returns.
  const auto t_lost = lose.losses(0).front().ns;
  EXPECT_TRUE(wait_until([&] { return lose.first_hold_after(t_lost) > 0; }, 20s))
      << "the lock of the short sessions never moved on:" << lose.describe_since(t_lost);
  keep.unpin(0);
  lose.unpin(0);
  expect_progress_since(keep, t_up, 1, 20s);
  expect_progress_since(lose, t_up, 1, 20s);
  done();
}

} // namespace
} // namespace zkt::matrix
