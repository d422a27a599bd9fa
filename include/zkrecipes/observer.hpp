// zkrecipes — zk::Observer: what a session's recipes do, for metrics and tracing.
//
// clang-format off
//   struct Metrics : zk::Observer {
//     void acquired(std::string_view recipe, std::string_view path,
//                   std::chrono::nanoseconds waited) override { waits.observe(waited); }
//   };
//   zk::SessionOptions o;
//   o.hosts = "127.0.0.11:2181";
//   o.observer = std::make_shared<Metrics>();           // every recipe on this session reports to it
// clang-format on
//
// Holds are a lock's, a read-write lock side's, a semaphore lease's (and the semaphore's internal
// lock's), and a leader's term; `recipe` names the recipe and its node form ("lock", "Kazoo
// Semaphore"…), `path` its path. Every acquisition that starts ends exactly once: acquired, or
// acquire_failed (Errc::deadline_exceeded for a wait that ran out, or a try that found it taken;
// cancelled; or the error thrown). Every hold that was acquired ends exactly once: released, or
// lost. Without an observer nothing is measured (a null pointer test per event).
//
// Thread safety: the methods are called on any thread (the caller's for acquisitions and
// releases, the session's callback thread for session states, asynchronous acquisitions and most
// losses), concurrently, never while a library lock is held. They must be thread-safe, must not
// block and must not throw.
#pragma once

#include <zkrecipes/error.hpp>
#include <zkrecipes/session.hpp>

#include <chrono>
#include <string_view>

namespace zk {

/// Receives a session's recipe events (SessionOptions::observer); every method does nothing by
/// default. Thread safety: see the file comment.
class Observer {
public:
  Observer() = default;
  virtual ~Observer() = default;
  Observer(const Observer&) = delete;
  Observer& operator=(const Observer&) = delete;
  Observer(Observer&&) = delete;
  Observer& operator=(Observer&&) = delete;

  /// The session changed state (what a Listener is told), on the callback thread.
  virtual void session_state(const SessionEvent& /*event*/) noexcept {}
  /// A wait for a hold starts (a blocking call, a try, or an asynchronous one).
  virtual void acquire_started(std::string_view /*recipe*/, std::string_view /*path*/) noexcept {}
  /// The hold is ours, `waited` after acquire_started.
  virtual void acquired(std::string_view /*recipe*/, std::string_view /*path*/,
                        std::chrono::nanoseconds /*waited*/) noexcept {}
  /// The wait ended without the hold (see the file comment for `why`).
  virtual void acquire_failed(std::string_view /*recipe*/, std::string_view /*path*/, Errc /*why*/,
                              std::chrono::nanoseconds /*waited*/) noexcept {}
  /// A hold ended by its release (or a local handoff to another waiter of this process), after
  /// `held`.
  virtual void released(std::string_view /*recipe*/, std::string_view /*path*/,
                        std::chrono::nanoseconds /*held*/) noexcept {}
  /// A hold was lost after `held`; `why` as LockOptions::on_lost is told.
  virtual void lost(std::string_view /*recipe*/, std::string_view /*path*/, Errc /*why*/,
                    std::chrono::nanoseconds /*held*/) noexcept {}
  /// A counter update ended (DistributedCounter's, also each shard's of a ShardedCounter):
  /// Errc::ok, or the error it threw; `writes` conditional writes were sent (each beyond the first
  /// was a retry after a conflict or a lost reply; an update that threw counts those it sent too),
  /// over `took`.
  virtual void counter_update(std::string_view /*path*/, Errc /*result*/, int /*writes*/,
                              std::chrono::nanoseconds /*took*/) noexcept {}
  /// The janitor failed to delete `node` and tries again (`attempt` 2, 3…).
  virtual void janitor_retry(std::string_view /*node*/, int /*attempt*/) noexcept {}
};

} // namespace zk
