// zk::Observer against the ensemble: every acquisition that starts ends once (acquired or failed,
// with its code), every hold ends once (released or lost), blocking and asynchronous alike; session
// states, counter updates with their writes, and losses by expiry reach it.
#include "lock_harness.hpp"

#include <zkrecipes/distributed_counter.hpp>
#include <zkrecipes/observer.hpp>

#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <thread>

using namespace std::chrono_literals;
using zk::Errc;

namespace {

// Counts each event as "<event> <recipe> <code>" (the path is the test's only one).
class Recorder : public zk::Observer {
public:
  int count(const std::string& key) {
    std::lock_guard<std::mutex> l(m_mutex);
    return m_counts[key];
  }
  int writes() {
    std::lock_guard<std::mutex> l(m_mutex);
    return m_writes;
  }
  void session_state(const zk::SessionEvent& e) noexcept override {
    note(std::string("state ") + zk::to_string(e.state));
  }
  void acquire_started(std::string_view recipe, std::string_view /*path*/) noexcept override {
    note("started " + std::string(recipe));
  }
  void acquired(std::string_view recipe, std::string_view /*path*/,
                std::chrono::nanoseconds waited) noexcept override {
    note("acquired " + std::string(recipe));
    if (waited.count() < 0) note("negative wait");
  }
  void acquire_failed(std::string_view recipe, std::string_view /*path*/, Errc why,
                      std::chrono::nanoseconds /*waited*/) noexcept override {
    note("failed " + std::string(recipe) + " " + zk::make_error_code(why).message());
  }
  void released(std::string_view recipe, std::string_view /*path*/,
                std::chrono::nanoseconds held) noexcept override {
    note("released " + std::string(recipe));
    if (held.count() < 0) note("negative hold");
  }
  void lost(std::string_view recipe, std::string_view /*path*/, Errc why,
            std::chrono::nanoseconds /*held*/) noexcept override {
    note("lost " + std::string(recipe) + " " + zk::make_error_code(why).message());
  }
  void counter_update(std::string_view /*path*/, Errc result, int writes,
                      std::chrono::nanoseconds /*took*/) noexcept override {
    note("counter " + zk::make_error_code(result).message());
    std::lock_guard<std::mutex> l(m_mutex);
    m_writes += writes;
  }

private:
  void note(const std::string& key) {
    std::lock_guard<std::mutex> l(m_mutex);
    ++m_counts[key];
  }
  std::mutex m_mutex;
  std::map<std::string, int> m_counts;
  int m_writes = 0;
};

std::string code(Errc e) {
  return zk::make_error_code(e).message();
}

TEST(Observer, EveryAcquisitionAndEveryHoldEndsOnceAndLossesAndCountersAreTold) {
  zkt::RootGuard root("observer");
  const std::string path = root.path() + "/l";
  auto rec = std::make_shared<Recorder>();
  auto options = zkt::options(3s);
  options.observer = rec;
  zk::Session s(options);
  EXPECT_TRUE(zkt::wait_until([&] { return rec->count("state connected") == 1; }, 10s));
  zk::DistributedLock lock(s, path);

  lock.lock(); // acquired, then released
  lock.unlock();
  {
    zk::DistributedLock theirs(root.session(), path);
    theirs.lock();
    EXPECT_FALSE(lock.try_lock_for(200ms)); // failed: the deadline
    zk::CancelToken cancel;
    auto f = lock.async_lock({}, cancel);
    cancel.cancel(); // failed: cancelled
    EXPECT_EQ(zkt::code_of([&] { (void)f.get(); }), Errc::cancelled);
    theirs.unlock();
  }
  zk::LockGuard g = lock.async_lock(10s).get(); // acquired asynchronously, released by the guard
  g.release();
  EXPECT_TRUE(zkt::wait_until([&] { return rec->count("released lock") == 2; }, 10s));

  lock.lock(); // then the server expires the session: lost
  zkt::expire_session(s.client_id());
  // session_lost if the expiry is known first, lock_lost if the deletion of our node is.
  const auto losses = [&] {
    return rec->count("lost lock " + code(Errc::session_lost)) +
           rec->count("lost lock " + code(Errc::lock_lost));
  };
  ASSERT_TRUE(zkt::wait_until([&] { return losses() == 1; }, 20s));
  lock.unlock();
  EXPECT_TRUE(zkt::wait_until([&] { return rec->count("state connected") == 2; }, 20s))
      << "the renewed session was not told";

  zk::DistributedCounter counter(s, root.path() + "/c");
  for (int i = 0; i < 3; ++i)
    (void)counter.increment();
  EXPECT_EQ(rec->count("counter " + code(Errc::ok)), 3);
  EXPECT_GE(rec->writes(), 3);
  // An update that gives up still reports the write it sent: one, refused (the cache is stale).
  zk::CounterOptions once;
  once.retry.max_attempts = 1;
  zk::DistributedCounter stale(s, root.path() + "/c", once);
  (void)stale.get(); // caches the node's version
  (void)counter.increment();
  const int writes_before = rec->writes();
  EXPECT_EQ(zkt::code_of([&] { (void)stale.increment(); }), Errc::retries_exhausted);
  EXPECT_EQ(rec->count("counter " + code(Errc::retries_exhausted)), 1);
  EXPECT_EQ(rec->writes(), writes_before + 1);

  const int started = rec->count("started lock");
  const int acquired = rec->count("acquired lock");
  EXPECT_EQ(started, 5);
  EXPECT_EQ(acquired, 3);
  EXPECT_EQ(rec->count("failed lock " + code(Errc::deadline_exceeded)), 1);
  EXPECT_EQ(rec->count("failed lock " + code(Errc::cancelled)), 1);
  EXPECT_EQ(rec->count("released lock"), 2);
  EXPECT_EQ(acquired, rec->count("released lock") + losses());
  EXPECT_EQ(rec->count("negative wait") + rec->count("negative hold"), 0);
}

} // namespace
