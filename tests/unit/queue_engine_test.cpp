// The queue engine (src/core/queue_engine*) with the exclusive-lock policy, against a fake session
// gate: lost replies, a listing overtaken by a deletion, session expiry while waiting and while
// holding, a deadline during the create, cancellation from another thread; asynchronous waiters
// (no thread of theirs) granted in order, timed out and cancelled. No server.
#include "fake_gate.hpp"

#include "core/queue_engine.hpp"
#include "recipes/lock/lock_protocol.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <mutex>
#include <thread>

using namespace std::chrono_literals;

namespace {

using zk::Clock;
using zk::Errc;
using zk::detail::core::Hold;
using zk::detail::core::QueueEngine;
using zk::detail::core::QueueOptions;

// Another client's contender, in Curator's form, ordered by the server's sequence like ours.
const std::string foreign_prefix = "_c_00000000-0000-4000-8000-000000000000-lock-";

class QueueEngineTest : public ::testing::Test {
protected:
  std::shared_ptr<zkt::FakeGate> gate = std::make_shared<zkt::FakeGate>();
  const std::string path = "/app/lock";

  QueueEngineTest() { gate->make_path(path); }
  // The janitor's retries and replies still queued hold the gate: let them finish, so that the
  // fake is destroyed here and not on its own callback thread.
  void TearDown() override {
    gate->drain();
    EXPECT_TRUE(zkt::eventually([&] { return gate.use_count() == 1; }));
  }

  std::unique_ptr<Hold> hold(QueueOptions options = {}) {
    auto h = std::make_unique<Hold>();
    h->contender =
        QueueEngine::for_path(gate, path, zk::detail::lock::ExclusivePolicy::instance(), options);
    h->options = std::move(options);
    return h;
  }
  static bool held(const Hold& h) {
    return h.contender->read(h, [](const Hold& x) { return x.held(); });
  }
  std::vector<std::string> ours() const { // our children, by owner
    std::vector<std::string> out;
    for (const auto& c : gate->children_of(path))
      if (gate->owner_of(path + "/" + c) != 99) out.push_back(c);
    return out;
  }
};

TEST_F(QueueEngineTest, AnUncontendedHoldIsOurNodeAndReleaseDeletesIt) {
  auto h = hold();
  ASSERT_TRUE(h->contender->acquire(*h, Clock::now() + 5s, false));
  ASSERT_EQ(gate->children_of(path).size(), 1U);
  EXPECT_EQ(gate->owner_of(h->node), gate->session_id());
  EXPECT_GT(h->token, 0);
  h->contender->release(*h, true);
  gate->drain();
  EXPECT_TRUE(gate->children_of(path).empty());
  EXPECT_EQ(gate->watches(), 0U) << "the own-node watch must go with the node";
}

TEST_F(QueueEngineTest, ACreateWhoseReplyWasLostIsFoundByItsGuidAndAdopted) {
  gate->lose_next_create_reply(); // applied on the server, answered connection_loss
  auto h = hold();
  ASSERT_TRUE(h->contender->acquire(*h, Clock::now() + 5s, false));
  EXPECT_EQ(gate->requests("create"), 1) << "the node was adopted, not created again";
  ASSERT_EQ(gate->children_of(path).size(), 1U) << "no orphan node";
  EXPECT_EQ(h->node, path + "/" + gate->children_of(path).front());
  h->contender->release(*h, true);
  gate->drain();
  EXPECT_TRUE(gate->children_of(path).empty());
}

TEST_F(QueueEngineTest, TheNegativeControlLeavesAnOrphanThatTheAdoptionTestWouldCatch) {
  zk::detail::core::break_protected_create_for_testing(true);
  gate->lose_next_create_reply();
  auto h = hold();
  const bool acquired = h->contender->acquire(*h, Clock::now() + 1s, false);
  zk::detail::core::break_protected_create_for_testing(false);
  // The forgotten first node is ahead of the second: its own creator waits behind it.
  EXPECT_FALSE(acquired);
  EXPECT_EQ(gate->requests("create"), 2);
  EXPECT_EQ(ours().size(), 1U) << "the orphan outlives the call";
}

TEST_F(QueueEngineTest, APredecessorDeletedDuringTheListingHandsOverWithoutAHang) {
  const std::string other = gate->add_foreign(path, foreign_prefix);
  // The listing still shows the predecessor; it is gone before our watch on it is set.
  gate->after_next_listing([&] { gate->delete_node(path + "/" + other); });
  auto h = hold();
  ASSERT_TRUE(h->contender->acquire(*h, Clock::now() + 5s, false));
  EXPECT_EQ(ours().size(), 1U);
  h->contender->release(*h, true);
  gate->drain();
  EXPECT_EQ(gate->watches(), 0U) << "a watch on the vanished predecessor was left behind";
}

TEST_F(QueueEngineTest, AWaiterRequeuesOnTheNewSessionAfterAnExpiry) {
  const std::string other = gate->add_foreign(path, foreign_prefix);
  auto h = hold();
  auto got = std::async(std::launch::async,
                        [&] { return h->contender->acquire(*h, Clock::now() + 10s, false); });
  ASSERT_TRUE(zkt::eventually([&] { return ours().size() == 1; }));
  const auto first_session = gate->session_id();
  gate->expire(); // our node goes with the session; the holder's does not
  ASSERT_TRUE(zkt::eventually([&] {
    const auto mine = ours();
    return mine.size() == 1 && gate->owner_of(path + "/" + mine.front()) != first_session;
  })) << "the waiter did not queue again on the new session";
  gate->delete_node(path + "/" + other);
  ASSERT_TRUE(got.get());
  EXPECT_EQ(gate->owner_of(h->node), gate->session_id());
  EXPECT_NE(gate->session_id(), first_session);
  h->contender->release(*h, true);
}

TEST_F(QueueEngineTest, AnExpiryWhileHoldingIsReportedOnceAndByRelease) {
  std::atomic<int> lost{0};
  std::atomic<int> why{0};
  QueueOptions o;
  o.on_lost = [&](const zk::Error& e) {
    why = static_cast<int>(e.errc());
    ++lost;
  };
  auto h = hold(o);
  ASSERT_TRUE(h->contender->acquire(*h, Clock::now() + 5s, false));
  gate->expire();
  ASSERT_TRUE(zkt::eventually([&] { return !held(*h); }));
  gate->drain();
  EXPECT_EQ(lost.load(), 1);
  EXPECT_EQ(static_cast<Errc>(why.load()), Errc::session_lost);
  try {
    h->contender->release(*h, true);
    FAIL() << "release() did not report the loss";
  } catch (const zk::Error& e) {
    EXPECT_EQ(e.errc(), Errc::lock_lost);
  }
  EXPECT_NO_THROW(h->contender->release(*h, false)); // reported once
  EXPECT_EQ(lost.load(), 1);
}

// The GC-pause case: the process was stopped past the session timeout and the C client has not
// noticed yet. The hold is judged by the last reply, so every answer about it is "lost" at once,
// on_lost fires once on the callback thread, and the server's late news adds nothing.
struct LossProbe {
  std::atomic<int> lost{0};
  std::atomic<int> why{0};
  std::atomic<bool> on_callback_thread{true};
  QueueOptions options(const zkt::FakeGate& gate) {
    QueueOptions o;
    o.on_lost = [this, &gate](const zk::Error& e) {
      why = static_cast<int>(e.errc());
      if (!gate.on_callback_thread()) on_callback_thread = false;
      ++lost;
    };
    return o;
  }
};

TEST_F(QueueEngineTest, APausePastTheTimeoutLosesTheHoldAtOnceAndReportsItOnce) {
  LossProbe probe;
  auto h = hold(probe.options(*gate));
  ASSERT_TRUE(h->contender->acquire(*h, Clock::now() + 5s, false));
  gate->pause_past_timeout();
  EXPECT_FALSE(held(*h)) << "the first answer after the pause still said held";
  gate->drain();
  EXPECT_EQ(probe.lost.load(), 1);
  EXPECT_EQ(static_cast<Errc>(probe.why.load()), Errc::session_lost);
  EXPECT_TRUE(probe.on_callback_thread.load());
  gate->expire(); // the C client catches up: the session had expired
  gate->drain();
  EXPECT_EQ(probe.lost.load(), 1) << "one lost hold, reported twice";
  try {
    h->contender->release(*h, true);
    ADD_FAILURE() << "release() did not report the loss";
  } catch (const zk::Error& e) {
    EXPECT_EQ(e.errc(), Errc::lock_lost) << e.what();
  }
  EXPECT_NO_THROW(h->contender->release(*h, false)); // reported once
}

TEST_F(QueueEngineTest, AnUnlockAfterAPauseStillReportsTheLoss) {
  LossProbe probe;
  auto h = hold(probe.options(*gate));
  ASSERT_TRUE(h->contender->acquire(*h, Clock::now() + 5s, false));
  gate->pause_past_timeout();
  h->contender->release(*h, false); // the holder's first call after resuming
  gate->drain();
  EXPECT_EQ(probe.lost.load(), 1) << "the loss was swallowed by the unlock";
  gate->expire();
  gate->drain();
  EXPECT_EQ(probe.lost.load(), 1);
  EXPECT_TRUE(ours().empty());
}

TEST_F(QueueEngineTest, ADeadlineDuringTheCreateReturnsFalseAndLeavesNoNode) {
  gate->hold_replies(); // the server applies the create, its answers are late
  auto h = hold();
  const auto start = Clock::now();
  EXPECT_FALSE(h->contender->acquire(*h, start + 200ms, false));
  // The deadline, plus the cleanup bounded by the operation timeout (the fake's: 500 ms).
  EXPECT_LT(Clock::now() - start, 200ms + 2 * gate->op_timeout + 500ms);
  gate->release_replies();
  EXPECT_TRUE(zkt::eventually([&] { return gate->children_of(path).empty(); }))
      << "the node created after the deadline was not deleted";
  EXPECT_FALSE(held(*h));
}

TEST_F(QueueEngineTest, ACancelFromAnotherThreadEndsTheWaitAndLeavesNothingBehind) {
  const std::string other = gate->add_foreign(path, foreign_prefix);
  auto h = hold();
  zk::CancelToken cancel;
  auto got = std::async(std::launch::async, [&] {
    try {
      (void)h->contender->acquire(*h, Clock::now() + 30s, false, &cancel);
      return Errc::ok;
    } catch (const zk::Error& e) {
      return e.errc();
    }
  });
  ASSERT_TRUE(zkt::eventually([&] { return ours().size() == 1 && gate->watches() == 1; }));
  const auto start = Clock::now();
  cancel.cancel();
  ASSERT_EQ(got.wait_for(2s), std::future_status::ready) << "the cancel did not wake the waiter";
  EXPECT_EQ(got.get(), Errc::cancelled);
  EXPECT_LT(Clock::now() - start, 2s);
  EXPECT_EQ(gate->children_of(path), std::vector<std::string>{other}) << "our node was left";
  EXPECT_EQ(gate->watches(), 0U) << "our watch on the predecessor was left";
  // A cancelled token cancels the next call at once.
  try {
    (void)h->contender->acquire(*h, Clock::now() + 30s, false, &cancel);
    FAIL();
  } catch (const zk::Error& e) {
    EXPECT_EQ(e.errc(), Errc::cancelled);
  }
}

// What an asynchronous waiter's completion saw.
struct AsyncOutcome {
  std::mutex m;
  std::vector<std::pair<int, Errc>> done; // (waiter, error or ok), in completion order
  std::vector<std::uint64_t> grants;
  bool off_callback_thread = false;
  QueueEngine::AsyncDone record(int who, const zkt::FakeGate& gate) {
    return [this, who, &gate](std::optional<zk::Error> e, std::uint64_t grant) {
      std::lock_guard<std::mutex> l(m);
      if (!gate.on_callback_thread()) off_callback_thread = true;
      done.emplace_back(who, e ? e->errc() : Errc::ok);
      grants.push_back(grant);
    };
  }
  std::size_t count() {
    std::lock_guard<std::mutex> l(m);
    return done.size();
  }
};

TEST_F(QueueEngineTest, AsyncWaitersAreGrantedOneAtATimeInTheirOrderWithoutAThread) {
  const std::string other = gate->add_foreign(path, foreign_prefix);
  auto h = hold();
  AsyncOutcome out;
  for (int i = 0; i < 3; ++i)
    h->contender->acquire_async(*h, zk::far_future, nullptr, out.record(i, *gate));
  ASSERT_TRUE(zkt::eventually([&] { return ours().size() == 1 && gate->watches() == 1; }))
      << "the waiters did not queue one node behind the holder";
  gate->drain();
  EXPECT_EQ(out.count(), 0U) << "granted while another client holds the lock";
  gate->delete_node(path + "/" + other);
  for (std::size_t i = 1; i <= 3; ++i) {
    ASSERT_TRUE(zkt::eventually([&] { return out.count() == i; })) << "waiter " << i - 1;
    gate->drain();
    ASSERT_EQ(out.count(), i) << "two waiters hold the exclusive lock at once";
    std::uint64_t grant = 0;
    {
      std::lock_guard<std::mutex> l(out.m);
      EXPECT_EQ(out.done.back(), std::make_pair(static_cast<int>(i) - 1, Errc::ok));
      grant = out.grants.back();
    }
    h->contender->release_grant(*h, grant - 1); // an older grant's guard: not this hold
    EXPECT_TRUE(held(*h));
    h->contender->release_grant(*h, grant);
  }
  EXPECT_FALSE(out.off_callback_thread);
  EXPECT_TRUE(zkt::eventually([&] { return ours().empty() && gate->watches() == 0; }));
}

TEST_F(QueueEngineTest, AnAsyncDeadlineOrCancelRemovesNodeAndWatchBeforeTheCompletionRuns) {
  const std::string other = gate->add_foreign(path, foreign_prefix);
  auto h = hold();
  std::promise<std::pair<Errc, std::vector<std::string>>> timed_out;
  const auto start = Clock::now();
  h->contender->acquire_async(*h, start + 200ms, nullptr,
                              [&](std::optional<zk::Error> e, std::uint64_t /*grant*/) {
                                // The fake applies requests as they are sent, as the server
                                // applies ours in order: what the next request would find.
                                timed_out.set_value({e ? e->errc() : Errc::ok, ours()});
                              });
  auto got = timed_out.get_future();
  ASSERT_EQ(got.wait_for(5s), std::future_status::ready);
  const auto [why, left] = got.get();
  EXPECT_EQ(why, Errc::deadline_exceeded);
  EXPECT_GE(Clock::now() - start, 200ms);
  EXPECT_TRUE(left.empty()) << "our node outlived the completion";
  gate->drain();
  EXPECT_EQ(gate->watches(), 0U) << "our watch on the predecessor was left";

  zk::CancelToken cancel;
  std::promise<Errc> cancelled;
  h->contender->acquire_async(*h, zk::far_future, &cancel,
                              [&](std::optional<zk::Error> e, std::uint64_t /*grant*/) {
                                cancelled.set_value(e ? e->errc() : Errc::ok);
                              });
  ASSERT_TRUE(zkt::eventually([&] { return ours().size() == 1 && gate->watches() == 1; }));
  cancel.cancel();
  auto c = cancelled.get_future();
  ASSERT_EQ(c.wait_for(5s), std::future_status::ready) << "the cancel did not end the wait";
  EXPECT_EQ(c.get(), Errc::cancelled);
  gate->drain();
  EXPECT_EQ(gate->children_of(path), std::vector<std::string>{other}) << "our node was left";
  EXPECT_EQ(gate->watches(), 0U);
}

TEST_F(QueueEngineTest, AsyncAndWaitingThreadsShareOneQueueAndAGoneObjectCancelsItsWaits) {
  const std::string other = gate->add_foreign(path, foreign_prefix);
  auto a = hold();
  auto b = hold();
  AsyncOutcome out;
  a->contender->acquire_async(*a, zk::far_future, nullptr, out.record(0, *gate));
  auto thread = std::async(std::launch::async,
                           [&] { return b->contender->acquire(*b, Clock::now() + 10s, false); });
  auto c = hold();
  c->contender->acquire_async(*c, zk::far_future, nullptr, out.record(2, *gate));
  ASSERT_TRUE(zkt::eventually([&] { return ours().size() == 1; }));
  c->contender->abandon_async(*c); // c's object goes: its wait ends, the others' go on
  ASSERT_TRUE(zkt::eventually([&] { return out.count() == 1; }));
  {
    std::lock_guard<std::mutex> l(out.m);
    EXPECT_EQ(out.done.front(), std::make_pair(2, Errc::cancelled));
  }
  gate->delete_node(path + "/" + other);
  ASSERT_TRUE(zkt::eventually([&] { return out.count() == 2; }));
  EXPECT_TRUE(held(*a));
  EXPECT_EQ(thread.wait_for(200ms), std::future_status::timeout) << "two holders at once";
  a->contender->release(*a, true);
  ASSERT_TRUE(thread.get()) << "the waiting thread did not get the lock after the async waiter";
  b->contender->release(*b, true);
  EXPECT_TRUE(zkt::eventually([&] { return ours().empty(); }));
}

// Counts what the engine tells the session's observer.
struct CountingObserver : zk::Observer {
  std::atomic<int> started{0}, acquired_n{0}, failed{0}, released_n{0}, lost_n{0}, timed_out{0};
  void acquire_started(std::string_view, std::string_view) noexcept override { ++started; }
  void acquired(std::string_view, std::string_view, std::chrono::nanoseconds) noexcept override {
    ++acquired_n;
  }
  void acquire_failed(std::string_view, std::string_view, Errc why,
                      std::chrono::nanoseconds) noexcept override {
    ++failed;
    if (why == Errc::deadline_exceeded) ++timed_out;
  }
  void released(std::string_view, std::string_view, std::chrono::nanoseconds) noexcept override {
    ++released_n;
  }
  void lost(std::string_view, std::string_view, Errc, std::chrono::nanoseconds) noexcept override {
    ++lost_n;
  }
};

TEST_F(QueueEngineTest, TheObserverHearsEachAcquisitionEndOnceAndEachHoldEndOnce) {
  CountingObserver obs;
  gate->fake_observer = &obs;
  auto h = hold();
  ASSERT_TRUE(h->contender->acquire(*h, Clock::now() + 5s, false));
  h->contender->release(*h, true);
  const std::string other = gate->add_foreign(path, foreign_prefix);
  EXPECT_FALSE(h->contender->acquire(*h, Clock::now() + 100ms, false)); // timed out
  std::promise<std::uint64_t> granted;
  h->contender->acquire_async(
      *h, zk::far_future, nullptr,
      [&](std::optional<zk::Error> e, std::uint64_t grant) { granted.set_value(e ? 0 : grant); });
  gate->delete_node(path + "/" + other);
  auto g = granted.get_future();
  ASSERT_EQ(g.wait_for(5s), std::future_status::ready);
  const auto grant = g.get();
  ASSERT_NE(grant, 0U);
  h->contender->release_grant(*h, grant);
  ASSERT_TRUE(h->contender->acquire(*h, Clock::now() + 5s, false));
  gate->expire(); // lost
  ASSERT_TRUE(zkt::eventually([&] { return obs.lost_n.load() == 1; }));
  gate->drain();
  EXPECT_EQ(obs.started.load(), 4);
  EXPECT_EQ(obs.acquired_n.load(), 3);
  EXPECT_EQ(obs.failed.load(), 1);
  EXPECT_EQ(obs.timed_out.load(), 1);
  EXPECT_EQ(obs.released_n.load(), 2);
  EXPECT_EQ(obs.acquired_n.load(), obs.released_n.load() + obs.lost_n.load());
  h->contender->release(*h, false);
  EXPECT_EQ(obs.released_n.load(), 2) << "a lost hold was also reported released";
  gate->fake_observer = nullptr;
}

TEST_F(QueueEngineTest, ObjectsOnOnePathCannotMixNodeOptions) {
  QueueOptions a;
  a.node_data = "replica-a";
  auto first = hold(a);
  QueueOptions b;
  b.node_data = "replica-b";
  try {
    (void)hold(b);
    FAIL() << "a second object with other node data shared the node";
  } catch (const zk::Error& e) {
    EXPECT_EQ(e.errc(), Errc::invalid_argument);
  }
  QueueOptions same = a;
  same.max_local_handoffs = 0; // per object: fine
  EXPECT_NO_THROW((void)hold(same));
}

} // namespace
