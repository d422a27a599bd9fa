// The counter's update protocol (CounterCore) against a fake session gate, for what the live
// ensemble cannot be made to do on cue: a contention marker whose create is answered only after
// the writer stopped waiting for it. Both drivers, blocking and asynchronous. No server.
#include "fake_gate.hpp"

#include "recipes/counter/codec.hpp"
#include "recipes/counter/counter_core.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <future>

using namespace std::chrono_literals;

namespace {

using zk::detail::CounterCore;
namespace counter = zk::detail::counter;

class CounterCoreTest : public ::testing::TestWithParam<bool> {
protected:
  std::shared_ptr<zkt::FakeGate> gate = std::make_shared<zkt::FakeGate>();
  const std::string path = "/app/c";

  CounterCoreTest() {
    gate->op_timeout = 100ms; // how long a writer waits for its marker's create
    gate->make_path("/app");
  }
  void TearDown() override {
    gate->drain();
    EXPECT_TRUE(zkt::eventually([&] { return gate.use_count() == 1; }));
  }
  // The contention markers among the counter node's children (the others are turn nodes).
  std::size_t markers() {
    const auto children = gate->children_of(path);
    return static_cast<std::size_t>(
        std::count_if(children.begin(), children.end(), [](const std::string& c) {
          return c.rfind(counter::marker_prefix, 0) == 0;
        }));
  }
  // add(1) through the blocking driver, or through the asynchronous one (GetParam()).
  zk::AddResult add(CounterCore& core) {
    if (!GetParam()) return core.add(1, 10s);
    auto promise = std::make_shared<std::promise<zk::AddResult>>();
    auto result = promise->get_future();
    core.async_add(1, 10s, nullptr, zk::detail::core::to_promise(std::move(promise)));
    EXPECT_EQ(result.wait_for(10s), std::future_status::ready);
    return result.get();
  }
};

TEST_P(CounterCoreTest, AMarkerAnsweredAfterItsWriterGaveUpOnItIsDeletedAsItLands) {
  auto core = std::make_shared<CounterCore>(gate, path, zk::CounterOptions());
  EXPECT_EQ(add(*core).after, 1); // creates the node; the cache holds its version
  // Another writer moves the node on, so the cached version is refused: a conflict, after which
  // the writer announces itself with a marker, whose reply is held back past its wait.
  gate->put(path, counter::encode(zk::CounterCodec::int64_be, 5, {}, path));
  gate->hold_next_create_reply();
  const auto r = add(*core);
  EXPECT_EQ(r.before, 5);
  EXPECT_EQ(r.after, 6);
  EXPECT_GE(r.attempts, 2);
  ASSERT_EQ(markers(), 1U) << "the marker's create was not sent";

  gate->release_replies(); // the create's answer lands now, long after its writer moved on
  EXPECT_TRUE(zkt::eventually([&] { return markers() == 0; }))
      << "a marker nobody recorded would tell other writers of contention for the session's life";
  core.reset();
  EXPECT_TRUE(gate->children_of(path).empty()) << "a turn node outlived its counter";
}

// Combined calls (the default): a thread queued behind another thread's write that hangs leaves by
// its own deadline, having sent nothing, while the write it waited behind is still out.
TEST(CounterCombine, AQueuedCallLeavesByItsDeadlineWhileTheBatchAheadIsStillOut) {
  auto gate = std::make_shared<zkt::FakeGate>();
  gate->op_timeout = 2s; // the batch ahead waits this long for its create's reply
  gate->make_path("/app");
  auto core = std::make_shared<CounterCore>(gate, "/app/c", zk::CounterOptions());
  gate->hold_next_create_reply(); // the first write creates the node: its reply is held
  auto ahead = std::async(std::launch::async, [&] { return core->add(1, 10s); });
  ASSERT_TRUE(zkt::eventually([&] { return gate->exists("/app/c"); })) << "the create never left";
  try {
    (void)core->add(1, 100ms);
    ADD_FAILURE() << "a call queued behind a hanging write returned a result";
  } catch (const zk::Error& e) {
    EXPECT_EQ(e.errc(), zk::Errc::deadline_exceeded) << e.what();
  }
  EXPECT_EQ(ahead.wait_for(0s), std::future_status::timeout) << "the batch ahead was not out";
  gate->release_replies();
  EXPECT_EQ(ahead.get().after, 1); // only its own delta was written
  core.reset();
  gate->drain();
}

INSTANTIATE_TEST_SUITE_P(Drivers, CounterCoreTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& driver) {
                           return driver.param ? "async" : "blocking";
                         });

} // namespace
