// The fault matrix for zk::DistributedCounter: F1-F10 of the design's testing.md (it has no F11,
// and F12 is a lock-only fault). Each cell runs a CounterRig (three clients adding random deltas)
// through its fault, for three seeds, and asserts with zkt::check_counter that no acknowledged
// update was lost and none applied twice, plus the cell's own criteria and the global ones
// (Cell::finish). This file: the ensemble faults (F1-F4, F9, F10); counter_matrix_client_test.cpp:
// the faults aimed at one client (F5-F8).
#include "counter_rig.hpp"

using namespace std::chrono_literals;

namespace zkt::matrix {
namespace {

ZKR_COUNTER_CELL(CounterF1, "F1", "kill -9 the follower a client is connected to, restart it",
                 "no lost, no doubled increment; every client proceeds after reconnecting");
TEST_P(CounterF1, KillTheClientsFollower) {
  auto& rig = run(rig_options(by_variant({2000ms, 3000ms, 4000ms})));
  ASSERT_TRUE(rig.wait_ok(10, 15s));
  const int leader = faults().leader();
  const int victim = client_on_follower(rig, leader);
  const int n = victim >= 0 ? server_of(rig.session(victim)) : (leader % 3) + 1;
  event("victim: client " + std::to_string(victim) + " on server " + std::to_string(n));
  const auto t_fault = monotonic_ns();
  faults().kill(n);
  std::this_thread::sleep_for(between(1000ms, 3000ms)); // the server stays down a while
  faults().start(n);
  faults().wait_healthy();
  expect_progress_since(rig, t_fault, 3, 20s);
  done();
}

ZKR_COUNTER_CELL(CounterF2, "F2", "kill -9 the leader, restart it",
                 "no lost, no doubled increment; progress within election + reconnect time");
TEST_P(CounterF2, KillTheLeader) {
  auto& rig = run(rig_options(by_variant({2000ms, 3000ms, 4000ms})));
  ASSERT_TRUE(rig.wait_ok(10, 15s));
  const int leader = faults().leader();
  const auto t_fault = monotonic_ns();
  faults().kill(leader);
  const auto t0 = Clock::now();
  EXPECT_TRUE(rig.wait_ok(rig.history().size() + 5, 20s)) << "no progress after the leader died";
  measure("first_progress_after_leader_kill_ms=" +
          std::to_string(std::chrono::duration_cast<Ms>(Clock::now() - t0).count()));
  std::this_thread::sleep_for(between(0ms, 1000ms));
  faults().start(leader);
  faults().wait_healthy();
  expect_progress_since(rig, t_fault, 3, 20s);
  done();
}

ZKR_COUNTER_CELL(CounterF3, "F3", "pause (SIGSTOP) the leader past syncLimit (2.5 s), resume it",
                 "no lost, no doubled increment; sessions kept or their loss reported");
TEST_P(CounterF3, PauseTheLeaderPastSyncLimit) {
  auto& rig = run(rig_options(by_variant({3000ms, 4000ms, 6000ms})));
  ASSERT_TRUE(rig.wait_ok(10, 15s));
  const int leader = faults().leader();
  const auto t_fault = monotonic_ns();
  const Ms pause = between(3500ms, 5000ms);
  faults().pause(leader);
  std::this_thread::sleep_for(pause);
  faults().resume(leader);
  faults().wait_healthy();
  expect_progress_since(rig, t_fault, 3, 25s);
  for (int i = 0; i < rig.size(); ++i) { // a changed session must have been reported lost first
    const auto st = rig.states(i);
    const bool renewed = rig.session(i).session_id() != rig.first_session(i);
    const bool reported =
        std::any_of(st.begin(), st.end(), [](const auto& s) { return s.what == "lost"; });
    EXPECT_TRUE(!renewed || reported) << "client " << i << " changed session silently";
  }
  done();
}

ZKR_COUNTER_CELL(CounterF4, "F4",
                 "pause the server a client is connected to for half the session timeout",
                 "no duplicate apply; the session survives (no loss reported)");
TEST_P(CounterF4, PauseTheClientsServerForHalfTheSessionTimeout) {
  const Ms timeout = by_variant({2000ms, 3000ms, 4000ms});
  auto& rig = run(rig_options(timeout));
  ASSERT_TRUE(rig.wait_ok(10, 15s));
  const int victim = static_cast<int>(rng()() % 3);
  const int n = server_of(rig.session(victim));
  ASSERT_NE(n, 0);
  const auto id = rig.session(victim).session_id();
  const auto t_fault = monotonic_ns();
  faults().pause(n);
  std::this_thread::sleep_for(rig.session(victim).negotiated_timeout() / 2);
  faults().resume(n);
  faults().wait_healthy();
  expect_progress_since(rig, t_fault, 3, 15s);
  EXPECT_EQ(rig.session(victim).session_id(), id) << "the victim's session did not survive";
  for (int i = 0; i < rig.size(); ++i)
    for (const auto& s : rig.states(i))
      EXPECT_NE(s.what, "lost") << "client " << i << " reported its session lost";
  done();
}

ZKR_COUNTER_CELL(CounterF9, "F9",
                 "one server isolated from its peers (iptables on the quorum ports), then healed",
                 "clients move to the majority and continue; no increment succeeds on the "
                 "minority; no lost, no doubled increment");
TEST_P(CounterF9, IsolateOneServer) {
  const int leader = faults().leader();
  // Variant 0 isolates the leader, the others a follower.
  const int n = variant() == 0 ? leader : (leader + static_cast<int>(rng()() % 2)) % 3 + 1;
  auto o = rig_options(by_variant({4000ms, 5000ms, 6000ms}));
  o.hosts = {zkt::server_address(n)}; // client 0 can only reach the isolated server
  auto& rig = run(o);
  ASSERT_TRUE(rig.wait_ok(10, 15s));
  event("minority probe: client 0 on server " + std::to_string(n) +
        (n == leader ? " (the leader)" : " (a follower)"));
  faults().isolate(n);
  const auto t_iso = monotonic_ns();
  const auto iso_end = Clock::now() + between(6000ms, 8000ms);
  for (int i = 1; i < rig.size(); ++i)
    EXPECT_TRUE(wait_until([&] { return rig.ok_of_since(i, t_iso) >= 2; },
                           std::chrono::duration_cast<Ms>(iso_end - Clock::now())))
        << "client " << i << " did not continue on the majority";
  std::this_thread::sleep_until(iso_end);
  for (int i = 1; i < rig.size(); ++i)
    EXPECT_NE(server_of(rig.session(i)), n) << "client " << i << " is still on the isolated server";
  const auto t_heal = monotonic_ns();
  faults().heal();
  faults().wait_healthy();
  std::size_t minority_ops = 0;
  for (const auto& op : rig.history_of(0)) {
    if (op.invoke_ns <= t_iso || op.complete_ns >= t_heal) continue;
    ++minority_ops;
    EXPECT_NE(op.outcome, Outcome::ok) << "an increment succeeded on the isolated server";
  }
  measure("minority_attempts=" + std::to_string(minority_ops));
  expect_progress_since(rig, t_heal, 2, 30s);
  done();
}

ZKR_COUNTER_CELL(CounterF10, "F10", "the whole ensemble killed (kill -9 all three) and restarted",
                 "every acknowledged increment survives; clients continue afterwards (no lost, no "
                 "doubled increment)");
TEST_P(CounterF10, KillAndRestartTheWholeEnsemble) {
  auto& rig = run(rig_options(by_variant({3000ms, 8000ms, 20000ms})));
  ASSERT_TRUE(rig.wait_ok(10, 15s));
  const auto t0 = Clock::now();
  for (int n : {1, 2, 3})
    faults().kill(n);
  std::this_thread::sleep_for(between(500ms, 2000ms));
  for (int n : {1, 2, 3})
    faults().start(n);
  faults().wait_healthy();
  const auto t_up = monotonic_ns();
  measure("outage_ms=" + std::to_string(std::chrono::duration_cast<Ms>(Clock::now() - t0).count()));
  expect_progress_since(rig, t_up, 3, 40s);
  done();
}
} // namespace
} // namespace zkt::matrix
