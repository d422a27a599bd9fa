// The fault matrix for zk::DistributedCounter, faults aimed at one client: server-side expiry
// mid-increment (F5), a stopped client process (F6), lost replies (F7) and black-holed client links
// (F8). The ensemble faults are in counter_matrix_test.cpp.
#include "counter_rig.hpp"
#include "support/fault_proxy.hpp"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

using namespace std::chrono_literals;

namespace zkt::matrix {
namespace {

ZKR_COUNTER_CELL(CounterF5, "F5",
                 "server-side session expiry mid-increment: the reply to an applied setData is "
                 "lost (fault proxy), reconnection is refused, the session is expired "
                 "(zkt::expire_session), then the client may reconnect",
                 "acknowledged = applied (the write in flight is proven on the new session or "
                 "reported indeterminate, never counted twice); the expiry is reported and the "
                 "client continues on a new session");
TEST_P(CounterF5, ExpiryMidIncrement) {
  zkt::FaultProxy proxy(zkt::hosts());
  auto o = rig_options(by_variant({2000ms, 3000ms, 4000ms}));
  o.hosts = {proxy.connect_string()}; // client 0 is the victim; the others keep writing
  o.deadline = 4000ms;
  // How fast the others write decides what the victim can prove on its new session: its writer
  // tag survives in the node's trailer for 8 writes, after which the outcome is indeterminate.
  const Ms others = by_variant({1000ms, 200ms, 20ms});
  o.idle_max_of = {20ms, others, others};
  auto& rig = run(o);
  ASSERT_TRUE(rig.wait_ok(10, 15s));
  std::size_t applied = 0;
  for (int round = 0; round < 3; ++round) {
    std::this_thread::sleep_for(between(0ms, 300ms));
    const auto id = rig.session(0).session_id();
    const auto before = proxy.dropped().size();
    // The victim's next setData is applied, its reply lost, and it cannot reconnect: its session
    // is then expired while the increment is still in flight.
    proxy.refuse(true);
    proxy.drop_reply_after_apply(zkt::opcode::set_data);
    ASSERT_TRUE(proxy.wait_for_drops(before + 1, 15s)) << "round " << round;
    applied += proxy.dropped().back().err == 0 ? 1U : 0U;
    std::this_thread::sleep_for(between(0ms, 200ms));
    const auto t = monotonic_ns();
    event("expire the victim's session with a write in flight (round " + std::to_string(round) +
          ")");
    zkt::expire_session(rig.session(0).client_id());
    proxy.refuse(false);
    EXPECT_TRUE(wait_until([&] { return rig.session(0).session_id() != id; }, 15s))
        << "the victim never got a new session";
    EXPECT_TRUE(wait_until([&] { return rig.ok_of_since(0, t) >= 2; }, 15s))
        << "the victim made no progress after the expiry:" << rig.describe_since(0, t);
  }
  const auto st = rig.states(0);
  EXPECT_GE(std::count_if(st.begin(), st.end(), [](const auto& s) { return s.what == "lost"; }), 3)
      << "an expiry was not reported";
  const auto mine = rig.history_of(0);
  measure("expiries_with_write_in_flight=3 of_applied_writes=" + std::to_string(applied) +
          " victim_indeterminate=" +
          std::to_string(std::count_if(mine.begin(), mine.end(), [](const CounterOp& op) {
            return op.outcome == Outcome::indeterminate;
          })));
  done();
}

ZKR_COUNTER_CELL(CounterF6, "F6",
                 "SIGSTOP a client process mid-increment for 2x its session timeout, SIGCONT",
                 "the stale client's conditional writes are rejected: no lost, no doubled "
                 "increment; it continues");
TEST_P(CounterF6, StopTheClientProcessForTwiceTheSessionTimeout) {
  const Ms timeout = by_variant({1500ms, 2000ms, 3000ms});
  auto o = rig_options(3000ms);
  o.clients = 2;
  run(o);
  const std::string file =
      "/tmp/zkr-matrix-f6-" + std::to_string(::getpid()) + "-" + std::to_string(seed());
  std::remove(file.c_str());
  Child worker(
      {"counter-inc", zkt::hosts(), o.path, std::to_string(timeout.count()), file, "2000"});
  ASSERT_FALSE(worker.wait_for("READY", 20s).empty());
  const auto worker_ops = [&] {
    std::ifstream in(file);
    return read_counter_ops(in);
  };
  ASSERT_TRUE(wait_until([&] { return worker_ops().size() >= 10; }, 15s));
  std::this_thread::sleep_for(between(0ms, 200ms));
  event("SIGSTOP the worker for " + std::to_string(2 * timeout.count()) + " ms");
  worker.signal(SIGSTOP);
  std::this_thread::sleep_for(2 * timeout);
  worker.signal(SIGCONT);
  const auto t_resume = monotonic_ns();
  event("SIGCONT the worker");
  EXPECT_TRUE(wait_until(
      [&] {
        const auto ops = worker_ops();
        return std::count_if(ops.begin(), ops.end(), [&](const CounterOp& op) {
                 return op.outcome == Outcome::ok && op.invoke_ns > t_resume;
               }) >= 3;
      },
      20s))
      << "the resumed worker made no progress";
  worker.write_line("stop");
  EXPECT_FALSE(worker.wait_for("DONE", 15s).empty());
  EXPECT_EQ(worker.wait(5s), 0);
  const auto extra = worker_ops();
  std::remove(file.c_str());
  std::size_t refused = 0; // adds after SIGCONT whose first conditional write was refused
  for (const auto& line : worker.lines())
    if (line.rfind("REFUSED ", 0) == 0 && std::stoll(line.substr(8)) > t_resume) ++refused;
  measure("worker_ops=" + std::to_string(extra.size()) +
          " worker_adds_after_resume_with_a_refused_write=" + std::to_string(refused));
  done(extra);
}

ZKR_COUNTER_CELL(CounterF7, "F7",
                 "the reply to create2 / setData lost after the server applied it (fault proxy)",
                 "no double increment; at worst an explicit indeterminate");
TEST_P(CounterF7, LostRepliesAfterApply) {
  zkt::FaultProxy proxy(zkt::hosts());
  auto o = rig_options(by_variant({2000ms, 4000ms, 6000ms}));
  o.hosts = {proxy.connect_string()}; // client 0 is the victim; the others start parked
  o.parked = {1, 2};
  auto& rig = run(o);
  proxy.drop_reply_after_apply(zkt::opcode::create2); // the first write creates the node
  ASSERT_TRUE(proxy.wait_for_drops(1, 15s)) << "the create's reply was never dropped";
  rig.park(1, false);
  rig.park(2, false);
  ASSERT_TRUE(rig.wait_ok(10, 15s));
  // The victim's setData replies are dropped one at a time. A dropped reply of a refused write
  // (bad_version: nothing applied) proves little, so the others pause until the victim's write
  // is out, then write while the victim reconnects and proves its outcome (its tag may be buried
  // under theirs by then); the cell re-arms until `wanted` applied writes lost their reply.
  const std::size_t wanted = static_cast<std::size_t>(3 + variant());
  const auto applied = [&] {
    std::size_t n = 0;
    for (const auto& d : proxy.dropped())
      n += d.op_type == zkt::opcode::set_data && d.err == 0 ? 1 : 0;
    return n;
  };
  for (int attempt = 0; attempt < 20 && applied() < wanted; ++attempt) {
    rig.park(1, true);
    rig.park(2, true);
    ASSERT_TRUE(rig.wait_idle(1, 10s) && rig.wait_idle(2, 10s));
    const auto quiet = monotonic_ns();
    ASSERT_TRUE(wait_until([&] { return rig.ok_of_since(0, quiet) >= 1; }, 10s));
    const auto t = monotonic_ns();
    const auto before = proxy.dropped().size();
    proxy.drop_reply_after_apply(zkt::opcode::set_data);
    EXPECT_TRUE(proxy.wait_for_drops(before + 1, 15s)) << "attempt " << attempt;
    rig.park(1, false); // they write while the victim reconnects and proves its write
    rig.park(2, false);
    EXPECT_TRUE(wait_until([&] { return rig.ok_of_since(0, t) >= 2; }, 15s))
        << "the victim made no progress after a lost reply";
  }
  EXPECT_GE(applied(), wanted) << "too few applied writes had their reply dropped";
  EXPECT_EQ(proxy.dropped().front().err, 0) << "the create's dropped reply was a refusal";
  const auto mine = rig.history_of(0);
  measure("dropped_replies=" + std::to_string(proxy.dropped().size()) +
          " of_applied_writes=" + std::to_string(applied() + 1) + " victim_indeterminate=" +
          std::to_string(std::count_if(mine.begin(), mine.end(), [](const CounterOp& op) {
            return op.outcome == Outcome::indeterminate;
          })));
  done();
}

ZKR_COUNTER_CELL(
    CounterF8, "F8",
    "every link of two clients black-holed (fault proxy) for 0.5x, then 2x the session timeout",
    "typed error by each call's deadline, no hang; 0.5x: sessions survive; 2x: loss reported "
    "before the heal, then progress; no lost, no doubled increment");
TEST_P(CounterF8, BlackHoledLinks) {
  zkt::FaultProxy proxy(zkt::hosts());
  struct Heal {
    zkt::FaultProxy& p;
    ~Heal() { p.blackhole(false); }
  } heal{proxy};
  const Ms timeout = by_variant({2000ms, 2500ms, 3000ms});
  auto o = rig_options(timeout);
  o.hosts = {proxy.connect_string(), proxy.connect_string()}; // client 2 stays direct
  o.deadline = 1500ms;
  auto& rig = run(o);
  ASSERT_TRUE(rig.wait_ok(10, 15s));
  const auto lost_count = [&](int i, std::int64_t before) {
    const auto st = rig.states(i);
    return std::count_if(st.begin(), st.end(),
                         [&](const auto& s) { return s.what == "lost" && s.ns < before; });
  };
  // 0.5x: nothing lost.
  const std::int64_t ids[2] = {rig.session(0).session_id(), rig.session(1).session_id()};
  std::this_thread::sleep_for(between(0ms, timeout / 3));
  event("black hole for 0.5x");
  proxy.blackhole(true);
  std::this_thread::sleep_for(timeout / 2);
  proxy.blackhole(false);
  const auto t_half = monotonic_ns();
  for (int i = 0; i < 2; ++i) {
    EXPECT_TRUE(wait_until([&] { return rig.ok_of_since(i, t_half) >= 2; }, 15s)) << "client " << i;
    EXPECT_EQ(rig.session(i).session_id(), ids[i]) << "client " << i << " lost its session at 0.5x";
    EXPECT_EQ(lost_count(i, monotonic_ns()), 0) << "client " << i << " reported a loss at 0.5x";
  }
  // 2x: the local timer reports the loss before the heal.
  std::this_thread::sleep_for(between(0ms, timeout / 3));
  event("black hole for 2x");
  const auto t0 = Clock::now();
  proxy.blackhole(true);
  const auto heal_at = t0 + 2 * timeout;
  const std::int64_t heal_ns =
      monotonic_ns() + std::chrono::duration_cast<std::chrono::nanoseconds>(2 * timeout).count();
  wait_until([&] { return lost_count(0, heal_ns) > 0 && lost_count(1, heal_ns) > 0; },
             std::chrono::duration_cast<Ms>(heal_at - Clock::now()));
  std::this_thread::sleep_until(heal_at);
  proxy.blackhole(false);
  const auto t_heal = monotonic_ns();
  for (int i = 0; i < 2; ++i) {
    EXPECT_GT(lost_count(i, t_heal), 0) << "client " << i << ": no loss reported before the heal";
    EXPECT_TRUE(wait_until([&] { return rig.ok_of_since(i, t_heal) >= 2; }, 3 * timeout + 15s))
        << "client " << i << " made no progress after the heal";
  }
  done();
}

} // namespace
} // namespace zkt::matrix
