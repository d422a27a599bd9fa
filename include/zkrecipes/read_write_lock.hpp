// zkrecipes — zk::ReadWriteLock: a fenced read-write lock shared by processes through ZooKeeper.
//
// clang-format off
//   zk::ReadWriteLock rw(session, "/app/locks/catalog");
//   {
//     std::shared_lock r(rw.reader());                 // many readers at once, anywhere
//     read_catalog(r.mutex()->fencing_token());
//   }
//   {
//     std::unique_lock w(rw.writer());                 // one writer, and no reader meanwhile
//     rewrite_catalog(w.mutex()->fencing_token());
//     rw.writer().downgrade();                         // now a reader: no writer slips in between
//     publish_catalog();
//     rw.reader().unlock_shared();
//   }
// clang-format on
//
// Protocol (the Curator profile, the default): a writer creates `_c_<uuid>-__WRIT__<seq>` under the
// lock path, a reader `_c_<uuid>-__READ__<seq>` (Curator's InterProcessReadWriteLock form, so
// Curator clients take part in the same lock). A writer holds when its node is first of all
// children and watches the node just before it; a reader holds while no writer is ahead of it and
// watches the nearest writer ahead (never a later one), so readers hold together and a queued
// writer is not overtaken by a later reader of another process (readers of this process may join a
// read node already held, or a downgraded one, within the handoff bounds below). The Kazoo profile
// uses Kazoo's WriteLock/ReadLock names (`<hex>__lock__<seq>` / `<hex>__rlock__<seq>`) with the
// same rules (Kazoo 2.9's; Kazoo 2.8 readers deadlock against a later writer, kazoo#649). One path
// uses one profile: a child of any other form fails the call with Errc::foreign_node instead of
// being guessed into the order.
//
// Downgrade: the writer's read node takes the writer's sequence and is created (in one multi with
// a check that the write node still exists) before the write node is deleted, so the lock is never
// free in between (Curator 5.5's form, CURATOR-621; Curator 5.4 peers honour it, but their own
// downgrade lets a waiting writer in). The read hold keeps the writer's fencing token, since it is
// ordered where the writer was. An upgrade (asking for the write side while this thread
// reads) would wait for itself forever: it is refused with Errc::would_deadlock, as is asking for
// the read side while this thread writes (use downgrade()).
//
// Threads of one process share: readers of one path and session hold one read node together (a
// thread arriving while it is held joins at once, within LockOptions' handoff bounds, after which
// the node is released so that writers elsewhere get their turn), and the write side hands over
// between threads like a DistributedLock. Losses are reported as for DistributedLock (on_lost,
// on_uncertain, judged at every call); the fencing token is the czxid of the node held.
//
// Threading (the contract is in session.hpp): the lock calls, downgrade(), fenced() and
// contenders() block and throw Errc::wrong_thread on the session's callback thread; the unlock
// calls, the destructor and the asynchronous calls (Writer::async_lock(),
// Reader::async_lock_shared(), whose guards end their holds on any thread) may run anywhere.
#pragma once

#include <zkrecipes/distributed_lock.hpp>

#include <memory>

namespace zk {

/// Whose node forms a read-write lock uses on its path.
enum class ReadWriteProfile {
  curator, ///< Curator InterProcessReadWriteLock: `_c_<uuid>-__WRIT__` / `-__READ__`
  kazoo,   ///< Kazoo WriteLock / ReadLock: `<hex>__lock__` / `<hex>__rlock__`
};

/// How a ReadWriteLock behaves; copied into the lock at construction.
/// Thread safety: a plain value; its callbacks run on the session's callback thread.
struct ReadWriteLockOptions {
  /// The node forms; every client of one path must use the same (a child of the other form is
  /// Errc::foreign_node).
  ReadWriteProfile profile = ReadWriteProfile::curator;
  /// node_data, container_parent, the handoff bounds (for the read side: how many threads join a
  /// held read node, and for how long, before it is released) and the loss callbacks, which
  /// report a loss of either side.
  LockOptions lock;
};

namespace detail::rwlock {
struct Sides;
}

/// A read-write lock on a ZooKeeper path: writer() meets TimedLockable (std::unique_lock,
/// std::scoped_lock), reader() SharedTimedLockable (std::shared_lock). Like std::shared_mutex, one
/// object may be shared by threads. Destroying it releases what it holds.
/// Thread safety: all methods may be called concurrently; destroy or move it while no call runs.
class ReadWriteLock {
public:
  /// The exclusive side.
  class Writer {
  public:
    /// As DistributedLock::lock(); Errc::would_deadlock if this thread holds either side.
    void lock();
    /// As DistributedLock::lock(const CancelToken&).
    void lock(const CancelToken& cancel);
    /// As DistributedLock::try_lock(): writes only if no one holds or waits for either side.
    [[nodiscard]] bool try_lock();
    /// As DistributedLock::try_lock_for().
    template <class Rep, class Period>
    [[nodiscard]] bool try_lock_for(const std::chrono::duration<Rep, Period>& timeout) {
      return acquire_until(saturating_add(Clock::now(), timeout));
    }
    /// As DistributedLock::try_lock_until().
    template <class C, class D>
    [[nodiscard]] bool try_lock_until(const std::chrono::time_point<C, D>& at) {
      return acquire_until(to_steady(at));
    }
    /// lock() without blocking a thread (see async.hpp; as DistributedLock::async_lock()): `done`
    /// gets a guard of a write hold that belongs to no thread, ended through the guard only
    /// (unlock() and downgrade() end the calling thread's holds). A wait that no thread makes is
    /// not refused while this object reads: it waits for that read hold to end, as for any other
    /// (so awaiting it while keeping a read guard of the same object waits forever: no upgrade).
    /// Destroying the lock ends its pending waits with Errc::cancelled and its guards' holds (see
    /// LockGuard, and DistributedLock::async_lock() for a completion already running then).
    void async_lock(Deadline deadline, const CancelToken& cancel, LockHandler done,
                    Executor executor = {});
    /// async_lock() with no deadline and no token.
    void async_lock(LockHandler done, Executor executor = {});
    /// async_lock() as a future: the guard, or the zk::Error thrown by get().
    [[nodiscard]] std::future<LockGuard> async_lock(Deadline deadline = {},
                                                    const CancelToken& cancel = CancelToken());
    /// Ends the calling thread's write hold; does nothing if this thread holds none (also after
    /// downgrade(), or when another thread of the process writes through this object).
    void unlock() noexcept;
    /// As unlock(), but throws Errc::lock_not_held or (once) Errc::lock_lost.
    void release();
    /// Turns the calling thread's write hold into a read hold of it (release it with
    /// reader().unlock_shared(); a std::unique_lock still wrapping the write side then unlocks
    /// nothing), with no moment in which another writer could hold the lock. Threads of this
    /// process waiting to read share the read hold at once. Throws Errc::lock_not_held if the
    /// calling thread does not hold the write side (a LockGuard's write hold is no thread's),
    /// Errc::lock_lost / session_lost / session_closed if it is found lost (then neither side is
    /// held); any other error (for example the deadline) leaves the write side held. May take up to
    /// one operation timeout past `deadline` (deleting the write node).
    void downgrade(Deadline deadline = {});
    /// True while the calling thread's process writes through this object and no loss has been
    /// detected (as DistributedLock::owns_lock()).
    [[nodiscard]] bool owns_lock() const noexcept;
    /// True while the write side is held and the connection is suspended.
    [[nodiscard]] bool uncertain() const noexcept;
    /// The czxid of our write node. Throws Errc::lock_not_held if not held
    /// (Errc::lock_lost once the hold was lost, until release()).
    [[nodiscard]] std::int64_t fencing_token() const;
    /// The full path of our write node while held; throws as fencing_token().
    [[nodiscard]] std::string node_path() const;
    /// As DistributedLock::fenced(), checked against our write node.
    [[nodiscard]] MultiResult fenced(std::vector<Op> ops, Deadline deadline = {});

  private:
    friend class ReadWriteLock;
    Writer() = default;
    bool acquire_until(Clock::time_point at, const CancelToken* cancel = nullptr);
    detail::rwlock::Sides* m_sides = nullptr;
  };

  /// The shared side.
  class Reader {
  public:
    /// Waits until the calling thread reads. Errc::would_deadlock if it holds either side.
    void lock_shared();
    /// As lock_shared(), until `cancel` is cancelled: then Errc::cancelled, nothing left behind.
    void lock_shared(const CancelToken& cancel);
    /// Reads only if no writer holds or waits ahead; never waits (as DistributedLock::try_lock()).
    [[nodiscard]] bool try_lock_shared();
    /// Waits at most `timeout` to read (as DistributedLock::try_lock_for()).
    template <class Rep, class Period>
    [[nodiscard]] bool try_lock_shared_for(const std::chrono::duration<Rep, Period>& timeout) {
      return acquire_until(saturating_add(Clock::now(), timeout));
    }
    /// Waits until `at` to read (as DistributedLock::try_lock_until()).
    template <class C, class D>
    [[nodiscard]] bool try_lock_shared_until(const std::chrono::time_point<C, D>& at) {
      return acquire_until(to_steady(at));
    }
    /// lock_shared() without blocking a thread (see async.hpp): `done` gets a guard of a read
    /// hold that belongs to no thread, ended through the guard only. Like a reading thread, it
    /// shares this process's read node: it joins one already held (within the handoff bounds)
    /// with no request, or waits for the writers ahead; while this object writes, it waits for
    /// that write hold to end (and a thread that keeps a write guard of this object and calls
    /// lock_shared() waits until its deadline: the guard's hold is no thread's, so it is not
    /// refused). Destroying the lock ends its pending waits with Errc::cancelled and its guards'
    /// holds (see Writer::async_lock()).
    void async_lock_shared(Deadline deadline, const CancelToken& cancel, LockHandler done,
                           Executor executor = {});
    /// async_lock_shared() with no deadline and no token.
    void async_lock_shared(LockHandler done, Executor executor = {});
    /// async_lock_shared() as a future: the guard, or the zk::Error thrown by get().
    [[nodiscard]] std::future<LockGuard>
    async_lock_shared(Deadline deadline = {}, const CancelToken& cancel = CancelToken());
    /// Ends the calling thread's read hold; does nothing if this thread holds none (one object
    /// serves many threads: a stale guard never ends another thread's hold). The read node is
    /// deleted when the last reader of the process leaves.
    void unlock_shared() noexcept;
    /// As unlock_shared(), but throws Errc::lock_not_held or (once) Errc::lock_lost.
    void release_shared();
    /// True while some thread reads through this object and no loss has been detected.
    [[nodiscard]] bool owns_lock() const noexcept;
    /// True while the read side is held and the connection is suspended.
    [[nodiscard]] bool uncertain() const noexcept;
    /// The czxid of our read node (the same for every reader of this process sharing it).
    [[nodiscard]] std::int64_t fencing_token() const;
    /// The full path of our read node while held (Errc::lock_not_held, or lock_lost once lost).
    [[nodiscard]] std::string node_path() const;
    /// As DistributedLock::fenced(), checked against our read node.
    [[nodiscard]] MultiResult fenced(std::vector<Op> ops, Deadline deadline = {});

  private:
    friend class ReadWriteLock;
    Reader() = default;
    bool acquire_until(Clock::time_point at, const CancelToken* cancel = nullptr);
    detail::rwlock::Sides* m_sides = nullptr;
  };

  /// Throws Errc::invalid_argument for an invalid path (or "/"), Errc::session_closed for a closed
  /// session. Nothing is sent to the server until the first lock call.
  ReadWriteLock(Session& session, std::string path, ReadWriteLockOptions options = {});
  ~ReadWriteLock();
  /// Takes over `other`'s path, options and holds; the moved-from lock throws
  /// Errc::invalid_argument on use.
  ReadWriteLock(ReadWriteLock&& other) noexcept;
  /// Releases what *this holds first, then takes over `other`'s.
  ReadWriteLock& operator=(ReadWriteLock&& other) noexcept;
  ReadWriteLock(const ReadWriteLock&) = delete;
  ReadWriteLock& operator=(const ReadWriteLock&) = delete;

  /// The exclusive side, for std::unique_lock / std::scoped_lock.
  [[nodiscard]] Writer& writer() noexcept { return m_writer; }
  /// The shared side, for std::shared_lock.
  [[nodiscard]] Reader& reader() noexcept { return m_reader; }
  /// The lock path (empty on a moved-from lock).
  [[nodiscard]] const std::string& path() const noexcept;

  /// All children of a lock path in queue order, with their data; `holder` marks every node that
  /// holds by the profile's rules (the first writer, or the readers ahead of every writer).
  static std::vector<LockContender> contenders(Session& session, std::string_view path,
                                               ReadWriteProfile profile = ReadWriteProfile::curator,
                                               Deadline deadline = {});

private:
  void finish() noexcept;
  std::shared_ptr<detail::rwlock::Sides> m_sides; ///< shared with its guards, held weakly
  Writer m_writer;
  Reader m_reader;
};

} // namespace zk
