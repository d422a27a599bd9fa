// core::NodeWatch against the fake session gate: creation, change and deletion reported as states,
// re-armed after each event and after a session expiry, silent after stop(). No server.
#include "fake_gate.hpp"

#include "core/node_watch.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <string>
#include <vector>

namespace {

class NodeWatchTest : public ::testing::Test {
protected:
  std::mutex m;
  std::vector<std::string> seen; // "-" for absent
  // Last: destroyed first, so its callback thread has stopped before `seen` goes.
  std::shared_ptr<zkt::FakeGate> gate = std::make_shared<zkt::FakeGate>();

  std::shared_ptr<zk::detail::core::NodeWatch> watch(const std::string& path) {
    return zk::detail::core::NodeWatch::start(gate, path, [this](const auto& node) {
      std::lock_guard<std::mutex> lk(m);
      seen.push_back(node ? node->data : "-");
    });
  }
  void TearDown() override {
    gate->drain();
    EXPECT_TRUE(zkt::eventually([&] { return gate.use_count() == 1; }));
  }
  bool saw(const std::vector<std::string>& expected) {
    return zkt::eventually([&] {
      std::lock_guard<std::mutex> lk(m);
      return seen == expected;
    });
  }
};

TEST_F(NodeWatchTest, ReportsCreationChangeAndDeletionAndReArmsAfterEach) {
  gate->make_path("/app");
  const auto w = watch("/app/config");
  ASSERT_TRUE(saw({"-"}));
  gate->put("/app/config", "v1");
  ASSERT_TRUE(saw({"-", "v1"}));
  gate->put("/app/config", "v2");
  ASSERT_TRUE(saw({"-", "v1", "v2"}));
  gate->delete_node("/app/config");
  ASSERT_TRUE(saw({"-", "v1", "v2", "-"}));
  gate->drain();
  EXPECT_EQ(gate->watches(), 1U) << "exactly one watch armed at a time";
}

TEST_F(NodeWatchTest, SurvivesASessionExpiryAndStopsForGood) {
  gate->make_path("/app");
  gate->put("/app/config", "v1");
  const auto w = watch("/app/config");
  ASSERT_TRUE(saw({"v1"}));
  gate->expire(); // the old session's watch is gone; the new session re-arms
  gate->drain();
  gate->put("/app/config", "v2");
  ASSERT_TRUE(saw({"v1", "v2"})) << "the watch was not re-armed on the new session";
  w->stop();
  gate->put("/app/config", "v3");
  gate->drain();
  std::lock_guard<std::mutex> lk(m);
  EXPECT_EQ(seen, (std::vector<std::string>{"v1", "v2"})) << "a report after stop()";
}

TEST_F(NodeWatchTest, ATransientErrorBetweenExistsAndGetLeavesOneReArmingWatch) {
  gate->make_path("/app");
  gate->put("/app/config", "v1");
  gate->fail_next_get(zk::Errc::connection_loss); // exists (and its watch) went through
  const auto w = watch("/app/config");
  ASSERT_TRUE(saw({"v1"}));
  gate->drain();
  gate->put("/app/config", "v2"); // fires the first round's watch and the retry's
  ASSERT_TRUE(saw({"v1", "v2"}));
  gate->drain();
  const int before = gate->requests("exists");
  gate->put("/app/config", "v3");
  ASSERT_TRUE(saw({"v1", "v2", "v3"}));
  gate->drain();
  EXPECT_EQ(gate->requests("exists") - before, 1) << "stale watches re-arm too: they pile up";
}

TEST_F(NodeWatchTest, StopWaitsForARunningReport) {
  gate->make_path("/app");
  std::atomic<bool> in_report{false};
  std::atomic<bool> finished{false};
  const auto w = zk::detail::core::NodeWatch::start(gate, "/app/config", [&](const auto&) {
    in_report = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200)); // a slow report
    finished = true;
  });
  ASSERT_TRUE(zkt::eventually([&] { return in_report.load(); }));
  w->stop();
  EXPECT_TRUE(finished.load()) << "stop() returned while a report was running";
}

} // namespace
