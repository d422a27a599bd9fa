// zkrecipes — zk::DistributedLock: a fenced, herd-free mutex shared by processes through ZooKeeper.
//
// clang-format off
//   zk::Session session("127.0.0.11:2181,127.0.0.12:2181,127.0.0.13:2181");
//   zk::DistributedLock lock(session, "/app/locks/reindex");
//   {
//     std::lock_guard<zk::DistributedLock> guard(lock);   // or lock.try_lock_for(5s)
//     store.write(data, lock.fencing_token());             // reject writes with an older token
//   }
// clang-format on
//
// Protocol: each process that wants the lock creates one ephemeral-sequential node
// `_c_<uuid>-lock-<seq>` under the lock path (Curator's InterProcessMutex form, so Curator,
// go-zookeeper and Kazoo clients configured with extra_lock_patterns=["-lock-"] take part in the
// same queue). The lowest sequence number holds the lock; every other contender watches only its
// predecessor. A child whose name is of no known form blocks the head of the queue and is named in
// a warning on the session's log: it is never ignored.
//
// Threads of one process that lock the same path on the same Session share one place in that queue:
// the lock passes from thread to thread without ZooKeeper traffic, at most
// LockOptions::max_local_handoffs times in a row and for at most LockOptions::max_local_hold, then
// it is released for everybody. Such local holders see the same fencing token.
//
// Loss is never silent: when the session expires, is declared lost by the local timer
// (disconnected longer than the session timeout), is closed, or our node is deleted by someone
// else, owns_lock() turns false and LockOptions::on_lost is called, exactly once per lost hold. A
// hold is judged more strictly too, at every call: lost once no reply from the server has come to
// a request sent within the session timeout (an idle session asks for one), on a steady clock. So a
// process paused past its timeout (SIGSTOP, a long GC or VM stall) sees owns_lock() false and
// fenced() refused with lock_lost on its first call after resuming, before anything is sent, also
// if that call is unlock(). A suspended connection only makes the hold uncertain
// (LockOptions::on_uncertain, uncertain()).
//
// Threading (the contract is in session.hpp): lock(), try_lock*(), fenced() and contenders() block
// and throw Errc::wrong_thread on the session's callback thread. unlock(), release() and the
// destructor may run anywhere (on the callback thread the deletion of our node finishes in the
// background). on_lost and on_uncertain run on the session's callback thread and must not block.
#pragma once

#include <zkrecipes/async.hpp>
#include <zkrecipes/cancel.hpp>
#include <zkrecipes/session.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace zk {

/// How a DistributedLock behaves; copied into the lock at construction.
/// Thread safety: a plain value; its callbacks run on the session's callback thread.
struct LockOptions {
  /// Data of our lock node, shown to other clients (for example Kazoo's contenders()). Empty:
  /// "host:pid".
  std::string node_data;
  /// Consecutive handoffs to other threads of this process before the lock is released globally.
  /// 0 disables local handoff (every unlock releases the lock for every process). With the
  /// default, a process keeps the lock for at most 17 acquisitions in a row (or max_local_hold):
  /// a global release costs a delete and a create, a local handoff a thread wake-up.
  std::size_t max_local_handoffs = 16;
  /// No local handoff once this process has held the lock this long without releasing it globally.
  std::chrono::milliseconds max_local_hold{200};
  /// Create a missing lock path as a container node (the server deletes it once its last contender
  /// is gone) rather than a persistent one. Kazoo 2.8 remembers that it created the path and fails
  /// with NoNodeError after the server reaps the container: on a path shared with Kazoo, set this
  /// to false (or create the path beforehand). Missing ancestors are always created persistent.
  bool container_parent = true;
  /// Called once per lost hold, on the session's callback thread (never inside a call of ours, nor
  /// after the lock's destructor returned: it waits for one still to run, unless it runs on the
  /// callback thread itself). The Error says why:
  /// Errc::session_lost (the session expired, was lost by the local timer, or no reply came within
  /// the session timeout), Errc::session_closed, or Errc::lock_lost (our node is gone or changed
  /// owner: deleted by someone else, or by the server ending our session when that deletion is the
  /// first news of the expiry; session_lost when the expiry is known first). Either way the hold is
  /// over.
  std::function<void(const Error& why)> on_lost;
  /// Called on the session's callback thread with true when the connection is suspended while the
  /// lock is held (it may or may not still be ours), and with false when it is certain again.
  std::function<void(bool uncertain)> on_uncertain;
};

/// One child of a lock path, as seen by contenders().
/// Thread safety: a plain value.
struct LockContender {
  std::string name;                     ///< the child's name under the lock path
  std::string data;                     ///< its data (contender identity, for example "host:pid")
  std::optional<std::int32_t> sequence; ///< parsed sequence number; nullopt if unrecognised
  bool holder = false;                  ///< holds the lock by the protocol's order
  std::int64_t czxid = 0;               ///< the node's fencing token
  std::int64_t ephemeral_owner = 0;     ///< session id of the node's owner
};

namespace detail::core {
struct Hold;
struct GuardAccess;
} // namespace detail::core

/// One hold taken asynchronously (DistributedLock::async_lock(), ReadWriteLock's
/// Writer::async_lock() and Reader::async_lock_shared()): ends it when destroyed or released, on
/// any thread (the hold belongs to the guard, not to a thread). Move-only. Destroying the lock
/// object ends every hold it has, a guard's too: the guard then holds nothing (moving the lock is
/// fine). A guard may therefore outlive its lock, also in a completion still on its way to an
/// executor when the lock goes (that completion may then get a guard that holds nothing already:
/// owns_lock() is false).
///
/// Thread safety: one guard is used by one thread at a time; its lock may be shared.
class LockGuard {
public:
  /// A guard that holds nothing.
  LockGuard() = default;
  /// Releases the hold (see release()).
  ~LockGuard();
  /// Takes over `other`'s hold; `other` holds nothing after.
  LockGuard(LockGuard&& other) noexcept;
  /// Releases a hold of *this first.
  LockGuard& operator=(LockGuard&& other) noexcept;
  LockGuard(const LockGuard&) = delete;
  LockGuard& operator=(const LockGuard&) = delete;

  /// True while the hold this guard was given is current and no loss has been found (see
  /// DistributedLock::owns_lock()).
  [[nodiscard]] bool owns_lock() const noexcept;
  /// owns_lock().
  explicit operator bool() const noexcept { return owns_lock(); }
  /// Ends the hold, as DistributedLock::unlock() does; afterwards *this holds nothing. Does
  /// nothing if the hold is not current any more (lost, or already released).
  void release() noexcept;
  /// The fencing token of the hold (as DistributedLock::fencing_token()). Throws
  /// Errc::lock_not_held if the guard holds nothing, Errc::lock_lost if its hold was lost.
  [[nodiscard]] std::int64_t fencing_token() const;
  /// The path of the lock whose hold this is. Throws Errc::lock_not_held for an empty guard, or
  /// once its lock object is gone.
  [[nodiscard]] std::string path() const;

private:
  friend struct detail::core::GuardAccess;
  LockGuard(std::weak_ptr<detail::core::Hold> hold, std::uint64_t grant) noexcept
      : m_hold(std::move(hold)), m_grant(grant) {}
  std::weak_ptr<detail::core::Hold> m_hold; ///< the lock's (it keeps it when moved)
  std::uint64_t m_grant = 0;
};

/// The completion of an asynchronous lock call: no error and a guard that holds, or the error
/// (Errc::deadline_exceeded, cancelled, session_closed, foreign_node…) and an empty guard.
using LockHandler = std::function<void(std::error_code error, LockGuard guard)>;

/// An exclusive lock on a ZooKeeper path; meets TimedLockable (std::lock_guard, std::unique_lock,
/// std::scoped_lock). Like std::mutex, one object may be shared by threads; the thread that locked
/// it locking it again gets Errc::would_deadlock instead of a hang. Destroying a held lock
/// releases it.
/// Thread safety: all methods may be called concurrently; destroy or move it while no call runs.
class DistributedLock {
public:
  /// Throws Errc::invalid_argument for an invalid path (or "/") or a moved-from session,
  /// Errc::session_closed for a closed session. Nothing is sent to the server until the first lock
  /// call.
  DistributedLock(Session& session, std::string path, LockOptions options = {});
  ~DistributedLock();
  /// Takes over `other`'s path, options and hold (a held lock stays held, by the new object); the
  /// moved-from object throws Errc::invalid_argument on use.
  DistributedLock(DistributedLock&& other) noexcept;
  /// Releases a lock held by *this first.
  DistributedLock& operator=(DistributedLock&& other) noexcept;
  DistributedLock(const DistributedLock&) = delete;
  DistributedLock& operator=(const DistributedLock&) = delete;

  /// Waits until the lock is ours. Throws Errc::would_deadlock if the calling thread already holds
  /// the path (through any DistributedLock of this session), session_closed if the session is
  /// closed while waiting. A session that expires while we wait is no reason to stop: with
  /// SessionOptions::renew_after_expiry (the default) the wait goes on in the queue of the new
  /// session (a waiter holds nothing that could be lost); without renewal it throws session_lost.
  void lock();
  /// As lock(), until `cancel` is cancelled (from any thread): then throws Errc::cancelled, with
  /// our node and watch removed as after a timeout. The session stays open.
  void lock(const CancelToken& cancel);
  /// Takes the lock if no one holds it or waits for it; never waits for another holder. Returns
  /// false (with our node deleted) if it is taken or the answer did not come within the session's
  /// operation timeout.
  [[nodiscard]] bool try_lock();
  /// Waits at most `timeout`. On false our node is gone (see try_lock_until for the fine print).
  /// Like std::timed_mutex, a zero or negative timeout is try_lock(); a huge one waits forever.
  template <class Rep, class Period>
  [[nodiscard]] bool try_lock_for(const std::chrono::duration<Rep, Period>& timeout) {
    return acquire_until(saturating_add(Clock::now(), timeout));
  }
  /// Waits until `at`; a time already passed is try_lock(). On false, our node is deleted before
  /// the call returns; this cleanup may add up to one round trip (bounded by the operation timeout)
  /// after `at`. If the server cannot be reached in that time, the deletion finishes in the
  /// background while the session lives.
  template <class C, class D>
  [[nodiscard]] bool try_lock_until(const std::chrono::time_point<C, D>& at) {
    return acquire_until(to_steady(at));
  }

  /// The completion of async_lock() (zk::LockHandler).
  using LockHandler = zk::LockHandler;
  /// lock() without blocking a thread (see async.hpp): returns at once; `done` runs once the lock
  /// is ours, `deadline` passed (default: none) or `cancel` was cancelled, on the session's
  /// callback thread, or given to `executor` if there is one. Any number of waits may be pending on
  /// one object, from any thread including the callback thread; they are granted one at a time, in
  /// the order they came, as waiting threads are. Destroying the lock ends its pending waits with
  /// Errc::cancelled (a completion already running may still use the lock object: destroy it where
  /// the completions run, or once they ran; a guard itself may outlive it, see LockGuard).
  /// Throws Errc::invalid_argument for a moved-from lock or a null `done`, Errc::session_closed if
  /// the session is closed.
  void async_lock(Deadline deadline, const CancelToken& cancel, LockHandler done,
                  Executor executor = {});
  /// async_lock() with no deadline and no token.
  void async_lock(LockHandler done, Executor executor = {});
  /// async_lock() as a future: the guard, or the zk::Error thrown by get().
  [[nodiscard]] std::future<LockGuard> async_lock(Deadline deadline = {},
                                                  const CancelToken& cancel = CancelToken());

  /// Releases the lock (or hands it to a waiting thread of this process). Does nothing if *this
  /// does not hold it. Waits (up to the operation timeout) until our node is deleted, and keeps
  /// deleting it in the background while the session lives if the server cannot be reached. When
  /// other threads of this process wait for the same lock, it sends the delete and returns at
  /// once: their next node is created right behind it on the same connection.
  void unlock() noexcept;
  /// As unlock(), but throws Errc::lock_not_held if *this does not hold the lock, or
  /// Errc::lock_lost (once) if it held it and lost it since.
  void release();

  /// True while *this holds the lock and no loss has been detected (judged at the call: false once
  /// the session timeout has passed without a reply from the server).
  [[nodiscard]] bool owns_lock() const noexcept;
  /// True while held and the connection is suspended: the lock may already be someone else's.
  [[nodiscard]] bool uncertain() const noexcept;
  /// The czxid of our lock node: increases with every global acquisition on the ensemble (threads
  /// of one process sharing a hold see the same value). Throws Errc::lock_not_held if not held
  /// (Errc::lock_lost once the hold was lost, until release()).
  [[nodiscard]] std::int64_t fencing_token() const;
  /// The full path of our lock node while held. Throws Errc::lock_not_held if not held
  /// (Errc::lock_lost once the hold was lost, until release()).
  [[nodiscard]] std::string node_path() const;
  /// Commits `ops` atomically only while our lock node exists: a multi that starts with a check of
  /// it. Throws Errc::lock_not_held if not held, Errc::lock_lost if the check fails. The returned
  /// results (and failed_op()) are those of `ops`, without the check; a refusal of one of `ops`
  /// is returned, not thrown: `lock.fenced({...}).throw_if_failed();` makes it an exception.
  [[nodiscard]] MultiResult fenced(std::vector<Op> ops, Deadline deadline = {});

  /// The lock path.
  [[nodiscard]] const std::string& path() const noexcept;

  /// All children of a lock path in queue order (unrecognised ones first: they block the head),
  /// with their data and which one holds the lock. Empty if the path does not exist.
  static std::vector<LockContender> contenders(Session& session, std::string_view path,
                                               Deadline deadline = {});

private:
  bool acquire_until(Clock::time_point at, const CancelToken* cancel = nullptr);
  void finish() noexcept; // unlock, and wait for a loss report still to run

  std::shared_ptr<detail::core::Hold> m_handle; ///< shared with its guards, which hold it weakly
};

} // namespace zk
