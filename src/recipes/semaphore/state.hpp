// What a zk::Semaphore and its leases share: the lease's Hold, and the semaphore's state (shared
// by the object, its acquisitions in flight and the count watch). Private to the semaphore's files.
#pragma once

#include <zkrecipes/semaphore.hpp>

#include "core/gate.hpp"
#include "core/hold_access.hpp"
#include "core/node_watch.hpp"
#include "recipes/semaphore/semaphore_protocol.hpp"

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace zk::detail::semaphore {

using core::Hold;
using core::QueueEngine;

/// A Lease's state: its own Hold on a standalone lease engine.
struct LeaseState {
  Hold hold;
  LeaseState() = default;
  ~LeaseState() { core::end_hold(hold); }
  LeaseState(const LeaseState&) = delete;
  LeaseState& operator=(const LeaseState&) = delete;
  LeaseState(LeaseState&&) = delete;
  LeaseState& operator=(LeaseState&&) = delete;
};

/// A Semaphore's state.
struct State {
  std::shared_ptr<core::Gate> gate;
  std::string path;
  SemaphoreProfile profile = SemaphoreProfile::curator;
  Layout paths;
  std::shared_ptr<std::atomic<std::int32_t>> max = std::make_shared<std::atomic<std::int32_t>>(0);
  bool fixed = true;
  std::shared_ptr<const LeasePolicy> policy;
  core::QueueOptions lease_options;
  /// The internal lock's engine (shared by every object on the path in this process) and the
  /// options of the Hold each acquisition takes on it.
  std::shared_ptr<QueueEngine> lock_engine;
  core::QueueOptions lock_options;

  std::mutex m;
  std::condition_variable cv;
  bool count_known = false;             ///< a SharedCount was read (always, for a fixed maximum)
  std::optional<Error> count_error;     ///< what the last read of the SharedCount found wrong
  std::shared_ptr<QueueEngine> waiting; ///< the lease engine waiting under the lock, if any
  bool kazoo_checked = false;
  /// Asynchronous acquisitions waiting for the SharedCount's first read (run once it came).
  std::map<std::uint64_t, std::function<void()>> count_waiters;
  std::uint64_t next_count_waiter = 0;
  /// Cancelled when the Semaphore goes: its asynchronous acquisitions end with Errc::cancelled.
  CancelToken closing;
  std::shared_ptr<core::NodeWatch> count_watch; // last: stopped first

  /// `engine`'s lease waits under the lock from now (for the SharedCount's watch to wake).
  void wait_with(std::shared_ptr<QueueEngine> engine) {
    const std::lock_guard<std::mutex> lk(m);
    waiting = std::move(engine);
  }
  /// `engine`'s wait is over, unless another acquisition's lease waits by now.
  void stop_waiting(const std::shared_ptr<QueueEngine>& engine) {
    const std::lock_guard<std::mutex> lk(m);
    if (waiting == engine) waiting.reset();
  }

  State() = default;
  ~State() {
    if (count_watch) count_watch->stop();
  }
  State(const State&) = delete;
  State& operator=(const State&) = delete;
  State(State&&) = delete;
  State& operator=(State&&) = delete;
};

inline State& state_of(const std::shared_ptr<State>& s) {
  if (!s) throw Error(Errc::invalid_argument, "use of a moved-from zk::Semaphore");
  return *s;
}

/// Kazoo refuses a contender whose maximum differs from the one stored in the semaphore node:
/// throws Errc::invalid_argument then (`stored` is that node's data).
void compare_kazoo_max(const State& st, const std::string& stored);

} // namespace zk::detail::semaphore
