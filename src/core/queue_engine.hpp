// The queue engine: the ZooKeeper side of every queue recipe (locks, elections, semaphores). One
// engine per (session, path, policy) in a process, shared by every recipe object on that path, so
// that threads of one process hold one place in the ZooKeeper queue and pass the hold among
// themselves (bounded, see hand_over_locally). What it does, whatever the policy: a protected
// EPHEMERAL_SEQUENTIAL create pipelined with the listing; after a lost reply, our node found by its
// GUID and adopted or deleted; the policy's decision (hold, wait for a node or for any change of
// the children, missing); a data watch on the node waited for, or a children watch on the path;
// held only when our current session owns our node; loss and uncertainty
// reported; guaranteed deletion through the janitor; the fencing token (our node's czxid).
//
// Who does the work: every step of the protocol only sends asynchronous requests and decides on
// replies that came, so any thread may take it, under the engine's mutex. While a thread waits in
// acquire(), one such thread drives (the "driver"), waking for each reply; if its deadline passes
// while others still wait, another takes over the same node. Asynchronous waiters (acquire_async)
// have no thread: with no driver, the step runs where the news arrives (a reply, a watch, a session
// event or a timer, on the callback thread; a release or a new waiter, on its caller's thread).
// The last waiter to leave deletes the node and removes its watch: a waiting thread before it
// returns, an asynchronous waiter by sending the deletions before its completion runs (the server
// applies them before any later request of the session).
#pragma once

#include <zkrecipes/cancel.hpp>
#include <zkrecipes/session.hpp>

#include "core/completion.hpp"
#include "core/gate.hpp"
#include "core/queue_policy.hpp"
#include "core/reports.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace zk::detail::core {

class QueueEngine;

/// What a recipe object asks of the engine (the lock's LockOptions, less the recipe's own).
struct QueueOptions {
  /// Data of our node (empty: "host:pid"). Fixed by the first object on a path of a session.
  std::string node_data;
  /// Create a missing path as a container node. Fixed by the first object on a path.
  bool container_parent = true;
  /// Local handoffs in a row, and the longest local hold, before a global release (per object).
  std::size_t max_local_handoffs = 16;
  std::chrono::milliseconds max_local_hold{200};
  /// A release by a thread holding nothing through the object does nothing (a read-write lock's
  /// sides, shared by threads: a stale guard must not end another thread's hold). Otherwise any
  /// thread may end the object's hold.
  bool holder_thread_only = false;
  /// A release never waits for our node's deletion (it goes out at once and finishes in the
  /// background): a semaphore's internal lock, whose release must not cost its acquisition's
  /// deadline a round trip to a slow server.
  bool release_in_background = false;
  /// Called on the callback thread when a hold is lost, and when it becomes (un)certain.
  std::function<void(const Error& why)> on_lost;
  std::function<void(bool uncertain)> on_uncertain;
};

/// The state of one recipe object on the engine. The fields after `options` are guarded by the
/// engine's mutex.
struct Hold {
  std::shared_ptr<QueueEngine> contender;
  QueueOptions options;
  /// One holder of a Hold: a thread whose acquire() succeeded, or an asynchronous grant (no
  /// thread: its guard ends it by its number, from any thread).
  struct Holder {
    std::thread::id thread;
    std::uint64_t grant = 0;
  };
  /// Who holds through this object (several only on a shared queue).
  std::vector<Holder> holders;
  std::int64_t token = 0; ///< czxid of the node held
  std::string node;       ///< full path of the node held
  bool uncertain = false;
  std::optional<Error> lost; ///< a loss not yet acknowledged by release()
  std::uint64_t grants = 0;  ///< grants so far: the number of the latest (see release_grant)
  Clock::time_point since{}; ///< when the current hold began (for the observer)
  Reports reports;           ///< on_lost calls posted for it (close() before destroying it)

  [[nodiscard]] bool held() const noexcept { return !holders.empty(); }
  /// True while `thread` holds through this object (a waiting thread's acquire() succeeded).
  [[nodiscard]] bool held_by(std::thread::id thread) const noexcept {
    return std::any_of(holders.begin(), holders.end(),
                       [thread](const Holder& x) { return x.thread == thread; });
  }
  /// True while the holder given grant number `grant` holds.
  [[nodiscard]] bool has_grant(std::uint64_t grant) const noexcept {
    return std::any_of(holders.begin(), holders.end(),
                       [grant](const Holder& x) { return x.grant == grant; });
  }
};

/// The shared ZooKeeper contender of one (session, path, policy).
/// Thread safety: every method may be called from any thread; the state is guarded by m_mutex,
/// which is never held while user code (callbacks, the log sink) runs.
class QueueEngine : public std::enable_shared_from_this<QueueEngine> {
public:
  /// The end of an asynchronous acquisition: no error and the number of the grant (Hold::grants)
  /// once held, or why not (deadline_exceeded, cancelled, session_closed…).
  using AsyncDone = std::function<void(std::optional<Error> error, std::uint64_t grant)>;

  /// The contender of (impl, path), shared by every DistributedLock on that path of the session,
  /// created on first use (a per-session attachment).
  /// Throws Errc::invalid_argument if the engine exists with other node options (node_data,
  /// container_parent): objects on one path share one node, so their options cannot mix.
  static std::shared_ptr<QueueEngine> for_path(const std::shared_ptr<Gate>& gate, std::string path,
                                               const QueuePolicy& policy,
                                               const QueueOptions& options);
  /// An engine of its own, not shared with other objects on the path (a semaphore's lease: each
  /// lease is a node of its own), keeping its policy alive.
  static std::shared_ptr<QueueEngine> standalone(const std::shared_ptr<Gate>& gate,
                                                 std::string path,
                                                 std::shared_ptr<const QueuePolicy> policy,
                                                 const QueueOptions& options);
  QueueEngine(std::shared_ptr<Gate> gate, std::string path, const QueuePolicy& policy,
              const QueueOptions& options);
  ~QueueEngine();
  QueueEngine(const QueueEngine&) = delete;
  QueueEngine& operator=(const QueueEngine&) = delete;
  QueueEngine(QueueEngine&&) = delete;
  QueueEngine& operator=(QueueEngine&&) = delete;

  /// Waits until `h` holds the lock or `deadline` passes (false). try_only: give up instead of
  /// waiting for another holder, and do not join an acquisition already under way. `cancel`, if
  /// given, ends the wait from any thread: Errc::cancelled, after the same cleanup as a timeout.
  bool acquire(Hold& h, Clock::time_point deadline, bool try_only,
               const CancelToken* cancel = nullptr);
  /// acquire() without blocking a thread: returns at once, and `done` runs later on the callback
  /// thread (never inline), exactly once. A deadline or a cancellation ends the wait as in
  /// acquire(), the node and watch removed by requests sent before `done` runs (a node whose
  /// create is unanswered then: found by its GUID and deleted after the answer, by the janitor).
  void acquire_async(Hold& h, Clock::time_point deadline, const CancelToken* cancel,
                     AsyncDone done);
  /// Ends h's asynchronous waits still pending, with Errc::cancelled (the object is going).
  void abandon_async(const Hold& h);
  /// release(h, false) of the holder given grant number `grant`, if it still holds: a guard ends
  /// only its own hold (on a shared queue, other holders of h keep theirs).
  void release_grant(Hold& h, std::uint64_t grant);
  /// Ends h's hold (the calling thread's, on a shared queue): local handoff or global release.
  /// `strict`: throw lock_not_held / lock_lost. `handoff`: false forbids a local handoff. `grant`:
  /// if not 0, the holder given that grant, if it still holds (judged under the same lock).
  void release(Hold& h, bool strict, bool handoff = true, std::uint64_t grant = 0);
  /// Creates our node `child` (ephemeral, not sequential, with `guid` in its name: a name the
  /// recipe chose, such as a downgrade's read node with its writer's sequence) in one multi with a
  /// check that `guard` exists (the write node it replaces), and holds it for the calling thread at
  /// once: the recipe knows that nothing can be ahead of it while `guard` exists. On a shared queue
  /// every waiting thread of the process shares the hold; an attempt under way is cancelled first.
  /// Throws Errc::lock_lost if `guard` is gone, or another error if the node cannot be created by
  /// `deadline`; then nothing is held and nothing left (a create in doubt goes to the janitor).
  /// The hold's fencing token is `token` (a downgrade keeps its writer's: the read node is ordered
  /// where the writer was, before writers created after it, whose czxids are smaller than its own).
  void hold_created(Hold& h, const std::string& guid, const std::string& child,
                    const std::string& guard, std::int64_t token, Clock::time_point deadline);
  /// The policy's inputs other than the children changed (a semaphore's maximum): an attempt
  /// waiting on the children decides again on what it last listed. Any thread.
  void reconsider();
  /// True if `thread` holds this queue through any object.
  [[nodiscard]] bool held_by(std::thread::id thread) const;
  /// Reads (or, given a non-const Hold, changes) h's fields under the contender's mutex, after
  /// judging the hold (see judge()).
  template <class H, class F> auto read(H& h, F&& fn) {
    Lock lk(m_mutex);
    judge(lk);
    if (!lk.owns_lock()) lk.lock();
    return fn(h);
  }

  Gate& gate() const { return *m_impl; }
  const std::shared_ptr<Gate>& gate_ptr() const { return m_impl; }
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
    Hold* handle = nullptr;
    std::thread::id thread; ///< none for an asynchronous waiter
    bool try_only = false;
    State state = State::pending;
    std::optional<Error> error;
    std::uint64_t async = 0; ///< its key in m_async; 0 for a waiting thread
  };
  struct AsyncWaiter {
    Waiter waiter;
    Clock::time_point started;
    AsyncDone done;
    std::optional<CancelToken> cancel;
    std::uint64_t subscription = 0;
  };
  struct Finished { // an asynchronous waiter's completion, to run outside m_mutex
    AsyncDone done;
    std::optional<Error> error;
    std::uint64_t grant = 0;
    const Hold* hold = nullptr;
    std::optional<CancelToken> cancel; ///< unsubscribed outside m_mutex (the token's lock)
    std::uint64_t subscription = 0;
    Clock::time_point started;
    bool granted = false; ///< also when the error says its object went before delivery
  };
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

  void listen(); ///< subscribes to the session's events (once, right after construction)
  // The bodies of acquire() and release(); those tell the session's observer around them.
  bool acquire_waiting(Hold& h, Clock::time_point deadline, bool try_only,
                       const CancelToken* cancel);
  /// `held`: set to how long a hold lasted if this ended one (for the observer; may be null).
  void release_hold(Hold& h, bool strict, bool handoff, std::uint64_t grant,
                    std::optional<Clock::duration>* held);
  [[nodiscard]] Observer* observer() const noexcept { return m_impl->observer(); }

  // Driving (m_mutex held; nothing blocks but cancel() on a waiting thread). Each returns true
  // when nothing can be done before news arrives (a reply, an event, the retry time).
  bool step(Lock& lk);
  void start();
  bool await_create(Lock& lk);
  bool list(Lock& lk);
  void apply(Lock& lk, std::vector<std::string> children);
  bool await_predecessor(Lock& lk);
  void watch_children();
  bool await_children(Lock& lk);
  void next_predecessor(Lock& lk);
  void ensure_parent();
  void handle_error(Lock& lk, const Error& e);
  void leave(Lock& lk, Waiter& me) noexcept;
  void unqueue(Waiter& me);
  void after_leaving(Lock& lk, bool background) noexcept;
  /// An asynchronous waiter leaves with `e` (its deadline, its token, its object's end).
  void withdraw(Lock& lk, Waiter& w, const Error& e);
  /// Ends the attempt, its watch and node removed: waited for on a waiting thread, sent (and
  /// finished by the janitor) in the background, when pumping or on the callback thread. `kick`:
  /// asynchronous waiters that came meanwhile start the next attempt.
  void cancel(Lock& lk, bool background = false, bool kick = true) noexcept;
  void cancel_in_background() noexcept;
  /// Our node from the create's reply, once it came (m_node still unknown).
  void take_created();
  void flush_warnings(Lock& lk);
  /// Wakes the waiting threads and, with no driver, drives for the asynchronous waiters.
  void kick(Lock& lk);
  void pump(Lock& lk);
  [[nodiscard]] bool async_pending() const;
  /// An asynchronous waiter was decided (granted, refused or failed): its completion is posted.
  void decided(Waiter& w);
  void deliver(); ///< runs the posted completions (callback thread, m_mutex not held)
  void expire(std::uint64_t id, Errc why); ///< its deadline passed or its token was cancelled

  // State changes (m_mutex held).
  void grant_head();
  void grant(Hold& h, std::thread::id thread);
  void fail(Waiter& w, const Error& e);
  [[nodiscard]] bool holds(std::thread::id thread) const;
  [[nodiscard]] bool joinable(const Hold& h) const;
  void start_hold(std::int64_t token); ///< our node (m_node, m_stat) is held from now
  void fail_all(const Error& e);
  void refuse_try_only();
  void reset_attempt(bool keep_guid);
  void abandon();
  void backoff();
  bool attempt_active() const;
  bool session_changed() const;
  Clock::time_point op_deadline(Clock::time_point deadline) const;
  std::string full(const std::string& child) const { return m_path + "/" + child; }
  /// The janitor's predicate for our nodes of the attempt with `guid`.
  std::function<bool(std::string_view)> matching(const std::string& guid) const;
  static std::string child_name(const std::string& path) {
    return path.substr(path.rfind('/') + 1);
  }
  /// For a Completion's callback: wakes the threads waiting on m_cv.
  std::function<void()> wake();

  // Callback thread.
  void watch_own_node(std::uint64_t epoch);
  void on_own_node(std::uint64_t epoch, Result<NodeData>& r);
  void on_own_event(std::uint64_t epoch, const WatchEvent& e);
  void on_predecessor_event(std::uint64_t epoch, bool deleted);
  void on_session_event(const SessionEvent& e);
  void react(const SessionEvent& e); ///< what the event means for a hold and the attempt
  /// Declares the held lock lost; releases m_mutex, then posts on_lost to the callback thread
  /// (never run inline: owns_lock() or unlock() may be what found the loss).
  void lose(Lock& lk, Errc why, const std::string& detail);
  /// Before any answer about a hold: a hold whose session the server may have expired (no reply
  /// within the session timeout, see Gate::contact_lapsed) is lost now, not when the C client
  /// notices (after a process pause, it believes itself connected for a while). May release
  /// m_mutex (through lose()).
  void judge(Lock& lk);
  /// Our held node is gone: session_lost if its session is, else lock_lost.
  void node_gone(Lock& lk);

  const std::shared_ptr<Gate> m_impl;
  const std::string m_path;
  std::shared_ptr<const QueuePolicy> m_own_policy; ///< a standalone engine's (else null)
  const QueuePolicy& m_policy;
  const std::string m_node_data;
  const bool m_container_parent;
  std::uint64_t m_listener = 0;

  mutable std::mutex m_mutex;
  std::condition_variable m_cv;
  bool m_closed = false;

  // Local queue and holder.
  std::deque<Waiter*> m_queue;
  Waiter* m_driver = nullptr;
  std::vector<Hold*> m_owners; ///< the objects holding our node (one unless shared)
  std::size_t m_handoffs = 0;
  Clock::time_point m_held_since{};

  // The current attempt; m_epoch changes whenever it is replaced, so late callbacks are ignored.
  Phase m_phase = Phase::idle;
  std::uint64_t m_epoch = 0;
  std::string m_guid;
  std::string m_node;         ///< child name of our node; empty while unknown
  std::optional<Stat> m_stat; ///< its Stat once known (ephemeral owner verified from it)
  std::int64_t m_token = 0; ///< the fencing token of the hold (our node's czxid, see hold_created)
  std::int64_t m_session = 0;   ///< the session our node belongs to (or was created on)
  bool m_indeterminate = false; ///< a create may have been applied though its reply was lost
  std::shared_ptr<Completion<Created>> m_create;
  std::shared_ptr<Completion<Children>> m_listing;
  std::shared_ptr<Completion<NodeData>> m_pred_get;
  std::shared_ptr<Completion<Children>> m_list_get;  ///< the listing of Phase::listing
  std::shared_ptr<Completion<NodeData>> m_adopt_get; ///< the Stat of a node found by its guid
  std::vector<std::string> m_adopt_kids;             ///< the listing it was found in
  /// The creates of the path and its ancestors sent ahead of our node's (ensure_parent).
  std::vector<std::shared_ptr<Completion<Created>>> m_parents;
  bool m_parent_persistent = false;    ///< the server refused a container node: plain ones
  std::vector<std::string> m_children; ///< the last listing, less the nodes seen deleted since
  std::string m_pred;
  /// Waiting for any change of the children (QueueDecision::watch_children): the watched listing,
  /// whether its answer was decided on, and whether the policy's inputs changed since.
  std::shared_ptr<Completion<Children>> m_kids_get;
  bool m_kids_seen = false;
  bool m_reconsider = false;
  bool m_pred_fired = false;
  bool m_pred_deleted = false;
  Clock::time_point m_retry_at{};
  int m_retries = 0; ///< consecutive failed steps (core::recovery_delay)
  std::set<std::string> m_warned;
  // Asynchronous waiters (their Waiter is in m_queue until decided) and their completions.
  std::map<std::uint64_t, std::unique_ptr<AsyncWaiter>> m_async;
  std::atomic<std::uint64_t> m_next_async{0}; ///< taken before m_mutex (see acquire_async)
  std::vector<Finished> m_finished;
  bool m_deliver_posted = false;
  bool m_pumping = false;
  Clock::time_point m_retry_timer{};   ///< the m_retry_at a timer is posted for
  std::vector<std::string> m_warnings; ///< logged once m_mutex is released
};

/// "host:pid", the default data of a node.
const std::string& default_node_data();

/// TEST ONLY: breaks the recovery of a create whose reply was lost (the node is forgotten and a
/// second one created, instead of finding the first by its GUID), so that the fault matrix can show
/// that its F7 cell catches an unprotected create (the negative control of docs/reliability.md)
/// and the engine's unit tests that theirs do. Nothing in the library calls it.
void break_protected_create_for_testing(bool broken) noexcept;

} // namespace zk::detail::core
