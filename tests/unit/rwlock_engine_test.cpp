// The queue engine's shared holds and a downgrade's created hold (the read-write lock's needs of
// src/core/queue_engine*), with rw_protocol's policies, against a fake session gate. No server.
#include "fake_gate.hpp"

#include "core/queue_engine.hpp"
#include "recipes/rwlock/rw_protocol.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <set>
#include <thread>

using namespace std::chrono_literals;

namespace {

using zk::Clock;
using zk::Errc;
using zk::detail::core::Hold;
using zk::detail::core::QueueEngine;
using zk::detail::core::QueueOptions;
namespace rw = zk::detail::rwlock;

// Another client's writer and reader, in Curator's form.
const std::string foreign_writer = "_c_00000000-0000-4000-8000-000000000000-__WRIT__";
const std::string foreign_reader = "_c_00000000-0000-4000-8000-000000000001-__READ__";

class RwEngineTest : public ::testing::Test {
protected:
  std::shared_ptr<zkt::FakeGate> gate = std::make_shared<zkt::FakeGate>();
  const std::string path = "/app/rw";

  RwEngineTest() { gate->make_path(path); }
  void TearDown() override {
    gate->drain();
    EXPECT_TRUE(zkt::eventually([&] { return gate.use_count() == 1; }));
  }
  std::unique_ptr<Hold> hold(rw::Side side, QueueOptions options = {}) {
    auto h = std::make_unique<Hold>();
    h->contender =
        QueueEngine::for_path(gate, path, rw::RwPolicy::of(rw::curator_profile(), side), options);
    h->options = std::move(options);
    return h;
  }
  static bool held(const Hold& h) {
    return h.contender->read(h, [](const Hold& x) { return x.held(); });
  }
  // Acquires on a thread of its own (a thread holding a side cannot ask for it again).
  static std::future<bool> acquire_on_thread(Hold& h, std::chrono::milliseconds wait) {
    return std::async(std::launch::async,
                      [&h, wait] { return h.contender->acquire(h, Clock::now() + wait, false); });
  }
  std::vector<std::string> ours() const {
    std::vector<std::string> out;
    for (const auto& c : gate->children_of(path))
      if (gate->owner_of(path + "/" + c) != 99) out.push_back(c);
    return out;
  }
};

TEST_F(RwEngineTest, ReadersOfOneProcessShareOneNodeUntilTheLastLeaves) {
  auto a = hold(rw::Side::read);
  auto b = hold(rw::Side::read);
  ASSERT_TRUE(a->contender->acquire(*a, Clock::now() + 5s, false));
  ASSERT_TRUE(acquire_on_thread(*b, 5s).get()) << "a second reader waited for the first";
  EXPECT_EQ(gate->requests("create"), 1) << "the second reader joined the held node";
  EXPECT_EQ(a->token, b->token);
  EXPECT_EQ(ours().size(), 1U);
  a->contender->release(*a, true);
  gate->drain();
  EXPECT_EQ(ours().size(), 1U) << "the node went while a reader still held it";
  EXPECT_TRUE(held(*b));
  std::async(std::launch::async, [&] { b->contender->release(*b, true); }).get();
  gate->drain();
  EXPECT_TRUE(ours().empty());
  EXPECT_EQ(gate->watches(), 0U);
}

TEST_F(RwEngineTest, ThreadsWaitingBehindAWriterAllReadWhenItGoes) {
  const std::string w = gate->add_foreign(path, foreign_writer);
  auto a = hold(rw::Side::read);
  auto b = hold(rw::Side::read);
  auto got_a = acquire_on_thread(*a, 5s);
  auto got_b = acquire_on_thread(*b, 5s);
  ASSERT_TRUE(zkt::eventually([&] { return ours().size() == 1 && gate->watches() == 1; }));
  EXPECT_EQ(got_a.wait_for(100ms), std::future_status::timeout) << "read past a writer";
  gate->delete_node(path + "/" + w);
  EXPECT_TRUE(got_a.get());
  EXPECT_TRUE(got_b.get());
  EXPECT_EQ(ours().size(), 1U) << "one read node for both threads";
}

TEST_F(RwEngineTest, AJoinPastTheBoundsWaitsAndTheNodeIsReleasedForWritersElsewhere) {
  QueueOptions o;
  o.max_local_handoffs = 0;
  auto a = hold(rw::Side::read, o);
  auto b = hold(rw::Side::read, o);
  ASSERT_TRUE(a->contender->acquire(*a, Clock::now() + 5s, false));
  const auto first = ours();
  auto got_b = acquire_on_thread(*b, 5s);
  EXPECT_EQ(got_b.wait_for(200ms), std::future_status::timeout) << "joined past the bound";
  // A writer elsewhere queues meanwhile: b's next node is behind it.
  const std::string w = gate->add_foreign(path, foreign_writer);
  a->contender->release(*a, true);
  ASSERT_TRUE(zkt::eventually([&] { return ours().size() == 1 && ours() != first; }));
  EXPECT_EQ(got_b.wait_for(200ms), std::future_status::timeout) << "read past the writer";
  gate->delete_node(path + "/" + w);
  EXPECT_TRUE(got_b.get());
  std::async(std::launch::async, [&] { b->contender->release(*b, true); }).get();
}

TEST_F(RwEngineTest, ALossEndsEveryReadersHoldAndEachObjectHearsOfItOnce) {
  std::atomic<int> lost{0};
  QueueOptions o;
  o.on_lost = [&](const zk::Error&) { ++lost; };
  auto a = hold(rw::Side::read, o);
  auto b = hold(rw::Side::read, o);
  ASSERT_TRUE(a->contender->acquire(*a, Clock::now() + 5s, false));
  ASSERT_TRUE(acquire_on_thread(*b, 5s).get());
  gate->expire();
  ASSERT_TRUE(zkt::eventually([&] { return !held(*a) && !held(*b); }));
  gate->drain();
  EXPECT_EQ(lost.load(), 2);
}

TEST_F(RwEngineTest, ADowngradeHoldsAReadNodeWithTheWritersSequenceBeforeTheWriterGoes) {
  auto w = hold(rw::Side::write);
  auto r = hold(rw::Side::read);
  ASSERT_TRUE(w->contender->acquire(*w, Clock::now() + 5s, false));
  // A reader of this process queues behind our writer; a writer elsewhere behind both.
  auto r2 = hold(rw::Side::read);
  auto got_r2 = acquire_on_thread(*r2, 5s);
  ASSERT_TRUE(zkt::eventually([&] { return ours().size() == 2 && gate->watches() == 2; }));
  const std::string other = gate->add_foreign(path, foreign_writer);

  const auto& rp = rw::RwPolicy::of(rw::curator_profile(), rw::Side::read);
  const std::string guid = rp.make_guid();
  const std::string child = rp.downgrade_name(w->node.substr(path.size() + 1), guid);
  r->contender->hold_created(*r, guid, child, w->node, w->token, Clock::now() + 5s);
  EXPECT_TRUE(held(*r));
  EXPECT_EQ(r->token, w->token) << "a downgrade keeps the writer's token (ordered where it was)";
  EXPECT_TRUE(got_r2.get()) << "the queued reader shares the downgraded node";
  EXPECT_EQ(r2->node, path + "/" + child);
  w->contender->release(*w, true, false);
  gate->drain();
  EXPECT_EQ(ours(), std::vector<std::string>{child}) << "the writer's and the queued read node go";
  const auto d = rw::RwPolicy::of(rw::curator_profile(), rw::Side::write)
                     .decide(gate->children_of(path), other, "");
  EXPECT_EQ(d.kind, zk::detail::lock::Decision::Kind::wait) << "the later writer slipped in";
  r->contender->release(*r, true);
  std::async(std::launch::async, [&] { r2->contender->release(*r2, true); }).get();
  gate->drain();
  EXPECT_TRUE(ours().empty());
}

TEST_F(RwEngineTest, AnUnlockFromAThreadHoldingNothingLeavesAnotherThreadsHold) {
  QueueOptions o;
  o.holder_thread_only = true;
  auto w = hold(rw::Side::write, o);
  ASSERT_TRUE(acquire_on_thread(*w, 5s).get()); // another thread writes through the object
  w->contender->release(*w, false);             // a stale guard of this thread: nothing to end
  EXPECT_TRUE(held(*w)) << "this thread's unlock ended another thread's write hold";
  EXPECT_THROW(w->contender->release(*w, true), zk::Error);
  std::async(std::launch::async, [&] { w->contender->release(*w, true); }).get();
  EXPECT_FALSE(held(*w));
}

TEST_F(RwEngineTest, ADowngradeWhoseWriterIsGoneCreatesNothing) {
  auto r = hold(rw::Side::read);
  const auto& rp = rw::RwPolicy::of(rw::curator_profile(), rw::Side::read);
  const std::string guid = rp.make_guid();
  const std::string child = rp.downgrade_name(foreign_writer + "0000000004", guid);
  try {
    r->contender->hold_created(*r, guid, child, path + "/" + foreign_writer + "0000000004", 4,
                               Clock::now() + 2s);
    FAIL() << "a read node was created for a writer that is gone";
  } catch (const zk::Error& e) {
    EXPECT_EQ(e.errc(), Errc::lock_lost) << e.what();
  }
  EXPECT_FALSE(held(*r));
  EXPECT_TRUE(gate->children_of(path).empty());
}

TEST_F(RwEngineTest, AMutexBehindADowngradingKazooWriterListsAgain) {
  const std::string kazoo_writer = "5a0b9c3e1f2d4e6a8b7c9d0e1f2a3b4c__lock__";
  const std::string first = gate->add_foreign(path, kazoo_writer);
  auto m = std::make_unique<Hold>();
  m->contender =
      QueueEngine::for_path(gate, path, zk::detail::lock::ExclusivePolicy::instance(), {});
  auto got = acquire_on_thread(*m, 5s);
  ASSERT_TRUE(zkt::eventually([&] { return ours().size() == 1 && gate->watches() == 1; }));
  const std::string read_node =
      "00112233445566778899aabbccddeeff__rlock__" + first.substr(kazoo_writer.size());
  gate->put(path + "/" + read_node, "");
  gate->delete_node(path + "/" + first);
  EXPECT_EQ(got.wait_for(300ms), std::future_status::timeout)
      << "the mutex concluded from its old listing and overlapped the downgraded reader";
  gate->delete_node(path + "/" + read_node);
  EXPECT_TRUE(got.get());
  std::async(std::launch::async, [&] { m->contender->release(*m, true); }).get();
}

TEST_F(RwEngineTest, AWriterBehindAWriterThatGoesListsAgain) {
  const std::string first = gate->add_foreign(path, foreign_writer);
  auto w = hold(rw::Side::write);
  auto got = acquire_on_thread(*w, 5s);
  ASSERT_TRUE(zkt::eventually([&] { return ours().size() == 1 && gate->watches() == 1; }));
  // The writer ahead downgrades: its read node (same sequence) appears, then the writer goes.
  const std::string read_node = foreign_reader + first.substr(foreign_writer.size());
  gate->put(path + "/" + read_node, "");
  gate->delete_node(path + "/" + first);
  EXPECT_EQ(got.wait_for(300ms), std::future_status::timeout)
      << "the writer concluded from its old listing and overlapped the downgraded reader";
  gate->delete_node(path + "/" + read_node);
  EXPECT_TRUE(got.get());
  std::async(std::launch::async, [&] { w->contender->release(*w, true); }).get();
}

TEST_F(RwEngineTest, AsyncReadersShareOneNodeAndEachGuardEndsOnlyItsOwnHold) {
  QueueOptions o;
  o.holder_thread_only = true; // as a ReadWriteLock's sides
  auto r = hold(rw::Side::read, o);
  const std::string w = gate->add_foreign(path, foreign_writer);
  std::vector<std::promise<std::uint64_t>> granted(3);
  for (auto& p : granted) {
    r->contender->acquire_async(*r, zk::far_future, nullptr,
                                [&p](std::optional<zk::Error> e, std::uint64_t grant) {
                                  if (e) return p.set_exception(std::make_exception_ptr(*e));
                                  p.set_value(grant);
                                });
  }
  ASSERT_TRUE(zkt::eventually([&] { return ours().size() == 1 && gate->watches() == 1; }));
  gate->delete_node(path + "/" + w);
  std::vector<std::uint64_t> grants;
  for (auto& p : granted) {
    auto f = p.get_future();
    ASSERT_EQ(f.wait_for(5s), std::future_status::ready) << "an async reader was not granted";
    grants.push_back(f.get());
  }
  EXPECT_EQ(std::set<std::uint64_t>(grants.begin(), grants.end()).size(), 3U);
  EXPECT_EQ(gate->requests("create"), 1) << "the async readers did not share one read node";
  r->contender->release(*r, false); // this thread holds nothing: no guard's hold ends
  try {
    r->contender->release(*r, true);
    ADD_FAILURE() << "a strict release by a thread holding nothing did not throw";
  } catch (const zk::Error& e) {
    EXPECT_EQ(e.errc(), Errc::lock_not_held) << e.what();
  }
  r->contender->release_grant(*r, grants[1]);
  r->contender->release_grant(*r, grants[1]); // twice: the other guards keep theirs
  r->contender->release_grant(*r, grants[0]);
  gate->drain();
  EXPECT_TRUE(held(*r)) << "a guard's release ended another guard's hold";
  EXPECT_EQ(ours().size(), 1U);
  r->contender->release_grant(*r, grants[2]);
  gate->drain();
  EXPECT_FALSE(held(*r));
  EXPECT_TRUE(zkt::eventually([&] { return ours().empty() && gate->watches() == 0; }));
}

} // namespace
