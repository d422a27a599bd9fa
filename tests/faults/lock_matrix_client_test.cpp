// The fault matrix for zk::DistributedLock, faults aimed at one client: server-side expiry while
// holding and while waiting (F5), a holder process stopped (F6) or killed (F12), lost replies
// (F7) and black-holed client links (F8). The ensemble faults are in lock_matrix_test.cpp.
#include "lock_rig.hpp"
#include "support/fault_proxy.hpp"

#include <signal.h>

#include <sstream>

using namespace std::chrono_literals;

namespace zkt::matrix {
namespace {

std::int64_t field(const std::string& line, int index) { // the index-th word as a number
  std::istringstream in(line);
  std::string w;
  for (int i = 0; i <= index; ++i)
    in >> w;
  return std::stoll(w);
}

ZKR_LOCK_CELL(
    LockF5, "F5",
    "server-side session expiry (zkt::expire_session) of the holder, then of a waiter",
    "the holder is told it lost the lock and no fenced write of its stale token is accepted (its "
    "hold is cut where the expiry began: the server ends a session before its client can know); "
    "the next waiter acquires; the expired waiter requeues and acquires; no orphan node");
TEST_P(LockF5, ExpiryWhileHoldingAndWhileWaiting) {
  const std::string lock_path = root() + "/lock";
  auto& rig = run(rig_options(by_variant({2000ms, 3000ms, 4000ms})));
  const auto t_start = monotonic_ns();
  ASSERT_TRUE(rig.wait_holds(5, 15s)) << rig.describe_since(t_start);
  // While holding.
  const int holder = static_cast<int>(rng()() % 3);
  rig.pin(holder);
  ASSERT_TRUE(rig.wait_pinned_holding(holder, 15s))
      << "the holder never held:" << rig.describe_since(t_start);
  std::this_thread::sleep_for(between(0ms, 300ms));
  auto t = monotonic_ns();
  event("expire the holder's session (contender " + std::to_string(holder) + ")");
  zkt::expire_session(rig.session(holder).client_id());
  rig.forced_expiry(holder, t, monotonic_ns());
  EXPECT_TRUE(wait_until([&] { return !rig.losses(holder).empty(); }, 10s))
      << "the holder was not told it lost the lock:" << rig.describe_since(t);
  EXPECT_TRUE(wait_until([&] { return rig.first_hold_after(t) > 0; }, 10s))
      << "no waiter acquired the expired holder's lock:" << rig.describe_since(t);
  rig.unpin(holder);
  expect_no_orphans(rig, lock_path);
  // While waiting: others hold every place (the semaphore's: both other contenders), the victim
  // waits behind them.
  static_assert(semaphore_max == 2, "F5's semaphore keepers are the two contenders not expired");
  const int waiter = (holder + 2) % 3;
  std::vector<int> keepers{(holder + 1) % 3};
  if (recipe() == Recipe::semaphore) keepers.push_back(holder);
  for (int k : keepers)
    rig.pin(k);
  const auto t_pin = monotonic_ns();
  for (int k : keepers)
    ASSERT_TRUE(rig.wait_pinned_holding(k, 15s))
        << "keeper " << k << " never held:" << rig.describe_since(t_pin);
  std::this_thread::sleep_for(between(200ms, 600ms)); // the waiter is queued by now
  t = monotonic_ns();
  event("expire a waiter's session (contender " + std::to_string(waiter) + ")");
  zkt::expire_session(rig.session(waiter).client_id());
  rig.forced_expiry(waiter, t, monotonic_ns());
  std::this_thread::sleep_for(between(300ms, 1000ms));
  for (int k : keepers)
    rig.unpin(k);
  EXPECT_TRUE(wait_until([&] { return rig.holds_of_since(waiter, t) >= 1; }, 15s))
      << "the expired waiter never acquired on its new session:" << rig.describe_since(t);
  expect_no_orphans(rig, lock_path);
  done();
}

ZKR_LOCK_CELL(LockF6, "F6",
              "SIGSTOP the client process holding the lock for 2x its session timeout, SIGCONT "
              "(variant 2: its first call after SIGCONT is release())",
              "another client acquires; on resume, before any request, the stopped holder's "
              "owns_lock() is false and fenced() is refused locally with lock_lost; on_lost fires "
              "exactly once; release() reports lock_lost; no write with its stale token accepted");
TEST_P(LockF6, StopTheHolderProcessForTwiceTheSessionTimeout) {
  const Ms timeout = by_variant({1500ms, 2000ms, 3000ms});
  const bool release_first = variant() == 2; // the loss must not be swallowed by the unlock
  auto o = rig_options(3000ms);
  o.contenders = 2;
  Child worker(
      {hold_mode(), zkt::hosts(), o.lock_path, o.fence_dir, std::to_string(timeout.count())});
  ASSERT_FALSE(worker.wait_for("READY", 20s).empty());
  const std::string held = worker.wait_for("HELD", 20s);
  ASSERT_FALSE(held.empty()) << "the worker did not get the lock";
  auto& rig = run(o);
  ASSERT_FALSE(worker.wait_for("FENCE ok", 5s).empty());
  std::this_thread::sleep_for(between(200ms, 1000ms));
  EXPECT_EQ(freed_after(rig, 0), -1) << "the rig took the worker's place while it held it";
  HoldRecord w{field(held, 1), worker.pid(), 0, field(held, 2), 0};
  worker.signal(SIGSTOP);
  w.exit_ns = monotonic_ns(); // it cannot act after this
  const auto t_stop = Clock::now();
  event("SIGSTOP the holder process for " + std::to_string(2 * timeout.count()) + " ms");
  EXPECT_TRUE(wait_until([&] { return freed_after(rig, w.exit_ns) > 0; }, 2 * timeout))
      << "nobody took the stopped holder's place while it was stopped";
  std::this_thread::sleep_until(t_stop + 2 * timeout);
  if (release_first) worker.write_line("release"); // read first thing after SIGCONT
  const auto t_cont = monotonic_ns();              // before: anything it starts is after it
  worker.signal(SIGCONT);
  event(std::string("SIGCONT the holder process") + (release_first ? " (it releases first)" : ""));
  EXPECT_FALSE(worker.wait_for("LOST", timeout + 10s).empty())
      << "the stopped holder never learned it lost";
  if (!release_first) {
    EXPECT_FALSE(worker.wait_for("FENCE", 5s).empty());
    worker.drain(300ms);
    worker.write_line("release");
  }
  EXPECT_FALSE(worker.wait_for("BYE", 15s).empty());
  EXPECT_EQ(worker.wait(5s), 0);
  std::size_t refused = 0;
  std::size_t losses = 0;
  bool first_after_resume = true;
  // The lock reports why (session_lost) and release() reports the loss again; the election's
  // on_follower says the term ended, and fenced() refuses with not_leader.
  const bool election = recipe() == Recipe::election;
  const std::string refused_with = election ? "FENCE not_leader" : "FENCE lock_lost";
  for (const auto& line : worker.lines()) {
    if (line.rfind("LOST ", 0) == 0) {
      ++losses;
      EXPECT_EQ(line.rfind(election ? "LOST on_follower" : "LOST session_lost", 0), 0U) << line;
    }
    if (line.rfind("RELEASE ", 0) == 0 && !election) {
      EXPECT_EQ(line, "RELEASE lock_lost") << "release() did not report the lost hold";
    }
    // Calls begun after the resume ("FENCE outcome END START ..."): one begun before the stop may
    // have been applied then, its reply read only after SIGCONT.
    if (line.rfind("FENCE ", 0) != 0 || field(line, 3) <= t_cont) continue;
    EXPECT_EQ(line.rfind("FENCE ok", 0), std::string::npos)
        << "a fenced write with the stale token was accepted after SIGCONT: " << line;
    if (first_after_resume) {
      first_after_resume = false; // the first call made after the resume
      EXPECT_EQ(field(line, 4), 0) << "owns_lock() said held after the pause: " << line;
      EXPECT_EQ(line.rfind(refused_with, 0), 0U) << line;
      EXPECT_EQ(field(line, 5), 1) << "fenced() sent a request instead of refusing: " << line;
    }
    ++refused;
  }
  EXPECT_EQ(losses, 1U) << "on_lost must fire exactly once for the one lost hold";
  if (!release_first) {
    EXPECT_FALSE(first_after_resume) << "no fenced call after the resume";
  }
  measure("stale_writes_refused=" + std::to_string(refused));
  done({w});
}

ZKR_LOCK_CELL(LockF7, "F7",
              "the reply to the lock's create2, then to a fenced multi, lost after the server "
              "applied it (fault proxy)",
              "no orphan node: the lock adopts the node it created, found by its GUID (its token "
              "is the lost create's zxid); after the lost fenced multi (applied) the lock is still "
              "held, certain, nothing lost");
TEST_P(LockF7, LostRepliesAfterApply) {
  zkt::FaultProxy proxy(zkt::hosts());
  auto o = rig_options(by_variant({2000ms, 3000ms, 4000ms}));
  const std::string lock_path = o.lock_path;
  for (const auto& dir : node_dirs(recipe(), lock_path)) // so that the dropped create is the
    admin().ensure_path(dir);         // lock node's (the lease's), not a parent's
  o.hosts = {proxy.connect_string()}; // contender 0 is the victim
  // Variant 0: the lock is free when the victim's create is lost; otherwise others hold and wait.
  o.parked = variant() == 0 ? std::vector<int>{0, 1, 2} : std::vector<int>{0};
  auto& rig = run(o);
  if (variant() != 0) {
    ASSERT_TRUE(rig.wait_holds(3, 15s));
  }
  // A semaphore's acquisition makes two nodes (its lock's, then the lease): both replies are lost;
  // the token is the lease's.
  const std::size_t creates = recipe() == Recipe::semaphore ? 2 : 1;
  for (int round = 0; round < 2; ++round) {
    const auto before = proxy.dropped().size();
    const auto holds = rig.holds_of(0);
    proxy.drop_reply_after_apply(zkt::opcode::create2, static_cast<int>(creates));
    rig.park(0, false);
    ASSERT_TRUE(proxy.wait_for_drops(before + creates, 15s)) << "round " << round;
    const auto drop = proxy.dropped().back();
    for (std::size_t d = before; d < proxy.dropped().size(); ++d)
      EXPECT_EQ(proxy.dropped()[d].err, 0) << "the lost create was refused: nothing to recover";
    if (!rig.wait_holds_of(0, holds + 1, 20s)) {
      expect_no_orphans(rig, lock_path, 1s); // names the node a blind re-create left behind
      FAIL() << "the victim never got the lock after its create's reply was lost";
    }
    EXPECT_EQ(rig.tokens_of(0).at(holds), drop.zxid)
        << "the victim holds a node other than the one its lost create made (not found by GUID)";
    rig.park(0, true);
    expect_no_orphans(rig, lock_path);
    if (round == 0 && variant() == 0) {
      rig.park(1, false);
      rig.park(2, false);
    }
  }
  // A fenced write whose reply is lost: the session and the lock survive it.
  rig.pin(0);
  rig.park(0, false);
  ASSERT_TRUE(rig.wait_pinned_holding(0, 20s));
  const auto before = proxy.dropped().size();
  proxy.drop_reply_after_apply(zkt::opcode::multi);
  ASSERT_TRUE(proxy.wait_for_drops(before + 1, 15s));
  EXPECT_EQ(proxy.dropped().back().err, 0);
  std::this_thread::sleep_for(500ms);
  EXPECT_TRUE(wait_until([&] { return !rig.target(0).uncertain(); }, 10s));
  EXPECT_TRUE(rig.target(0).holds()) << "a lost fenced write cost the lock";
  EXPECT_TRUE(rig.losses(0).empty());
  rig.unpin(0);
  measure("dropped_replies=" + std::to_string(proxy.dropped().size()));
  done();
}

ZKR_LOCK_CELL(
    LockF8, "F8",
    "every link of the holder black-holed (fault proxy) for 0.5x, then 2x the session timeout",
    "0.5x: nothing lost; 2x: the loss reported by the local timer before the partition heals, "
    "another contender acquires, never two holders; calls keep their deadlines");
TEST_P(LockF8, BlackHoledLinks) {
  zkt::FaultProxy proxy(zkt::hosts());
  struct Heal {
    zkt::FaultProxy& p;
    ~Heal() { p.blackhole(false); }
  } heal{proxy};
  const Ms timeout = by_variant({2000ms, 2500ms, 3000ms});
  auto o = rig_options(timeout);
  o.hosts = {proxy.connect_string()}; // contender 0 is the victim
  auto& rig = run(o);
  ASSERT_TRUE(rig.wait_holds(5, 15s));
  // 0.5x: nothing lost.
  rig.pin(0);
  ASSERT_TRUE(rig.wait_pinned_holding(0, 15s));
  const auto id = rig.session(0).session_id();
  const auto token = rig.target(0).token();
  auto t = monotonic_ns();
  event("black hole for 0.5x");
  proxy.blackhole(true);
  std::this_thread::sleep_for(timeout / 2);
  proxy.blackhole(false);
  std::this_thread::sleep_for(timeout); // the client may notice the silence only now
  EXPECT_TRUE(wait_until([&] { return !rig.target(0).uncertain(); }, 10s));
  EXPECT_TRUE(rig.target(0).holds()) << "the holder lost the lock at 0.5x";
  EXPECT_EQ(rig.target(0).token(), token);
  EXPECT_EQ(rig.session(0).session_id(), id);
  EXPECT_TRUE(rig.losses(0).empty());
  if (exclusive(rig, 0)) {
    EXPECT_EQ(rig.first_hold_after(t), -1) << "someone else got the lock at 0.5x";
  }
  expect_whole_holds_keep_the_rule(rig);
  rig.unpin(0);
  // 2x: lost by the local timer before the heal; another contender acquires meanwhile.
  ASSERT_TRUE(rig.wait_holds_of(0, rig.holds_of(0) + 1, 15s));
  rig.pin(0);
  ASSERT_TRUE(rig.wait_pinned_holding(0, 15s));
  t = monotonic_ns();
  const auto t0 = Clock::now();
  event("black hole for 2x");
  proxy.blackhole(true);
  const auto heal_at = t0 + 2 * timeout;
  EXPECT_TRUE(wait_until([&] { return !rig.losses(0).empty(); },
                         std::chrono::duration_cast<Ms>(heal_at - Clock::now())))
      << "no loss reported before the heal";
  EXPECT_TRUE(wait_until([&] { return rig.first_hold_after(t) > 0; },
                         std::chrono::duration_cast<Ms>(heal_at - Clock::now())))
      << "nobody acquired while the holder was cut off";
  std::this_thread::sleep_until(heal_at);
  proxy.blackhole(false);
  const auto t_heal = monotonic_ns();
  rig.unpin(0);
  EXPECT_TRUE(wait_until([&] { return rig.holds_of_since(0, t_heal) >= 1; }, 3 * timeout + 15s))
      << "the victim never got the lock again after the heal";
  done();
}

ZKR_LOCK_CELL(
    LockF12, "F12", "kill -9 the client process holding the lock",
    "the next waiter acquires within the session timeout + 1 s; never two holders; no orphan node");
TEST_P(LockF12, KillTheHolderProcess) {
  const Ms timeout = by_variant({1000ms, 2000ms, 3000ms});
  auto o = rig_options(3000ms);
  o.contenders = 2;
  Child worker(
      {hold_mode(), zkt::hosts(), o.lock_path, o.fence_dir, std::to_string(timeout.count())});
  ASSERT_FALSE(worker.wait_for("READY", 20s).empty());
  const std::string held = worker.wait_for("HELD", 20s);
  ASSERT_FALSE(held.empty()) << "the worker did not get the lock";
  auto& rig = run(o);
  std::this_thread::sleep_for(between(200ms, 1000ms)); // the others queue behind it
  HoldRecord w{field(held, 1), worker.pid(), 0, field(held, 2), 0};
  worker.signal(SIGKILL);
  w.exit_ns = monotonic_ns();
  event("kill -9 the holder process");
  EXPECT_EQ(worker.wait(5s), 128 + SIGKILL);
  EXPECT_TRUE(wait_until([&] { return freed_after(rig, w.exit_ns) > 0; }, timeout + 5s))
      << "nobody took the killed holder's place:" << rig.describe_since(w.exit_ns);
  const auto first = freed_after(rig, w.exit_ns);
  const auto took = Ms((first - w.exit_ns) / 1000000);
  measure("acquired_after_kill_ms=" + std::to_string(took.count()) +
          " session_timeout_ms=" + std::to_string(timeout.count()));
  EXPECT_GT(first, 0);
  EXPECT_LE(took.count(), (timeout + 1000ms).count())
      << "ms: the next waiter took longer than the session timeout + 1 s";
  expect_no_orphans(rig, o.lock_path);
  done({w});
}

} // namespace
} // namespace zkt::matrix

// Regression (found by LockF5): a multi issued on a handle the server expired, before it is
// renewed, must fail with a typed error. zoo_amulti of the 3.8.0 C client frees an uninitialised
// pointer for every op after the first on such a handle; the session must not call it then.
TEST(MatrixRegression, MultiOnAnExpiredHandleFailsCleanly) {
  zkt::RootGuard root("matrix-multi-expired");
  auto o = zkt::options(2000ms);
  o.renew_after_expiry = false; // keep the expired handle
  o.log_level = zk::LogLevel::error;
  zk::Session s(o);
  const std::string a = root.path() + "/a";
  s.create(a, "x");
  zkt::expire_session(s.client_id());
  ASSERT_TRUE(zkt::wait_until([&] { return s.state() == zk::SessionState::lost; }, 15s));
  for (int i = 0; i < 200; ++i) {
    try {
      (void)s.multi({zk::Op::check(a), zk::Op::set(a, "y"), zk::Op::create(a + "-c", "z")}, 2s);
      ADD_FAILURE() << "a multi on an expired session returned a result";
    } catch (const zk::Error& e) {
      ASSERT_TRUE(e.errc() == zk::Errc::session_expired || e.errc() == zk::Errc::session_lost)
          << e.what();
    }
  }
}
