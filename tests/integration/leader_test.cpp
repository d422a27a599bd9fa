// LeaderLatch and LeaderSelector against the ensemble: leadership in join order as leaders close,
// terms that increase, a deposed leader's fenced writes refused, kill -9 of the leader handed over
// within the session timeout, expiry while leading, requeue and interrupt, asynchronous awaits,
// foreign children, bad input, and nothing left behind (nodes, watches).
#include "support/checkers.hpp"
#include "support/ensemble.hpp"
#include "support/processes.hpp"

#include <zkrecipes/distributed_lock.hpp>

#include <zkrecipes/leader.hpp>

#include <gtest/gtest.h>

#include <signal.h>

#include <atomic>
#include <future>
#include <mutex>
#include <sstream>
#include <thread>

using namespace std::chrono_literals;
using zk::Errc;

namespace {

// Waits until the election on `path` shows `n` participants.
bool participants_are(zk::Session& s, const std::string& path, std::size_t n) {
  return zkt::wait_until(
      [&] {
        zkt::sync(s, path);
        return zk::LeaderLatch::participants(s, path).size() == n;
      },
      10s);
}

std::int64_t czxid_of(zk::Session& s, const std::string& node) {
  const auto st = s.exists(node);
  return st ? st->czxid : 0;
}

TEST(Leader, TheLatchLeadsInJoinOrderAndHandsOverAsLeadersClose) {
  zkt::RootGuard root("leader-order");
  const std::string path = root.path() + "/election";
  std::vector<std::unique_ptr<zk::Session>> sessions;
  std::vector<std::unique_ptr<zk::LeaderLatch>> latches;
  for (int i = 0; i < 3; ++i) {
    sessions.push_back(std::make_unique<zk::Session>(zkt::options()));
    zk::LatchOptions o;
    o.id = "replica-" + std::to_string(i);
    latches.push_back(std::make_unique<zk::LeaderLatch>(*sessions.back(), path, o));
    ASSERT_TRUE(participants_are(root.session(), path, static_cast<std::size_t>(i) + 1));
  }
  ASSERT_TRUE(latches[0]->await_leadership(10s));
  EXPECT_FALSE(latches[1]->is_leader());
  EXPECT_FALSE(latches[2]->await_leadership(100ms));
  const auto all = latches[2]->participants();
  ASSERT_EQ(all.size(), 3U);
  EXPECT_EQ(all[0].id, "replica-0");
  EXPECT_TRUE(all[0].leader);
  EXPECT_EQ(all[1].id, "replica-1");
  EXPECT_EQ(all[2].id, "replica-2");
  EXPECT_EQ(latches[1]->leader()->id, "replica-0");
  EXPECT_EQ(all[0].node.find("_c_"), 0U);
  EXPECT_NE(all[0].node.find("-latch-"), std::string::npos) << "not Curator's latch form";

  std::int64_t previous = latches[0]->term();
  EXPECT_EQ(previous, czxid_of(root.session(), latches[0]->node_path()));
  EXPECT_THROW((void)latches[1]->term(), zk::Error);
  for (int i = 1; i < 3; ++i) {
    latches[static_cast<std::size_t>(i) - 1]->close();
    ASSERT_TRUE(latches[static_cast<std::size_t>(i)]->await_leadership(10s)) << i;
    const auto term = latches[static_cast<std::size_t>(i)]->term();
    EXPECT_GT(term, previous) << "terms must increase";
    previous = term;
  }
  latches[2]->close();
  EXPECT_TRUE(zkt::children(root.session(), path).empty()) << "a node outlived close()";
  EXPECT_EQ(zkt::watches_under(path), 0U);
}

TEST(Leader, ADeposedLeadersFencedWritesAreRefusedAndItsNextTermIsLarger) {
  zkt::RootGuard root("leader-deposed");
  const std::string path = root.path() + "/election";
  const std::string state = root.path() + "/state";
  root.session().create(state, "");
  zk::Session a_session(zkt::options(3s));
  zk::Session b_session(zkt::options(3s));
  std::atomic<int> a_follower{0};
  zk::LatchOptions ao;
  ao.listeners.on_follower = [&] { ++a_follower; };
  zk::LeaderLatch a(a_session, path, ao);
  ASSERT_TRUE(a.await_leadership(10s));
  zk::LeaderLatch b(b_session, path);
  ASSERT_TRUE(participants_are(root.session(), path, 2));
  const auto a_term = a.term();
  EXPECT_TRUE(a.fenced({zk::Op::set(state, "a")}).ok());

  zkt::expire_session(a_session.client_id()); // the server ends a's session
  ASSERT_TRUE(b.await_leadership(20s));
  EXPECT_GT(b.term(), a_term);
  EXPECT_TRUE(b.fenced({zk::Op::set(state, "b")}).ok());
  // Whatever a believes at this instant, the server refuses its term's writes.
  EXPECT_EQ(zkt::code_of([&] { (void)a.fenced({zk::Op::set(state, "stale")}); }), Errc::not_leader);
  EXPECT_EQ(zkt::data_of(root.session(), state), "b");
  ASSERT_TRUE(zkt::wait_until([&] { return a_follower.load() == 1; }, 10s));
  // a queued again on its new session: it leads after b, with a larger token.
  b.close();
  ASSERT_TRUE(a.await_leadership(20s));
  EXPECT_GT(a.term(), a_term);
  EXPECT_EQ(root.session().exists(a.node_path())->ephemeral_owner, a_session.session_id());
  a.close();
  EXPECT_TRUE(zkt::children(root.session(), path).empty());
}

TEST(Leader, KillingTheLeaderProcessHandsOverWithinTheSessionTimeout) {
  zkt::RootGuard root("leader-kill");
  const std::string path = root.path() + "/election";
  const std::string state = root.path() + "/state";
  root.session().create(state, "");
  constexpr auto session_timeout = 2000ms;
  zkt::Child worker(zkt::peer("election_peer", "ZKR_ELECTION_PEER",
                              {"latch", zkt::hosts(), path, "doomed", state,
                               std::to_string(session_timeout.count()), "0", "0"}));
  ASSERT_EQ(worker.wait_for("READY", 30s), "READY");
  worker.write_line("go");
  const std::string begin = worker.wait_for("TERM_BEGIN", 20s);
  ASSERT_FALSE(begin.empty());
  ASSERT_FALSE(worker.wait_for("WRITE", 10s).empty());

  zk::Session s(zkt::options(session_timeout));
  zk::LeaderLatch heir(s, path);
  ASSERT_TRUE(participants_are(root.session(), path, 2));
  worker.kill(SIGKILL);
  const auto killed = zk::Clock::now();
  ASSERT_TRUE(heir.await_leadership(30s));
  const auto handover = zk::Clock::now() - killed;
  EXPECT_LT(handover, session_timeout + 1s)
      << std::chrono::duration_cast<std::chrono::milliseconds>(handover).count() << " ms";
  std::istringstream in(begin);
  std::string tag;
  std::int64_t dead_term = 0;
  in >> tag >> dead_term;
  EXPECT_GT(heir.term(), dead_term);
  EXPECT_TRUE(heir.fenced({zk::Op::set(state, "heir")}).ok());
  heir.close();
  EXPECT_TRUE(zkt::children(root.session(), path).empty());
}

TEST(Leader, FourProcessesNeverHaveTwoLeadersWritesAccepted) {
  zkt::RootGuard root("leader-four");
  const std::string path = root.path() + "/election";
  const std::string state = root.path() + "/state";
  root.session().create(state, "");
  std::vector<std::unique_ptr<zkt::Child>> workers;
  for (int i = 0; i < 4; ++i) {
    workers.push_back(std::make_unique<zkt::Child>(zkt::peer(
        "election_peer", "ZKR_ELECTION_PEER",
        {"latch", zkt::hosts(), path, "w" + std::to_string(i), state, "6000", "3", "4"})));
  }
  for (auto& w : workers)
    ASSERT_EQ(w->wait_for("READY", 30s), "READY");
  for (auto& w : workers)
    w->write_line("go");
  std::vector<zkt::FencedWrite> writes;
  std::vector<std::int64_t> begins;
  for (auto& w : workers) {
    for (const auto& l : w->read_all(120s)) {
      if (auto wr = zkt::parse_write(l)) writes.push_back(*wr);
      if (l.rfind("TERM_BEGIN", 0) == 0) begins.push_back(std::stoll(l.substr(11)));
    }
  }
  EXPECT_EQ(begins.size(), 12U) << "every worker leads three times";
  EXPECT_EQ(writes.size(), 48U) << "a leader's write was refused without a fault";
  const auto r = zkt::check_terms(writes);
  EXPECT_TRUE(r.ok()) << r.explain();
  EXPECT_TRUE(zkt::children(root.session(), path).empty());
}

TEST(Leader, TheSelectorRunsItsFunctionPerTermRequeuesAndStopsOnInterrupt) {
  zkt::RootGuard root("leader-selector");
  const std::string path = root.path() + "/election";
  zk::Session s1(zkt::options());
  zk::Session s2(zkt::options());
  std::mutex m;
  std::vector<std::pair<int, std::int64_t>> terms; // (selector, token) in the order they ran
  const auto work = [&](int who) {
    return [&, who](zk::Leadership& l) {
      {
        const std::lock_guard<std::mutex> lk(m);
        terms.emplace_back(who, l.term());
      }
      l.wait_for_stop(150ms); // a short term, then give it up
    };
  };
  zk::LeaderSelector a(s1, path, work(1));
  zk::LeaderSelector b(s2, path, work(2));
  ASSERT_TRUE(zkt::wait_until(
      [&] {
        const std::lock_guard<std::mutex> lk(m);
        return terms.size() >= 6;
      },
      20s));
  a.close();
  b.close();
  const std::lock_guard<std::mutex> lk(m);
  for (std::size_t i = 1; i < terms.size(); ++i) {
    EXPECT_GT(terms[i].second, terms[i - 1].second) << "terms must increase";
    EXPECT_NE(terms[i].first, terms[i - 1].first) << "requeue goes to the back of the queue";
  }
  EXPECT_TRUE(zkt::children(root.session(), path).empty());
  EXPECT_EQ(zkt::watches_under(path), 0U);
}

TEST(Leader, InterruptEndsARunningTermAndCloseWaitsForTheFunction) {
  zkt::RootGuard root("leader-interrupt");
  const std::string path = root.path() + "/election";
  zk::Session s(zkt::options());
  std::atomic<int> started{0};
  std::atomic<int> finished{0};
  zk::SelectorOptions o;
  o.listeners.on_leader = [](std::int64_t) {};
  zk::LeaderSelector sel(
      s, path,
      [&](zk::Leadership& l) {
        ++started;
        l.wait_until_stop(zk::far_future);
        ++finished;
      },
      o);
  ASSERT_TRUE(sel.await_leadership(10s));
  const auto first = sel.term();
  sel.interrupt();
  ASSERT_TRUE(zkt::wait_until([&] { return started.load() == 2; }, 10s)) << "no requeue";
  EXPECT_EQ(finished.load(), 1);
  ASSERT_TRUE(sel.await_leadership(10s));
  EXPECT_GT(sel.term(), first);
  sel.close();
  EXPECT_EQ(finished.load(), 2) << "close() returned with the function running";
  EXPECT_TRUE(zkt::children(root.session(), path).empty());
}

// Asynchronous awaits: no thread waits for leadership.

TEST(Leader, AsyncAwaitsCompleteWithoutAThreadWhenATermBeginsOrCannot) {
  zkt::RootGuard root("leader-async");
  const std::string path = root.path() + "/election";
  zk::Session other(zkt::options());
  zk::LeaderLatch first(other, path);
  ASSERT_TRUE(first.await_leadership(10s));
  // Before the latch: its end (after an early failure) completes the awaits that use them.
  std::promise<std::pair<std::error_code, bool>> handled;
  std::atomic<bool> on_callback_thread{false};
  std::atomic<bool> inline_call{false};
  const auto test_thread = std::this_thread::get_id();
  std::promise<bool> at_once;
  zk::LeaderLatch latch(root.session(), path);
  ASSERT_TRUE(participants_are(root.session(), path, 2));

  auto waiting = latch.async_await_leadership();
  auto timed = latch.async_await_leadership(300ms);
  zk::CancelToken cancel;
  auto cancelled = latch.async_await_leadership(zk::Deadline(), cancel);
  latch.async_await_leadership([&](std::error_code ec, bool leading) {
    on_callback_thread = zk::Session::on_callback_thread();
    handled.set_value({ec, leading});
  });
  ASSERT_EQ(timed.wait_for(10s), std::future_status::ready);
  EXPECT_FALSE(timed.get()) << "no term can have begun by the deadline";
  cancel.cancel();
  EXPECT_EQ(zkt::code_of([&] { (void)cancelled.get(); }), Errc::cancelled);
  EXPECT_EQ(waiting.wait_for(200ms), std::future_status::timeout) << "led while another led";

  first.close();
  ASSERT_EQ(waiting.wait_for(10s), std::future_status::ready) << "the term's start was missed";
  EXPECT_TRUE(waiting.get());
  EXPECT_TRUE(latch.is_leader());
  auto h = handled.get_future();
  ASSERT_EQ(h.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(h.get(), std::make_pair(std::error_code(), true));
  EXPECT_TRUE(on_callback_thread.load());
  latch.async_await_leadership([&](std::error_code, bool leading) { // leading now: true at once
    inline_call = std::this_thread::get_id() == test_thread;
    at_once.set_value(leading);
  });
  auto again = at_once.get_future();
  ASSERT_EQ(again.wait_for(10s), std::future_status::ready);
  EXPECT_TRUE(again.get());
  EXPECT_FALSE(inline_call.load()) << "the completion ran inside the call";

  // A participant that will not lead: closed, or destroyed, with awaits pending.
  zk::LeaderLatch closing(other, path);
  auto closed = closing.async_await_leadership();
  closing.close();
  ASSERT_EQ(closed.wait_for(10s), std::future_status::ready);
  EXPECT_FALSE(closed.get());
  std::promise<bool> gone;
  {
    zk::LeaderLatch going(other, path);
    going.async_await_leadership([&](std::error_code, bool leading) { gone.set_value(leading); });
  }
  auto g = gone.get_future();
  ASSERT_EQ(g.wait_for(10s), std::future_status::ready) << "a destroyed latch left its await";
  EXPECT_FALSE(g.get());
  EXPECT_EQ(zkt::code_of([&] { latch.async_await_leadership(zk::LeadershipHandler()); }),
            Errc::invalid_argument);
  latch.close();
  EXPECT_TRUE(zkt::wait_until([&] { return zkt::children(root.session(), path).empty(); }, 10s));
}

TEST(Leader, AnAsyncAwaitOfASelectorEndsWithItsTermOrItsSession) {
  zkt::RootGuard root("leader-async-selector");
  const std::string path = root.path() + "/election";
  std::atomic<int> terms{0};
  zk::LeaderSelector selector(root.session(), path, [&](zk::Leadership& l) {
    ++terms;
    l.wait_for_stop(30s);
  });
  auto leading = selector.async_await_leadership(10s);
  ASSERT_EQ(leading.wait_for(10s), std::future_status::ready);
  EXPECT_TRUE(leading.get());
  EXPECT_TRUE(zkt::wait_until([&] { return terms.load() == 1; }, 5s)) << "the term's function";

  auto s = std::make_unique<zk::Session>(zkt::options());
  zk::LeaderSelector behind(*s, path, [](zk::Leadership&) {});
  auto pending = behind.async_await_leadership();
  ASSERT_TRUE(zkt::wait_until(
      [&] {
        zkt::sync(root.session(), path);
        return zk::LeaderSelector::participants(root.session(), path, zk::SelectorProfile::curator)
                   .size() == 2;
      },
      10s));
  s->close(); // the election ends: the await with it
  ASSERT_EQ(pending.wait_for(10s), std::future_status::ready) << "the session's close left it";
  EXPECT_EQ(zkt::code_of([&] { (void)pending.get(); }), Errc::session_closed);
  selector.close();
}

TEST(Leader, AChildOfAnotherFormFailsFastAndLeavesNothing) {
  zkt::RootGuard root("leader-foreign");
  const std::string path = root.path() + "/election";
  zk::DistributedLock mutex(root.session(), path); // a mutex node on the election's path
  mutex.lock();
  zk::Session s(zkt::options());
  zk::LeaderLatch latch(s, path);
  std::string message;
  EXPECT_EQ(zkt::code_of([&] { latch.await_leadership(10s); }, &message), Errc::foreign_node);
  EXPECT_NE(message.find(mutex.node_path().substr(path.size() + 1)), std::string::npos) << message;
  ASSERT_TRUE(zkt::wait_until([&] { return zkt::children(root.session(), path).size() == 1; }, 5s))
      << "our latch node stayed behind the mutex node";
  // The selector's Kazoo profile refuses Curator's mutex form too.
  zk::SelectorOptions ko;
  ko.profile = zk::SelectorProfile::kazoo;
  zk::LeaderSelector kazoo(
      s, path, [](zk::Leadership&) {}, ko);
  EXPECT_EQ(zkt::code_of([&] { kazoo.await_leadership(10s); }), Errc::foreign_node);
  mutex.unlock();
}

TEST(Leader, BadInputIsTyped) {
  zkt::RootGuard root("leader-input");
  zk::Session& s = root.session();
  EXPECT_EQ(zkt::code_of([&] { zk::LeaderLatch l(s, "no-slash"); }), Errc::invalid_argument);
  EXPECT_EQ(zkt::code_of([&] { zk::LeaderLatch l(s, "/"); }), Errc::invalid_argument);
  zk::LatchOptions big;
  big.id.assign(1 << 20, 'x');
  EXPECT_EQ(zkt::code_of([&] { zk::LeaderLatch l(s, root.path() + "/e", big); }),
            Errc::invalid_argument);
  EXPECT_EQ(zkt::code_of([&] { zk::LeaderSelector l(s, root.path() + "/e", nullptr); }),
            Errc::invalid_argument);
  zk::LeaderLatch latch(s, root.path() + "/e");
  ASSERT_TRUE(latch.await_leadership(10s));
  EXPECT_EQ(zkt::code_of([&] { (void)latch.fenced({}); }), Errc::invalid_argument);
  // Blocking calls from the callback thread would deadlock: refused.
  std::promise<Errc> from_callback;
  s.get_async(root.path(), [&](zk::Result<zk::NodeData>) {
    from_callback.set_value(zkt::code_of([&] { latch.await_leadership(1s); }));
  });
  EXPECT_EQ(from_callback.get_future().get(), Errc::wrong_thread);
  zk::LeaderLatch moved(std::move(latch));
  EXPECT_EQ(zkt::code_of([&] { latch.await_leadership(1s); }), Errc::invalid_argument);
  EXPECT_FALSE(latch.is_leader());
  EXPECT_TRUE(moved.is_leader());
  moved.close();
  s.close();
  EXPECT_EQ(zkt::code_of([&] { zk::LeaderLatch l(s, root.path() + "/e"); }), Errc::session_closed);
}

} // namespace
