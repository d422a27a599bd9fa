// The election (src/recipes/leader/election.*) against a fake session gate: a latch leads when its
// node is first, follows its predecessor, is uncertain while suspended and re-checks in place, ends
// its term on expiry and leads again with a larger token on the new session; a selector's function
// is asked to stop on suspension (unless told to lead through it), after a pause and on
// interrupt; a foreign child fails the election; close leaves no node and no watch. No server.
#include "fake_gate.hpp"

#include "recipes/leader/election.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

using zk::Clock;
using zk::Errc;
using zk::detail::leader::Election;
using zk::detail::leader::ElectionConfig;
namespace lk = zk::detail::lock;

// Another participant in Curator's latch form.
const std::string other_latch = "_c_00000000-0000-4000-8000-000000000000-latch-";

// What the listeners saw, in order: "leader <term>", "follower", "uncertain", "certain".
struct Journal {
  mutable std::mutex m;
  std::vector<std::string> events;
  zk::ElectionListeners listeners() {
    zk::ElectionListeners l;
    l.on_leader = [this](std::int64_t term) { add("leader " + std::to_string(term)); };
    l.on_follower = [this] { add("follower"); };
    l.on_uncertain = [this](bool u) { add(u ? "uncertain" : "certain"); };
    return l;
  }
  void add(const std::string& e) {
    const std::lock_guard<std::mutex> lk(m);
    events.push_back(e);
  }
  std::vector<std::string> get() const {
    const std::lock_guard<std::mutex> lk(m);
    return events;
  }
  std::size_t count(const std::string& prefix) const {
    std::size_t n = 0;
    for (const auto& e : get())
      if (e.rfind(prefix, 0) == 0) ++n;
    return n;
  }
};

class ElectionTest : public ::testing::Test {
protected:
  std::shared_ptr<zkt::FakeGate> gate = std::make_shared<zkt::FakeGate>();
  const std::string path = "/app/leader";
  Journal journal;

  ElectionTest() { gate->make_path(path); }
  void TearDown() override {
    gate->drain();
    EXPECT_TRUE(zkt::eventually([&] { return gate.use_count() == 1; }));
  }

  std::shared_ptr<Election> latch(ElectionConfig c = {}) {
    c.listeners = journal.listeners();
    return Election::start(gate, path, lk::latch_profile(), std::move(c));
  }
  std::vector<std::string> ours() const {
    std::vector<std::string> out;
    for (const auto& child : gate->children_of(path))
      if (gate->owner_of(path + "/" + child) != 99) out.push_back(child);
    return out;
  }
};

TEST_F(ElectionTest, ALatchLeadsWithItsNodesCzxidAndCloseLeavesNothing) {
  auto e = latch();
  ASSERT_TRUE(e->await_until(Clock::now() + 5s));
  EXPECT_TRUE(e->is_leader());
  ASSERT_EQ(ours().size(), 1U);
  const std::string node = path + "/" + ours().front();
  EXPECT_EQ(e->node_path(), node);
  EXPECT_EQ(lk::parse_lock_name(ours().front())->form, lk::NameForm::latch);
  const auto token = e->term();
  EXPECT_GT(token, 0);
  EXPECT_TRUE(e->fenced(std::nullopt, {zk::Op::create(path + "-state", "x")}, {}).ok());
  e->close(zk::CloseMode::notify);
  EXPECT_FALSE(e->is_leader());
  EXPECT_TRUE(gate->children_of(path).empty()) << "close() returned before our node was deleted";
  EXPECT_EQ(gate->watches(), 0U);
  EXPECT_EQ(journal.get(),
            (std::vector<std::string>{"leader " + std::to_string(token), "follower"}));
  try {
    (void)e->term();
    ADD_FAILURE() << "term() after close";
  } catch (const zk::Error& err) {
    EXPECT_EQ(err.errc(), Errc::not_leader);
  }
}

TEST_F(ElectionTest, AFollowerLeadsWhenItsPredecessorGoesWithALargerTerm) {
  const std::string first = gate->add_foreign(path, other_latch);
  auto e = latch();
  EXPECT_FALSE(e->await_until(Clock::now() + 200ms));
  EXPECT_FALSE(e->is_leader());
  const auto all = e->participants({});
  ASSERT_EQ(all.size(), 2U);
  EXPECT_TRUE(all[0].leader);
  EXPECT_EQ(all[0].node, first);
  gate->delete_node(path + "/" + first);
  ASSERT_TRUE(e->await_until(Clock::now() + 5s));
  EXPECT_GT(e->term(), all[0].czxid);
  try {
    (void)e->fenced(std::nullopt, {}, {});
    ADD_FAILURE() << "fenced() with no ops";
  } catch (const zk::Error& err) {
    EXPECT_EQ(err.errc(), Errc::invalid_argument);
  }
  // A write tied to an earlier term is refused once a later one is current.
  try {
    (void)e->fenced(all[0].czxid, {zk::Op::create(path + "-x", "")}, {});
    ADD_FAILURE() << "a write of another term was sent";
  } catch (const zk::Error& err) {
    EXPECT_EQ(err.errc(), Errc::not_leader);
  }
  e->close(zk::CloseMode::silent);
  gate->drain();
  EXPECT_EQ(journal.count("follower"), 0U) << "CloseMode::silent notified";
  EXPECT_EQ(gate->watches(), 0U);
}

TEST_F(ElectionTest, SuspensionMakesTheLatchUncertainAndTheSameSessionReChecksInPlace) {
  auto e = latch();
  ASSERT_TRUE(e->await_until(Clock::now() + 5s));
  const auto token = e->term();
  gate->suspend();
  ASSERT_TRUE(zkt::eventually([&] { return !e->is_leader(); }));
  EXPECT_EQ(e->term(), token) << "the term goes on while uncertain";
  gate->reconnect();
  ASSERT_TRUE(zkt::eventually([&] { return e->is_leader(); }));
  EXPECT_EQ(e->term(), token) << "same session, same node: the same term";
  EXPECT_EQ(ours().size(), 1U);
  gate->drain();
  EXPECT_EQ(journal.get(),
            (std::vector<std::string>{"leader " + std::to_string(token), "uncertain", "certain"}));
  e->close(zk::CloseMode::silent);
}

TEST_F(ElectionTest, ANodeDeletedWhileSuspendedEndsTheTermAtTheReCheck) {
  auto e = latch();
  ASSERT_TRUE(e->await_until(Clock::now() + 5s));
  const auto token = e->term();
  gate->suspend();
  ASSERT_TRUE(zkt::eventually([&] { return !e->is_leader(); }));
  gate->delete_node(e->node_path()); // an operator, while we could not hear
  gate->reconnect();
  // The term ends; the latch queues again and leads with a new node.
  ASSERT_TRUE(e->await_until(Clock::now() + 5s));
  EXPECT_GT(e->term(), token);
  gate->drain();
  EXPECT_EQ(journal.count("follower"), 1U);
  EXPECT_EQ(journal.count("certain"), 0U) << "declared certain with its node gone";
  e->close(zk::CloseMode::silent);
}

TEST_F(ElectionTest, AnExpiryEndsTheTermAndTheNewSessionLeadsWithANewNode) {
  auto e = latch();
  ASSERT_TRUE(e->await_until(Clock::now() + 5s));
  const auto token = e->term();
  const auto first_session = gate->session_id();
  gate->expire();
  ASSERT_TRUE(zkt::eventually([&] { return journal.count("follower") == 1; }));
  ASSERT_TRUE(e->await_until(Clock::now() + 5s));
  EXPECT_GT(e->term(), token);
  EXPECT_NE(gate->session_id(), first_session);
  ASSERT_EQ(ours().size(), 1U);
  EXPECT_EQ(gate->owner_of(e->node_path()), gate->session_id());
  e->close(zk::CloseMode::silent);
  EXPECT_TRUE(gate->children_of(path).empty());
}

TEST_F(ElectionTest, AForeignChildFailsTheElectionAndLeavesNoNode) {
  gate->add_foreign(path, "_c_00000000-0000-4000-8000-000000000000-lock-"); // a mutex node
  auto e = latch();
  try {
    e->await_until(Clock::now() + 5s);
    ADD_FAILURE() << "a latch under a mutex's path waited instead of failing";
  } catch (const zk::Error& err) {
    EXPECT_EQ(err.errc(), Errc::foreign_node) << err.what();
  }
  gate->drain();
  EXPECT_TRUE(ours().empty()) << "our node stayed behind the foreign one";
  e->close(zk::CloseMode::silent);
}

struct Selector {
  std::atomic<int> terms{0};
  std::atomic<int> stopped{0};
  std::atomic<bool> running{false};
  ElectionConfig config() {
    ElectionConfig c;
    c.kind = "LeaderSelector";
    c.work = [this](zk::Leadership& l) {
      ++terms;
      running = true;
      l.wait_until_stop(zk::far_future);
      running = false;
      ++stopped;
    };
    return c;
  }
};

TEST_F(ElectionTest, ASuspensionAsksTheSelectorsFunctionToStopAndItLeadsAgainAfter) {
  Selector s;
  auto c = s.config();
  c.listeners = journal.listeners();
  auto e = Election::start(gate, path, lk::selector_profile(), std::move(c));
  ASSERT_TRUE(zkt::eventually([&] { return s.running.load(); }));
  const auto token = e->term();
  gate->suspend();
  ASSERT_TRUE(zkt::eventually([&] { return s.stopped.load() == 1; }));
  gate->reconnect();
  ASSERT_TRUE(zkt::eventually([&] { return s.terms.load() == 2 && s.running.load(); }));
  EXPECT_GT(e->term(), token) << "requeued with a new node";
  EXPECT_EQ(ours().size(), 1U);
  e->close(zk::CloseMode::silent);
  EXPECT_FALSE(s.running.load()) << "close() returned with the function still running";
  EXPECT_TRUE(gate->children_of(path).empty());
}

TEST_F(ElectionTest, LeadWhileSuspendedKeepsTheFunctionRunningUntilTheSessionIsLost) {
  Selector s;
  auto c = s.config();
  c.lead_while_suspended = true;
  auto e = Election::start(gate, path, lk::selector_profile(), std::move(c));
  ASSERT_TRUE(zkt::eventually([&] { return s.running.load(); }));
  gate->suspend();
  gate->drain();
  EXPECT_TRUE(s.running.load());
  EXPECT_TRUE(e->is_leader());
  gate->expire();
  ASSERT_TRUE(zkt::eventually([&] { return s.stopped.load() == 1; }));
  e->close(zk::CloseMode::silent);
}

TEST_F(ElectionTest, APausePastTheTimeoutStopsTheFunctionWithoutAnyEvent) {
  Selector s;
  auto e = Election::start(gate, path, lk::selector_profile(), s.config());
  ASSERT_TRUE(zkt::eventually([&] { return s.running.load(); }));
  gate->pause_past_timeout(); // nothing reported: only judging the hold finds it
  ASSERT_TRUE(zkt::eventually([&] { return s.stopped.load() == 1; }));
  EXPECT_FALSE(e->is_leader());
  EXPECT_EQ(s.terms.load(), 1) << "a term granted while the server may have expired the session";
  gate->expire();
  e->close(zk::CloseMode::silent);
}

TEST_F(ElectionTest, InterruptEndsTheTermAndWithoutRequeueTheSelectorWaitsForRequeue) {
  Selector s;
  auto c = s.config();
  c.requeue = false;
  auto e = Election::start(gate, path, lk::selector_profile(), std::move(c));
  ASSERT_TRUE(zkt::eventually([&] { return s.running.load(); }));
  e->interrupt();
  ASSERT_TRUE(zkt::eventually([&] { return s.stopped.load() == 1; }));
  ASSERT_TRUE(zkt::eventually([&] { return gate->children_of(path).empty(); }));
  gate->drain();
  EXPECT_EQ(s.terms.load(), 1) << "queued again without requeue";
  e->requeue();
  ASSERT_TRUE(zkt::eventually([&] { return s.terms.load() == 2; }));
  e->close(zk::CloseMode::silent);
  EXPECT_TRUE(gate->children_of(path).empty());
}

TEST(ElectionPolicy, OnlyPermanentTroubleEndsTheElection) {
  using zk::detail::leader::ends_election;
  EXPECT_TRUE(ends_election(Errc::foreign_node, false, true));
  EXPECT_TRUE(ends_election(Errc::no_auth, false, true));
  EXPECT_TRUE(ends_election(Errc::connection_loss, true, true)) << "a closed session ends it";
  EXPECT_TRUE(ends_election(Errc::session_lost, false, false));
  EXPECT_FALSE(ends_election(Errc::session_lost, false, true)) << "a new session follows";
  // A request cut off while the session is renewed reports the closing of the old handle.
  EXPECT_FALSE(ends_election(Errc::session_closed, false, true));
  EXPECT_FALSE(ends_election(Errc::connection_loss, false, true));
  EXPECT_FALSE(ends_election(Errc::operation_timeout, false, true));
}

TEST_F(ElectionTest, ConcurrentClosesJoinOnceAndLeaveNothing) {
  auto e = latch();
  ASSERT_TRUE(e->await_until(Clock::now() + 5s));
  std::vector<std::thread> closers;
  for (int i = 0; i < 4; ++i)
    closers.emplace_back([&] { e->close(zk::CloseMode::silent); });
  for (auto& t : closers)
    t.join();
  EXPECT_TRUE(gate->children_of(path).empty());
  EXPECT_FALSE(e->await_until(Clock::now() + 1s)) << "a closed latch said it leads";
}

TEST_F(ElectionTest, WithoutRequeueAwaitReturnsFalseOnceTheTermIsOver) {
  ElectionConfig c;
  c.kind = "LeaderSelector";
  c.requeue = false;
  c.work = [](zk::Leadership&) {}; // a term that ends at once
  auto e = Election::start(gate, path, lk::selector_profile(), std::move(c));
  // Whether it looks before or after the quick term, it must not wait for a term that never comes.
  const auto start = Clock::now();
  (void)e->await_until(Clock::now() + 5s);
  ASSERT_TRUE(zkt::eventually([&] { return gate->children_of(path).empty(); }));
  EXPECT_FALSE(e->await_until(Clock::now() + 5s));
  EXPECT_LT(Clock::now() - start, 4s) << "await waited for a term that cannot come";
  e->close(zk::CloseMode::silent);
}

TEST_F(ElectionTest, ATermGrantedWhileSuspendedStartsUncertain) {
  gate->hold_replies(); // the create and the listing are answered after the suspension
  auto e = latch();
  ASSERT_TRUE(zkt::eventually([&] { return gate->requests("children") >= 1; }));
  gate->suspend();
  gate->release_replies();
  ASSERT_TRUE(zkt::eventually([&] { return journal.count("leader") == 1; }));
  gate->drain();
  EXPECT_FALSE(e->is_leader()) << "granted during a suspension, and said certain";
  EXPECT_EQ(journal.count("uncertain"), 1U);
  gate->reconnect();
  ASSERT_TRUE(zkt::eventually([&] { return e->is_leader(); }));
  e->close(zk::CloseMode::silent);
}

TEST_F(ElectionTest, ASelectorGrantedWhileSuspendedDoesNotRunItsFunctionThen) {
  std::atomic<int> runs{0};
  ElectionConfig c;
  c.kind = "LeaderSelector";
  c.work = [&](zk::Leadership& l) {
    ++runs;
    l.wait_until_stop(zk::far_future);
  };
  gate->hold_replies();
  auto e = Election::start(gate, path, lk::selector_profile(), std::move(c));
  ASSERT_TRUE(zkt::eventually([&] { return gate->requests("children") >= 1; }));
  gate->suspend();
  gate->release_replies();
  gate->drain();
  EXPECT_EQ(runs.load(), 0) << "the function ran while the connection was suspended";
  gate->reconnect();
  ASSERT_TRUE(zkt::eventually([&] { return runs.load() == 1; }));
  e->close(zk::CloseMode::silent);
}

} // namespace
