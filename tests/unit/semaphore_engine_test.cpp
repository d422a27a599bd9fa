// The queue engine's waits on the children (QueueDecision::watch_children), its non-sequential
// nodes and reconsider(), with the semaphore's lease policy, against a fake session gate. No
// server.
#include "fake_gate.hpp"

#include "core/queue_engine.hpp"
#include "recipes/semaphore/semaphore_protocol.hpp"

#include <gtest/gtest.h>

#include <future>

using namespace std::chrono_literals;

namespace {

using zk::Clock;
using zk::SemaphoreProfile;
using zk::detail::core::Hold;
using zk::detail::core::QueueEngine;
namespace sem = zk::detail::semaphore;

class LeaseEngineTest : public ::testing::Test {
protected:
  std::shared_ptr<zkt::FakeGate> gate = std::make_shared<zkt::FakeGate>();
  const std::string path = "/app/pool/leases";
  std::shared_ptr<std::atomic<std::int32_t>> max = std::make_shared<std::atomic<std::int32_t>>(2);

  LeaseEngineTest() { gate->make_path(path); }
  void TearDown() override {
    gate->drain();
    EXPECT_TRUE(zkt::eventually([&] { return gate.use_count() == 1; }));
  }
  std::unique_ptr<Hold> lease(SemaphoreProfile profile = SemaphoreProfile::curator) {
    auto h = std::make_unique<Hold>();
    h->contender = QueueEngine::standalone(
        gate, path, std::make_shared<sem::LeasePolicy>(profile, max), h->options);
    return h;
  }
  static bool held(const Hold& h) {
    return h.contender->read(h, [](const Hold& x) { return x.held(); });
  }
  std::vector<std::string> ours() const {
    std::vector<std::string> out;
    for (const auto& c : gate->children_of(path))
      if (gate->owner_of(path + "/" + c) != 99) out.push_back(c);
    return out;
  }
};

TEST_F(LeaseEngineTest, LeasesHoldUpToTheMaximumAndAWaiterHoldsWhenAnyLeaseGoes) {
  const auto a = gate->add_foreign(path, "_c_00000000-0000-4000-8000-000000000001-lease-");
  const auto b = gate->add_foreign(path, "_c_00000000-0000-4000-8000-000000000002-lease-");
  auto mine = lease();
  auto waiting = std::async(std::launch::async, [&] {
    return mine->contender->acquire(*mine, Clock::now() + 5s, false);
  });
  ASSERT_TRUE(zkt::eventually([&] { return gate->watches() == 1; })) << "no children watch";
  EXPECT_EQ(ours().size(), 1U);
  EXPECT_FALSE(held(*mine));
  gate->delete_node(path + "/" + a); // the older lease: any lease frees a place
  ASSERT_TRUE(waiting.get());
  EXPECT_TRUE(held(*mine));
  EXPECT_EQ(mine->node, path + "/" + ours().front());
  mine->contender->release(*mine, true);
  gate->drain();
  EXPECT_TRUE(ours().empty());
  EXPECT_EQ(gate->watches(), 0U) << "the children watch outlived the lease";
  gate->delete_node(path + "/" + b);
}

TEST_F(LeaseEngineTest, AHigherMaximumAdmitsTheWaiterWithoutANewListing) {
  max->store(1);
  const auto a = gate->add_foreign(path, "_c_00000000-0000-4000-8000-000000000001-lease-");
  auto mine = lease();
  auto waiting = std::async(std::launch::async, [&] {
    return mine->contender->acquire(*mine, Clock::now() + 5s, false);
  });
  ASSERT_TRUE(zkt::eventually([&] { return gate->watches() == 1; }));
  gate->drain();
  const int listings = gate->requests("children");
  max->store(2);
  // Decided to wait before the change: only reconsider() makes it decide again.
  EXPECT_EQ(waiting.wait_for(std::chrono::milliseconds(200)), std::future_status::timeout);
  mine->contender->reconsider();
  ASSERT_TRUE(waiting.get());
  EXPECT_EQ(gate->requests("children"), listings);
  mine->contender->release(*mine, true);
  gate->delete_node(path + "/" + a);
}

TEST_F(LeaseEngineTest, ATimeoutOrATryLeavesNeitherLeaseNorWatch) {
  max->store(1);
  const auto a = gate->add_foreign(path, "_c_00000000-0000-4000-8000-000000000001-lease-");
  auto mine = lease();
  EXPECT_FALSE(mine->contender->acquire(*mine, Clock::now() + 200ms, false));
  EXPECT_TRUE(ours().empty());
  EXPECT_EQ(gate->watches(), 0U);
  EXPECT_FALSE(mine->contender->acquire(*mine, Clock::now() + 2s, true));
  EXPECT_TRUE(ours().empty());
  EXPECT_EQ(gate->watches(), 0U);
  gate->delete_node(path + "/" + a);
}

TEST_F(LeaseEngineTest, ACancelWhileWaitingOnTheChildrenLeavesNothing) {
  max->store(1);
  const auto a = gate->add_foreign(path, "_c_00000000-0000-4000-8000-000000000001-lease-");
  auto mine = lease();
  zk::CancelToken cancel;
  auto waiting = std::async(std::launch::async, [&] {
    try {
      (void)mine->contender->acquire(*mine, Clock::now() + 5s, false, &cancel);
      return zk::Errc::ok;
    } catch (const zk::Error& e) {
      return e.errc();
    }
  });
  ASSERT_TRUE(zkt::eventually([&] { return gate->watches() == 1; }));
  cancel.cancel();
  EXPECT_EQ(waiting.get(), zk::Errc::cancelled);
  gate->drain();
  EXPECT_TRUE(ours().empty());
  EXPECT_EQ(gate->watches(), 0U) << "the children watch outlived the cancelled wait";
  gate->delete_node(path + "/" + a);
}

TEST_F(LeaseEngineTest, AKazooLeaseWhoseCreateReplyWasLostIsAdoptedNotDuplicated) {
  auto mine = lease(SemaphoreProfile::kazoo);
  gate->lose_next_create_reply(); // applied on the server, answered connection_loss
  ASSERT_TRUE(mine->contender->acquire(*mine, Clock::now() + 5s, false));
  ASSERT_EQ(ours().size(), 1U);
  EXPECT_EQ(ours().front().size(), 32U) << "a Kazoo lease has no sequence";
  EXPECT_EQ(mine->node, path + "/" + ours().front());
  mine->contender->release(*mine, true);
  gate->drain();
  EXPECT_TRUE(ours().empty());
}

TEST_F(LeaseEngineTest, AnExpiryWhileWaitingQueuesAgainInTheNewSession) {
  max->store(1);
  const auto a = gate->add_foreign(path, "_c_00000000-0000-4000-8000-000000000001-lease-");
  auto mine = lease();
  auto waiting = std::async(std::launch::async, [&] {
    return mine->contender->acquire(*mine, Clock::now() + 5s, false);
  });
  ASSERT_TRUE(zkt::eventually([&] { return gate->watches() == 1; }));
  gate->expire(); // our waiting lease goes with the session, and so does its watch
  ASSERT_TRUE(zkt::eventually([&] { return ours().size() == 1 && gate->watches() == 1; }))
      << "no new lease in the new session";
  gate->delete_node(path + "/" + a);
  ASSERT_TRUE(waiting.get());
  EXPECT_EQ(gate->owner_of(mine->node), gate->session_id());
  mine->contender->release(*mine, true);
}

} // namespace
