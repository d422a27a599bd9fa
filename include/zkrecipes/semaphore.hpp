// zkrecipes — zk::Semaphore: at most N leases at once across processes, each a fenced RAII
// zk::Lease.
//
// clang-format off
//   zk::Semaphore pool(session, "/app/db-connections", 10);
//   {
//     zk::Lease lease = pool.acquire(30s);           // throws deadline_exceeded after 30 s
//     db.query(sql, lease.fencing_token());          // released when `lease` goes out of scope
//   }
//   if (std::optional<zk::Lease> maybe = pool.try_acquire()) use(*maybe);
//   pool.async_acquire(30s, cancel, [](std::error_code ec, zk::Lease lease) { /* no thread */ });
// clang-format on
//
// Protocol, Curator profile (default; Curator's InterProcessSemaphoreV2, so Curator contenders take
// part): an acquirer takes a lock at `<path>/locks` (the DistributedLock's node form), creates a
// protected ephemeral-sequential `_c_<uuid>-lease-<seq>` under `<path>/leases`, and holds once the
// leases there, ours included, are at most the maximum; only the holder of the lock waits (on the
// children of `leases`), and it releases the lock as soon as it holds, times out, is cancelled or
// fails. If the lock is lost while a lease waits (a session expiry), the waiting lease is deleted
// and the acquisition starts again with the lock, within its deadline. Kazoo profile (Kazoo's
// Semaphore): the lock at `<path>-__lock__` (Kazoo Lock nodes), a lease
// `<path>/<32 hex>` (ephemeral, not sequential), and the maximum stored as ASCII in `<path>`'s
// data, checked on the first acquisition. Every child of the lease path counts against the maximum:
// a foreign child takes a place (it does for Curator and Kazoo too). The two profiles never share a
// path.
//
// The maximum is fixed (every process must use the same, as with Curator), or read from a Curator
// SharedCount node (a big-endian int32) and followed: a change wakes the waiting acquirer at once.
// Lowering it ends no lease; new ones wait until the leases are below it.
//
// Every lease is its own node, with the lock's guarantees: held only when our current session owns
// it, a fencing token (its czxid), fenced() writes, loss reported exactly once (on_lost, held()
// false), uncertainty while suspended, and deletion guaranteed on release and on every failure of
// an acquisition (a create whose reply was lost is found by its protected name; what cannot be
// deleted in time is deleted in the background while the session lives).
//
// Threading (the contract is in session.hpp): acquire*, try_acquire* and fenced() block and throw
// Errc::wrong_thread on the session's callback thread. async_acquire() (no thread waits; see
// async.hpp), release and destruction may run anywhere.
// on_lost and on_uncertain run on the session's callback thread and must not block.
#pragma once

#include <zkrecipes/async.hpp>
#include <zkrecipes/cancel.hpp>
#include <zkrecipes/session.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

namespace zk {

namespace detail::semaphore {
struct State;
struct LeaseState;
class AsyncAcquisition;
} // namespace detail::semaphore

/// Whose node layout a semaphore uses (see the file comment).
enum class SemaphoreProfile {
  curator, ///< Curator InterProcessSemaphoreV2: `<path>/locks`,
           ///< `<path>/leases/_c_<uuid>-lease-<seq>`
  kazoo,   ///< Kazoo Semaphore: `<path>-__lock__`, `<path>/<32 hex>`, maximum in `<path>`'s data
};

/// How a Semaphore behaves; copied into it at construction.
/// Thread safety: a plain value; its callbacks run on the session's callback thread.
struct SemaphoreOptions {
  /// The node forms; every client of one path must use the same (a child of the other form is
  /// Errc::foreign_node).
  SemaphoreProfile profile = SemaphoreProfile::curator;
  /// Data of our lease (and internal lock) nodes, shown to other clients. Empty: "host:pid".
  std::string node_data;
  /// Called once per lost lease (see Lease::on_lost, which replaces it for one lease).
  std::function<void(const Error& why)> on_lost;
  /// Called with true when the connection is suspended while a lease is held, false when certain.
  std::function<void(bool uncertain)> on_uncertain;
};

/// The maximum of a semaphore read from a Curator SharedCount node (a big-endian int32) and
/// followed.
struct SharedMaxLeases {
  /// The SharedCount's node (Curator's `SharedCount(client, path, seed)` path).
  std::string count_path;
};

/// One lease of a Semaphore: held from acquire until release() or destruction (RAII), unless lost.
/// Move-only. A default-constructed or moved-from Lease holds nothing.
/// Thread safety: a const method may be called concurrently with others; release and destruction
/// while no other call runs.
class Lease {
public:
  Lease() noexcept;
  ~Lease();
  /// Takes over `other`'s lease; `other` holds nothing after.
  Lease(Lease&& other) noexcept;
  /// Releases a lease held by *this first.
  Lease& operator=(Lease&& other) noexcept;
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;

  /// True while the lease is held and no loss has been detected (judged at the call, as
  /// DistributedLock::owns_lock()).
  [[nodiscard]] bool held() const noexcept;
  /// held().
  explicit operator bool() const noexcept { return held(); }
  /// True while held and the connection is suspended: the lease may already be gone.
  [[nodiscard]] bool uncertain() const noexcept;
  /// The czxid of our lease node: increases with every lease taken on the ensemble. Throws
  /// Errc::lock_not_held if not held (Errc::lock_lost once lost).
  [[nodiscard]] std::int64_t fencing_token() const;
  /// The full path of our lease node while held.
  [[nodiscard]] std::string node_path() const;
  /// Commits `ops` atomically only while our lease node exists (DistributedLock::fenced's rules).
  [[nodiscard]] MultiResult fenced(std::vector<Op> ops, Deadline deadline = {});
  /// Replaces the lease's loss callback (SemaphoreOptions::on_lost). If the lease was lost already,
  /// `callback` runs soon, on the callback thread.
  void on_lost(std::function<void(const Error& why)> callback);
  /// Deletes the lease node (waiting up to the operation timeout; then in the background). Does
  /// nothing for an empty Lease; throws Errc::lock_lost (once) if the lease was lost since.
  void release();

private:
  friend class Semaphore;
  friend class detail::semaphore::AsyncAcquisition;
  explicit Lease(std::unique_ptr<detail::semaphore::LeaseState> state) noexcept;
  std::unique_ptr<detail::semaphore::LeaseState> m_state;
};

/// The completion of Semaphore::async_acquire(): no error and a held lease, or the error
/// (Errc::deadline_exceeded, cancelled, session_closed, invalid_argument, no_node, bad_data…) and
/// an empty Lease.
using LeaseHandler = std::function<void(std::error_code error, Lease lease)>;

/// A counting semaphore on a ZooKeeper path.
/// Thread safety: all methods may be called concurrently; destroy or move it while no call runs.
/// Leases may outlive the Semaphore that granted them.
class Semaphore {
public:
  /// At most `max_leases` (≥ 1) leases at once. Throws Errc::invalid_argument for an invalid path
  /// (or
  /// "/"), a maximum below 1, or a moved-from session; Errc::session_closed for a closed one.
  /// Nothing is sent to the server until the first acquisition.
  Semaphore(Session& session, std::string path, std::int32_t max_leases,
            SemaphoreOptions options = {});
  /// The maximum is the value of a Curator SharedCount (Curator profile only: Kazoo has none). It
  /// is read at once and followed while the Semaphore lives; acquisitions throw Errc::no_node while
  /// the count node does not exist and Errc::bad_data while it holds anything but 4 bytes.
  Semaphore(Session& session, std::string path, SharedMaxLeases max, SemaphoreOptions options = {});
  /// Ends its pending asynchronous acquisitions (Errc::cancelled); leases it granted stay valid.
  ~Semaphore();
  /// Takes over `other`'s path and state; leases it granted stay valid.
  Semaphore(Semaphore&& other) noexcept;
  /// Ends the pending asynchronous acquisitions of *this (Errc::cancelled), then takes over
  /// `other`'s path and state; leases either granted stay valid.
  Semaphore& operator=(Semaphore&& other) noexcept;
  Semaphore(const Semaphore&) = delete;
  Semaphore& operator=(const Semaphore&) = delete;

  /// Waits until a lease is ours. Throws as DistributedLock::lock() does (session_closed, and
  /// session_lost without renewal), and Errc::invalid_argument on a Kazoo path that stores another
  /// maximum.
  Lease acquire();
  /// As acquire(), until `cancel` is cancelled: then Errc::cancelled, with nothing left behind.
  Lease acquire(const CancelToken& cancel);
  /// Waits until `deadline`; throws Errc::deadline_exceeded then (nothing left behind).
  Lease acquire(Deadline deadline);
  /// `n` leases, all or none: taken one after another while holding the internal lock (so two
  /// acquirers of several cannot each take part and wait for the rest). Throws
  /// Errc::deadline_exceeded then, Errc::invalid_argument for n < 1 or n above a fixed maximum.
  std::vector<Lease> acquire(std::int32_t n, Deadline deadline);
  /// A lease if one is free now; never waits for a holder (the answer takes at most the operation
  /// timeout). nullopt otherwise, also while another acquirer holds the internal lock (as Curator's
  /// acquire with a zero wait).
  [[nodiscard]] std::optional<Lease> try_acquire();
  /// Waits at most `timeout` (zero or negative: try_acquire(); huge: forever).
  template <class Rep, class Period>
  [[nodiscard]] std::optional<Lease>
  try_acquire_for(const std::chrono::duration<Rep, Period>& timeout) {
    return acquire_one(saturating_add(Clock::now(), timeout), nullptr);
  }
  /// Waits until `at` (already passed: try_acquire()).
  template <class C, class D>
  [[nodiscard]] std::optional<Lease> try_acquire_until(const std::chrono::time_point<C, D>& at) {
    return acquire_one(to_steady(at), nullptr);
  }

  /// acquire() without blocking a thread (see async.hpp): returns at once; `done` runs once a
  /// lease is ours, `deadline` passed (default: none) or `cancel` was cancelled, on the session's
  /// callback thread, or given to `executor`. The protocol is acquire()'s: the internal lock, the
  /// lease under it, the lock released in every case, our lease node deleted on every failure, the
  /// round taken again if the lock is lost meanwhile. Any number may be pending on one object, from
  /// any thread. Destroying (or assigning to) the Semaphore ends its pending acquisitions with
  /// Errc::cancelled, closing the session with Errc::session_closed. What acquire() throws on the
  /// way (invalid_argument for another stored Kazoo maximum, no_node and bad_data for the
  /// SharedCount) is given to `done`. Throws Errc::invalid_argument for a moved-from Semaphore or a
  /// null `done`, Errc::session_closed for a closed session.
  void async_acquire(Deadline deadline, const CancelToken& cancel, LeaseHandler done,
                     Executor executor = {});
  /// async_acquire() with no deadline and no token.
  void async_acquire(LeaseHandler done, Executor executor = {});
  /// async_acquire() as a future: the lease, or the zk::Error thrown by get().
  [[nodiscard]] std::future<Lease> async_acquire(Deadline deadline = {},
                                                 const CancelToken& cancel = CancelToken());

  /// The maximum as last known (a SharedCount's last value read; 0 before the first read).
  [[nodiscard]] std::int32_t max_leases() const noexcept;
  /// The semaphore's path (empty on a moved-from Semaphore).
  [[nodiscard]] const std::string& path() const noexcept;

private:
  std::optional<Lease> acquire_one(Clock::time_point at, const CancelToken* cancel);
  /// acquire_n, or Errc::deadline_exceeded.
  std::vector<Lease> acquire_until(std::int32_t n, Clock::time_point at, const CancelToken* cancel);
  /// `n` leases, or none if `at` passed first (already passed: one try).
  std::vector<Lease> acquire_n(std::int32_t n, Clock::time_point at, const CancelToken* cancel);
  void start_async(Deadline deadline, const CancelToken* cancel,
                   std::function<void(std::optional<Error>, Lease)> done);
  std::shared_ptr<detail::semaphore::State> m_state;
};

} // namespace zk
