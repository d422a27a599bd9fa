// The ZooKeeper side of DistributedLock: one LockContender per (session, lock path) in a process,
// shared by every DistributedLock object on that path, so that threads of one process hold one
// place in the ZooKeeper queue and pass the lock among themselves (bounded, see lock_protocol.hpp).
//
// Who does the work: the ZooKeeper protocol is driven by one of the threads waiting in lock() (the
// "driver"), so it may use blocking calls and is cancelled by the thread whose deadline passed. The
// session's callback thread only records replies, watch events and session events, and reports
// loss. If the driver's deadline passes while other threads still wait, another waiter takes over
// the same node; the last waiter to leave deletes the node (and removes its watch) before
// returning.
#pragma once

#include <zkrecipes/distributed_lock.hpp>

#include "session/session_impl.hpp"

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace zk::detail {

class LockContender;

/// The state of one DistributedLock object. The fields after `options` are guarded by the
/// contender's mutex.
struct LockHandle {
  std::shared_ptr<LockContender> contender;
  LockOptions options;
  bool held = false;
  std::thread::id holder; ///< the thread whose lock call succeeded
  std::int64_t token = 0; ///< czxid of the node held
  std::string node;       ///< full path of the node held
  bool uncertain = false;
  std::optional<Error> lost; ///< a loss not yet acknowledged by release()
};

/// The shared ZooKeeper contender of one (session, lock path).
/// Thread safety: every method may be called from any thread; the state is guarded by m_mutex,
/// which is never held while user code (callbacks, the log sink) runs.
class LockContender : public std::enable_shared_from_this<LockContender> {
public:
  /// The contender of (impl, path), shared by every DistributedLock on that path of the session,
  /// created on first use (a per-session attachment).
  static std::shared_ptr<LockContender> for_path(const std::shared_ptr<SessionImpl>& impl,
                                                 std::string path);
  LockContender(std::shared_ptr<SessionImpl> impl, std::string path);
  ~LockContender();
  LockContender(const LockContender&) = delete;
  LockContender& operator=(const LockContender&) = delete;
  LockContender(LockContender&&) = delete;
  LockContender& operator=(LockContender&&) = delete;

  /// Waits until `h` holds the lock or `deadline` passes. try_only: give up instead of waiting for
  /// another holder, and do not join an acquisition already under way.
  bool acquire(LockHandle& h, Clock::time_point deadline, bool try_only);
  /// Ends h's hold: local handoff or global release. `strict`: throw lock_not_held / lock_lost.
  void release(LockHandle& h, bool strict);
  /// Reads h's fields under the contender's mutex.
  template <class F> auto read(const LockHandle& h, F&& fn) const {
    std::lock_guard<std::mutex> lk(m_mutex);
    return fn(h);
  }

  SessionImpl& session() const { return *m_impl; }
  const std::shared_ptr<SessionImpl>& session_ptr() const { return m_impl; }
  const std::string& path() const { return m_path; }

private:
  enum class Phase {
    idle,     ///< no node
    creating, ///< the pipelined create + children are in flight
    listing,  ///< node known (or being recovered); the children must be listed
    watching, ///< waiting for the predecessor's watch
    held,     ///< this process holds the lock
    busy,     ///< a thread is deleting the node (release or cancel); nobody drives meanwhile
  };
  struct Waiter {
    enum class State { pending, granted, refused, failed };
    LockHandle* handle = nullptr;
    std::thread::id thread;
    bool try_only = false;
    State state = State::pending;
    std::optional<Error> error;
  };
  template <class T> struct Slot { std::optional<Result<T>> result; };
  using Lock = std::unique_lock<std::mutex>;
  /// Releases a held lock for a blocking call and takes it back, also when the call throws.
  class Unlocked {
  public:
    explicit Unlocked(Lock& lk) : m_lk(lk) { m_lk.unlock(); }
    ~Unlocked() { m_lk.lock(); }
    Unlocked(const Unlocked&) = delete;
    Unlocked& operator=(const Unlocked&) = delete;
    Unlocked(Unlocked&&) = delete;
    Unlocked& operator=(Unlocked&&) = delete;

  private:
    Lock& m_lk;
  };

  // Driving (on a waiting thread, m_mutex held; blocking calls are made with it released).
  void step(Lock& lk, Waiter& me, Clock::time_point deadline);
  void start();
  void await_create(Lock& lk, Waiter& me, Clock::time_point deadline);
  void list(Lock& lk, Waiter& me, Clock::time_point deadline);
  void apply(Lock& lk, std::vector<std::string> children);
  void await_predecessor(Lock& lk, Waiter& me, Clock::time_point deadline);
  void next_predecessor(Lock& lk);
  void ensure_parent(Lock& lk, Clock::time_point deadline);
  void handle_error(Lock& lk, const Error& e);
  void leave(Lock& lk, Waiter& me) noexcept;
  void cancel(Lock& lk) noexcept;
  void flush_warnings(Lock& lk);

  // State changes (m_mutex held).
  void grant_head();
  void fail_all(const Error& e);
  void refuse_try_only();
  void reset_attempt(bool keep_guid);
  void abandon();
  void backoff();
  bool attempt_active() const;
  bool session_changed() const;
  Clock::time_point op_deadline(Clock::time_point deadline) const;
  std::string full(const std::string& child) const { return m_path + "/" + child; }
  static std::string child_name(const std::string& path) {
    return path.substr(path.rfind('/') + 1);
  }
  template <class T> std::function<void(Result<T>)> fill(const std::shared_ptr<Slot<T>>& slot);

  // Callback thread.
  void watch_own_node(std::uint64_t epoch);
  void on_own_node(std::uint64_t epoch, Result<NodeData>& r);
  void on_own_event(std::uint64_t epoch, const WatchEvent& e);
  void on_predecessor_event(std::uint64_t epoch, bool deleted);
  void on_session_event(const SessionEvent& e);
  /// Declares the held lock lost; calls on_lost after releasing m_mutex.
  void lose(Lock& lk, Errc why, const std::string& detail);

  const std::shared_ptr<SessionImpl> m_impl;
  const std::string m_path;
  std::uint64_t m_listener = 0;

  mutable std::mutex m_mutex;
  std::condition_variable m_cv;
  bool m_closed = false;
  std::uint64_t m_events = 0; ///< session events seen (wakes a driver waiting on a watch)

  // Local queue and holder.
  std::deque<Waiter*> m_queue;
  Waiter* m_driver = nullptr;
  LockHandle* m_owner = nullptr;
  std::size_t m_handoffs = 0;
  Clock::time_point m_held_since{};

  // The current attempt; m_epoch changes whenever it is replaced, so late callbacks are ignored.
  Phase m_phase = Phase::idle;
  std::uint64_t m_epoch = 0;
  std::string m_guid;
  std::string m_node;           ///< child name of our node; empty while unknown
  std::optional<Stat> m_stat;   ///< its Stat once known (ephemeral owner verified from it)
  std::int64_t m_session = 0;   ///< the session our node belongs to (or was created on)
  bool m_indeterminate = false; ///< a create may have been applied though its reply was lost
  std::shared_ptr<Slot<Created>> m_create;
  std::shared_ptr<Slot<Children>> m_listing;
  std::shared_ptr<Slot<NodeData>> m_pred_get;
  std::vector<std::string> m_children; ///< the last listing, less the nodes seen deleted since
  std::string m_pred;
  bool m_pred_fired = false;
  bool m_pred_deleted = false;
  Clock::time_point m_retry_at{};
  int m_retries = 0; ///< consecutive failed steps (core::recovery_delay)
  std::set<std::string> m_warned;
  std::vector<std::string> m_warnings; ///< logged once m_mutex is released
};

/// "host:pid", the default data of a lock node.
const std::string& default_node_data();

} // namespace zk::detail
