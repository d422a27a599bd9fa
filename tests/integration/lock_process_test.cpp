// The lock across processes: many processes and threads under a mutual-exclusion checker, a holder
// killed with SIGKILL, a thousand asynchronous waiters on one thread of an Asio io_context (where
// standalone Asio is installed, as scripts/install-deps.sh does), and interoperation with Curator's
// InterProcessMutex and Kazoo's Lock.
//
// ZKR_LOCK_INTEROP_ACQUISITIONS=N sets the acquisitions per path of the mixed runs (default 160;
// the acceptance run uses 1000).
#include "lock_harness.hpp"

#include <gtest/gtest.h>

#if __has_include(<asio.hpp>)
#include <zkrecipes/asio.hpp>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#define ZKR_TEST_ASIO 1
#endif

#include <signal.h>

#include <atomic>
#include <fstream>
#include <future>
#include <iostream>
#include <thread>

using namespace std::chrono_literals;
using zk::DistributedLock;
using zkt::Contenders;
using zkt::lock::Child;

namespace {

using zkt::lock::child_count;

int env_int(const char* name, int fallback) {
  const char* env = std::getenv(name);
  return env != nullptr && *env != '\0' ? std::atoi(env) : fallback;
}

// After every contender is gone: no node, no watch, no ephemeral left under the path.
void expect_nothing_left(zk::Session& s, const std::string& path) {
  EXPECT_EQ(child_count(s, path), 0U);
  EXPECT_TRUE(zkt::wait_until([&] { return zkt::lock::watches_under(path) == 0; }, 10s))
      << zkt::lock::watches_under(path) << " watches left under " << path;
  EXPECT_EQ(zkt::lock::ephemerals_under(path), 0U);
}

void expect_excluded(std::vector<zkt::HoldRecord> holds, std::size_t expected, const char* what) {
  ASSERT_EQ(holds.size(), expected);
  const bool raw_increasing = zkt::check_mutual_exclusion(holds).ok(); // before folding handoffs
  const auto handoffs = zkt::lock::fold_local_handoffs(holds);         // also sorts by entry
  std::size_t switches = 0; // the lock passed from one process to another
  for (std::size_t i = 1; i < holds.size(); ++i)
    switches += holds[i].process != holds[i - 1].process;
  const auto verdict = zkt::check_mutual_exclusion(holds);
  EXPECT_TRUE(verdict.ok()) << verdict.explain();
  std::cout << "[ measured ] " << what << ": " << holds.size() << " holds, " << handoffs
            << " local handoffs, " << switches << " passes between processes, mutual exclusion "
            << (verdict.ok() ? "ok" : "VIOLATED") << ", raw tokens strictly increasing: "
            << (raw_increasing ? "yes" : "no (equal across local handoffs)") << '\n';
}

void many_processes(std::size_t handoffs) {
  zkt::RootGuard root("lock-procs");
  const std::string path = root.path() + "/l";
  constexpr int processes = 4, threads = 2, count = 25;
  Contenders all;
  for (int p = 0; p < processes; ++p)
    all.add(zkt::lock::worker({"contend", zkt::hosts(), path, std::to_string(threads),
                               std::to_string(count), std::to_string(handoffs), "200"}));
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(all.start());
  const auto holds = all.finish(120s);
  const auto took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "[ measured ] " << processes * threads * count << " acquisitions in " << took
            << " s\n";
  expect_excluded(holds, processes * threads * count,
                  handoffs ? "4 processes x 2 threads, local handoff on"
                           : "4 processes x 2 threads, no local handoff");
  if (handoffs == 0) { // every hold is its own ZooKeeper acquisition: raw tokens strictly increase
    const auto raw = zkt::check_mutual_exclusion(holds);
    EXPECT_TRUE(raw.ok()) << raw.explain();
  }
  expect_nothing_left(root.session(), path);
}

TEST(LockProcesses, ProcessesAndThreadsAreMutuallyExcluded) {
  many_processes(8);
}
TEST(LockProcesses, WithoutLocalHandoffEveryTokenIsNew) {
  many_processes(0);
}

TEST(LockProcesses, AKilledHolderIsReplacedWithinTheSessionTimeout) {
  zkt::RootGuard root("lock-kill");
  const std::string path = root.path() + "/l";
  constexpr auto session_timeout = 2000ms;
  Child holder(
      zkt::lock::worker({"hold", zkt::hosts(), path, std::to_string(session_timeout.count())}));
  ASSERT_FALSE(holder.wait_for("HELD", 30s).empty());

  zk::Session s(zkt::options());
  DistributedLock lock(s, path);
  auto acquired = std::async(std::launch::async, [&] {
    const bool ok = lock.try_lock_for(30s);
    return std::make_pair(ok, std::chrono::steady_clock::now());
  });
  ASSERT_TRUE(zkt::wait_until([&] { return child_count(s, path) == 2; }, 10s));
  const auto killed = std::chrono::steady_clock::now();
  holder.kill(SIGKILL);
  ASSERT_EQ(acquired.wait_for(20s), std::future_status::ready);
  const auto [ok, at] = acquired.get();
  ASSERT_TRUE(ok);
  const auto handover = std::chrono::duration_cast<std::chrono::milliseconds>(at - killed);
  std::cout << "[ measured ] kill -9 of the holder -> next holder after " << handover.count()
            << " ms (session timeout " << session_timeout.count() << " ms)\n";
  EXPECT_LT(handover, session_timeout + 1s);
  EXPECT_EQ(child_count(s, path), 1U);
  lock.unlock();
  EXPECT_EQ(child_count(s, path), 0U);
}

// --- Asynchronous waiters: no thread each. ------------------------------------------------------

int thread_count() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("Threads:", 0) == 0) return std::stoi(line.substr(8));
  return -1;
}

#ifdef ZKR_TEST_ASIO
// The acceptance run: one thread of an Asio io_context drives 1,000 waiters of
// zk::asio::async_lock on 10 paths, 4 other processes contending; every other waiter of each path
// is cancelled by Asio's per-operation cancellation while another session holds every path, then
// the paths are let go.
TEST(LockAsync, AThousandWaitersOnOneAsioThreadAreExcludedAndCancelledOnesLeaveNothing) {
  zkt::RootGuard root("lock-async-many");
  constexpr std::size_t paths = 10, waiters = 1000, others = 4, other_count = 25;
  zk::Session s(zkt::options());
  zk::Session blocking(zkt::options());
  asio::io_context io;
  auto work = asio::make_work_guard(io);
  struct Loop { // one thread runs io; stopped and joined whatever the test's outcome
    asio::io_context& io;
    std::thread thread;
    ~Loop() {
      io.stop();
      if (thread.joinable()) thread.join();
    }
  } loop{io, std::thread([&io] { io.run(); })};
  const auto on_loop = [&] { return io.get_executor().running_in_this_thread(); };
  std::vector<std::unique_ptr<DistributedLock>> locks, blockers;
  std::vector<std::string> names;
  for (std::size_t p = 0; p < paths; ++p) {
    names.push_back(root.path() + "/p" + std::to_string(p));
    locks.push_back(std::make_unique<DistributedLock>(s, names.back()));
    blockers.push_back(std::make_unique<DistributedLock>(blocking, names.back()));
    blockers.back()->lock();
  }
  Contenders contenders; // one process on each of the first paths
  for (std::size_t p = 0; p < others; ++p)
    contenders.add(zkt::lock::worker(
        {"contend", zkt::hosts(), names[p], "1", std::to_string(other_count), "0", "200"}));
  ASSERT_TRUE(contenders.start());
  std::vector<std::int64_t> pids; // taken now: a contender's id goes once it is waited for
  for (std::size_t p = 0; p < others; ++p)
    pids.push_back(contenders.pid_of(p));
  const int threads = thread_count(); // the sessions', the loop's, the test's: no more from here

  struct Outcome { // touched on the loop thread only, read once everything completed
    std::vector<std::vector<zkt::HoldRecord>> holds{paths};
    std::size_t granted = 0, cancelled = 0, other_errors = 0, completions = 0;
    int max_threads = 0;
    bool off_loop = false;
  } out;
  std::atomic<std::size_t> ended{0}; // cancelled waits, seen from the test thread
  std::promise<void> all_done;
  std::vector<asio::cancellation_signal> signals(waiters); // used on the loop thread only
  const auto start = std::chrono::steady_clock::now();
  asio::post(io, [&] { // the waits start on the loop, as a service's handlers would start them
    for (std::size_t i = 0; i < waiters; ++i) {
      const std::size_t p = i % paths;
      zk::asio::async_lock(*locks[p], io.get_executor(),
                           asio::bind_cancellation_slot(
                               signals[i].slot(), [&, p](std::error_code ec, zk::LockGuard guard) {
                                 out.off_loop = out.off_loop || !on_loop();
                                 out.max_threads = std::max(out.max_threads, thread_count());
                                 const auto finish = [&] {
                                   if (++out.completions == waiters) all_done.set_value();
                                 };
                                 if (ec) {
                                   ++(ec == zk::Errc::cancelled ? out.cancelled : out.other_errors);
                                   ++ended;
                                   return finish();
                                 }
                                 ++out.granted;
                                 zkt::HoldRecord r;
                                 r.token = guard.fencing_token();
                                 r.process = zkt::this_process();
                                 r.thread = zkt::this_thread();
                                 r.enter_ns = zkt::monotonic_ns();
                                 // Held across other work of the loop: the release is a task of its
                                 // own.
                                 auto held = std::make_shared<zk::LockGuard>(std::move(guard));
                                 asio::post(io, [&, p, r, held, finish]() mutable {
                                   r.exit_ns = zkt::monotonic_ns();
                                   out.holds[p].push_back(r);
                                   held->release();
                                   finish();
                                 });
                               }));
    }
  });
  asio::post(io, [&] { // every other waiter of each path
    for (std::size_t i = paths; i < waiters; i += 2 * paths)
      for (std::size_t p = 0; p < paths; ++p)
        signals[i + p].emit(asio::cancellation_type::terminal);
  });
  ASSERT_TRUE(zkt::wait_until([&] { return ended.load() == waiters / 2; }, 30s))
      << ended.load() << " of " << waiters / 2 << " cancelled waits ended";
  for (auto& b : blockers)
    b->unlock();
  auto done = all_done.get_future();
  ASSERT_EQ(done.wait_for(300s), std::future_status::ready) << "not every waiter completed";
  const auto took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  work.reset();
  loop.thread.join(); // io.run() returned: no wait of ours is pending any more
  const auto theirs = contenders.finish(120s);

  EXPECT_FALSE(out.off_loop) << "a completion ran off the io_context's thread";
  EXPECT_EQ(out.other_errors, 0U);
  EXPECT_EQ(out.granted, waiters / 2);
  EXPECT_EQ(out.cancelled, waiters / 2);
  EXPECT_EQ(out.max_threads, threads) << "threads were started for the waiters";
  std::size_t ours = 0;
  for (std::size_t p = 0; p < paths; ++p) {
    auto holds = out.holds[p];
    ours += holds.size();
    for (const auto& h : theirs) // each contender's records, on its own path
      if (p < others && h.process == pids[p]) holds.push_back(h);
    expect_excluded(holds, holds.size(), ("async waiters on " + names[p]).c_str());
  }
  EXPECT_EQ(ours, out.granted);
  EXPECT_EQ(theirs.size(), others * other_count);
  std::cout << "[ measured ] " << waiters << " async waiters on " << paths << " paths, "
            << out.granted << " granted, " << out.cancelled << " cancelled, in " << took
            << " s, on one io_context thread; process threads " << threads << " throughout\n";
  for (const auto& name : names)
    expect_nothing_left(s, name);
}
#endif

// --- Interop: each direction, then mixed contention. ---------------------------------------------

using PeerArgv = std::vector<std::string> (*)(const std::vector<std::string>&);

void peer_holds_ours_waits(PeerArgv peer) {
  zkt::RootGuard root("lock-peer-holds");
  const std::string path = root.path() + "/l";
  Child other(peer({zkt::hosts(), path, "hold"}));
  ASSERT_EQ(other.wait_for("READY", 60s), "READY");
  const std::string held = other.wait_for("HELD", 30s);
  ASSERT_FALSE(held.empty());
  DistributedLock lock(root.session(), path);
  EXPECT_FALSE(lock.try_lock());
  EXPECT_FALSE(lock.try_lock_for(300ms));
  auto ours = std::async(std::launch::async, [&] { return lock.try_lock_for(30s); });
  ASSERT_TRUE(zkt::wait_until([&] { return child_count(root.session(), path) == 2; }, 10s));
  EXPECT_EQ(ours.wait_for(200ms), std::future_status::timeout);
  other.write_line("release");
  ASSERT_TRUE(ours.get());
  EXPECT_GT(lock.fencing_token(), std::stoll(held.substr(5)));
  EXPECT_EQ(other.wait_for("DONE", 30s), "DONE");
  lock.unlock();
  expect_nothing_left(root.session(), path);
}

void ours_holds_peer_waits(PeerArgv peer) {
  zkt::RootGuard root("lock-ours-holds");
  const std::string path = root.path() + "/l";
  DistributedLock lock(root.session(), path);
  lock.lock();
  {
    Child other(peer({zkt::hosts(), path, "try", "500"}));
    EXPECT_EQ(other.wait_for("TIMEOUT", 60s), "TIMEOUT") << "the peer must not get a held lock";
    EXPECT_EQ(other.wait_for("DONE", 30s), "DONE");
  }
  Child other(peer({zkt::hosts(), path, "try", "30000"}));
  ASSERT_EQ(other.wait_for("READY", 60s), "READY");
  ASSERT_TRUE(zkt::wait_until([&] { return child_count(root.session(), path) == 2; }, 20s));
  const auto token = lock.fencing_token();
  lock.unlock();
  const std::string acquired = other.wait_for("ACQUIRED", 30s);
  ASSERT_FALSE(acquired.empty());
  EXPECT_GT(std::stoll(acquired.substr(9)), token);
  EXPECT_EQ(other.wait_for("DONE", 30s), "DONE");
  expect_nothing_left(root.session(), path);
}

TEST(LockInterop, CuratorHoldsOursWaits) {
  peer_holds_ours_waits(zkt::lock::curator_peer);
}
TEST(LockInterop, OursHoldsCuratorWaits) {
  ours_holds_peer_waits(zkt::lock::curator_peer);
}
TEST(LockInterop, KazooHoldsOursWaits) {
  peer_holds_ours_waits(zkt::lock::kazoo_peer);
}
TEST(LockInterop, OursHoldsKazooWaits) {
  ours_holds_peer_waits(zkt::lock::kazoo_peer);
}

// The acceptance run, both paths at once: 4 processes x 2 threads of ours with one Curator
// contender on one path, ours with one Kazoo contender on another (Curator mis-orders Kazoo's
// names, so those two never share a path). A fifth of each path's acquisitions are the peer's.
TEST(LockInterop, MixedContentionOnTwoPaths) {
  zkt::RootGuard root("lock-mixed");
  const int total = env_int("ZKR_LOCK_INTEROP_ACQUISITIONS", 160);
  const std::string handoffs = std::to_string(env_int("ZKR_LOCK_LOCAL_HANDOFFS", 8));
  const int peer_count = total / 5;
  const int per_thread = (total - peer_count) / 8;
  ASSERT_EQ(peer_count + per_thread * 8, total) << "choose a multiple of 40";
  struct PathRun {
    std::string path;
    PeerArgv peer;
    const char* name;
    Contenders contenders;
  };
  PathRun runs[2] = {{root.path() + "/curator", zkt::lock::curator_peer, "ours + Curator", {}},
                     {root.path() + "/kazoo", zkt::lock::kazoo_peer, "ours + Kazoo", {}}};
  for (auto& run : runs) {
    // Kazoo creates a missing path persistent and then relies on it: with a container path (our
    // default) it fails with NoNodeError once the server reaps the container between two holds.
    const char* parent = run.peer == zkt::lock::kazoo_peer ? "persistent" : "container";
    for (int p = 0; p < 4; ++p)
      run.contenders.add(zkt::lock::worker({"contend", zkt::hosts(), run.path, "2",
                                            std::to_string(per_thread), handoffs, "200", parent}));
    run.contenders.add(
        run.peer({zkt::hosts(), run.path, "contend", std::to_string(peer_count), "200"}));
  }
  const auto start = std::chrono::steady_clock::now();
  for (auto& run : runs)
    ASSERT_TRUE(run.contenders.start()) << run.name;
  for (auto& run : runs) {
    const auto holds = run.contenders.finish(600s);
    expect_excluded(holds, static_cast<std::size_t>(total), run.name);
  }
  std::cout << "[ measured ] mixed run: " << total << " acquisitions per path on 2 paths in "
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()
            << " s\n";
  for (auto& run : runs)
    expect_nothing_left(root.session(), run.path);
}

} // namespace
