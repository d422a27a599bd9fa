// The asynchronous form of a hold, shared by every recipe object whose holds a zk::LockGuard ends
// (a lock, a side of a read-write lock): the engine's acquire_async() with the user's completion
// (as a std::error_code, run where the Executor says) or a std::future, and the guard it yields.
#pragma once

#include <zkrecipes/distributed_lock.hpp>

#include "core/queue_engine.hpp"

#include <future>
#include <memory>

namespace zk::detail::core {

/// The one way a LockGuard is made: for the holder of `hold` given grant number `grant`.
struct GuardAccess {
  static LockGuard make(std::weak_ptr<Hold> hold, std::uint64_t grant) noexcept {
    return {std::move(hold), grant};
  }
};

/// Starts an asynchronous acquisition of `h` (owned by the recipe object, shared with nobody but
/// its guards; see async.hpp): `done` runs once it holds (with a
/// guard), `deadline` passed (a default Deadline: none) or `cancel` was cancelled. Throws
/// Errc::invalid_argument for a null `done` (naming `caller`), session_closed if the session is.
void start_async(const std::shared_ptr<Hold>& h, Deadline deadline, const CancelToken* cancel,
                 LockHandler done, Executor executor, const char* caller);
/// start_async() as a future: the guard, or the zk::Error thrown by get().
std::future<LockGuard> start_async_future(const std::shared_ptr<Hold>& h, Deadline deadline,
                                          const CancelToken& cancel);

} // namespace zk::detail::core
