// zkrecipes — leader election: zk::LeaderLatch and zk::LeaderSelector, with a fencing token per
// term.
//
// clang-format off
//   zk::LatchOptions opt;
//   opt.id = "replica-3";
//   zk::LeaderLatch latch(session, "/app/leader", opt);        // joins at once
//   if (latch.await_leadership(30s)) {
//     latch.fenced({zk::Op::set("/app/state", x)});            // committed only while leader
//   }
//
//   zk::LeaderSelector scheduler(session, "/app/scheduler", [](zk::Leadership& l) {
//     while (!l.stop_requested()) run_one_tick(l.term());       // the term ends when this returns
//   });
// clang-format on
//
// Both are queues of ephemeral-sequential nodes under the election path (see DistributedLock): the
// first node leads, every other participant watches only its predecessor. A term starts when our
// node is first and our current session owns it (its ephemeralOwner: a node of an expired session
// never leads again, the fix Curator 5.4 lacks), and ends when the node is deleted, the session is
// lost, the latch is closed or the selector's function returns. Every term has a fencing token, the
// czxid of our node: it increases across the ensemble from term to term, and fenced() commits only
// while that node exists, so a deposed leader's writes are refused by the server.
//
// Node forms (so peers in other languages take part in the same election):
// * LeaderLatch: Curator's LeaderLatch, `_c_<uuid>-latch-<seq>`, data = the id.
// * LeaderSelector: Curator's LeaderSelector (an InterProcessMutex), `_c_<uuid>-lock-<seq>`, or,
//   with SelectorProfile::kazoo, Kazoo's Election (a Kazoo Lock), `<hex>__lock__<seq>`.
// The forms never mix on one path: a child of another form makes the election fail with
// Errc::foreign_node (await_leadership() throws it) instead of guessing an order.
//
// Uncertainty: while the connection is suspended the leader cannot know whether it still leads. By
// default is_leader() is false then and the selector's function is asked to stop
// (Leadership::stop_requested()); with lead_while_suspended, leadership lasts until the session is
// lost (Curator's SessionConnectionStateErrorPolicy). After a reconnection with the same session
// the latch checks its node in place before it leads again; after a new session it never resumes
// the old node: it is deleted (the server does that) and a new one queued.
//
// Threads: each LeaderLatch and LeaderSelector has one thread that waits in the queue (and runs the
// selector's function). Listeners run on the session's callback thread, in the order of the events,
// never after close() or the destructor returned (except when close() is called from the selector's
// own function, which cannot wait for itself). close() waits for listener calls already posted: do
// not hold a mutex there that a listener takes. A closed Session runs no listener any more: a term
// it ends is not reported. Participants of one Session on one path share one node (as the threads
// of a DistributedLock do): give each participant its own Session to compete as separate members.
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
#include <string_view>
#include <system_error>
#include <vector>

namespace zk {

namespace detail::leader {
class Election;
}

/// The listeners of an election, called on the session's callback thread.
struct ElectionListeners {
  /// A term started; the argument is its fencing token.
  std::function<void(std::int64_t term)> on_leader;
  /// A term ended (lost, given up, or closed with CloseMode::notify).
  std::function<void()> on_follower;
  /// The leader's connection was suspended (true: it may not lead any more) or is certain again.
  std::function<void(bool uncertain)> on_uncertain;
  /// The election ended with an error and this participant will not lead again: a child of another
  /// node form on the path (Errc::foreign_node), a session lost without renewal, a refusal.
  /// await_leadership() throws the same error.
  std::function<void(const Error& why)> on_error;
};

/// Options of a LeaderLatch.
struct LatchOptions {
  /// This participant's id, the data of its node (what leader() and participants() return; empty:
  /// "host:pid"). Latches of one Session on one path share a node and so must share the id.
  std::string id;
  /// Keep leading while the connection is suspended, until the session is lost.
  bool lead_while_suspended = false;
  /// Create a missing election path as a container node (see LockOptions::container_parent).
  bool container_parent = true;
  /// Called on the session's callback thread as leadership comes and goes (see ElectionListeners).
  ElectionListeners listeners;
};

/// Node form of a LeaderSelector.
enum class SelectorProfile {
  curator, ///< Curator's LeaderSelector and our DistributedLock: `_c_<uuid>-lock-<seq>`
  kazoo,   ///< Kazoo's Election: `<hex>__lock__<seq>`
};

/// Options of a LeaderSelector.
struct SelectorOptions {
  /// See LatchOptions::id.
  std::string id;
  /// Queue again after a term ends (the function returned, leadership was lost or interrupted).
  /// Without it, the selector runs the function at most once until requeue().
  bool requeue = true;
  /// See LatchOptions::lead_while_suspended: by default a suspension asks the function to stop.
  bool lead_while_suspended = false;
  /// The node form, Curator's or Kazoo's; every participant of one path must use the same one (a
  /// child of the other form is Errc::foreign_node).
  SelectorProfile profile = SelectorProfile::curator;
  /// See LatchOptions::container_parent.
  bool container_parent = true;
  /// See LatchOptions::listeners.
  ElectionListeners listeners;
};

/// How close() treats the listeners.
enum class CloseMode {
  silent, ///< no on_follower for the term close() ends (Curator's default)
  notify, ///< on_follower runs for it, before close() returns (not from a listener: see close())
};

/// One participant of an election, as leader() and participants() see it.
/// Thread safety: a plain value.
struct Participant {
  std::string id;         ///< its node's data
  std::string node;       ///< its node's name under the election path
  bool leader = false;    ///< its node is first: it leads (or is about to)
  std::int64_t czxid = 0; ///< its node's czxid: the token of its term if it leads
};

/// A term of a LeaderSelector, given to its function.
/// Thread safety: every method may be called from any thread while the function runs.
class Leadership {
public:
  /// The term's fencing token (our node's czxid).
  [[nodiscard]] std::int64_t term() const noexcept { return m_term; }
  /// The full path of our node.
  [[nodiscard]] const std::string& node_path() const noexcept { return m_node; }
  /// True once the term should end: leadership lost (or uncertain, unless lead_while_suspended),
  /// interrupt(), close(). Judged at the call, as DistributedLock::owns_lock() is.
  [[nodiscard]] bool stop_requested() const;
  /// The same as a token for other calls (for example lock.lock(l.stop_token())). Cancelled when
  /// the stop is requested. A process pause past the session timeout is found only by a call (as
  /// for a lock): a function that only waits on the token should still poll stop_requested() or
  /// wait with wait_for_stop(), which judge the hold.
  [[nodiscard]] const CancelToken& stop_token() const noexcept { return m_stop; }
  /// Waits until the stop is requested (true) or `timeout` passes (false).
  template <class Rep, class Period>
  bool wait_for_stop(const std::chrono::duration<Rep, Period>& timeout) const {
    return wait_until_stop(saturating_add(Clock::now(), timeout));
  }
  /// Waits until the stop is requested (true) or `at` passes (false).
  bool wait_until_stop(Clock::time_point at) const;
  /// As LeaderLatch::fenced, for this term.
  [[nodiscard]] MultiResult fenced(std::vector<Op> ops, Deadline deadline = {}) const;

  Leadership(const Leadership&) = delete;
  Leadership& operator=(const Leadership&) = delete;
  Leadership(Leadership&&) = delete;
  Leadership& operator=(Leadership&&) = delete;
  ~Leadership() = default;

private:
  friend class detail::leader::Election;
  Leadership(detail::leader::Election& election, std::int64_t term, std::string node,
             CancelToken stop)
      : m_election(election), m_term(term), m_node(std::move(node)), m_stop(std::move(stop)) {}
  detail::leader::Election& m_election;
  std::int64_t m_term;
  std::string m_node;
  CancelToken m_stop;
};

/// The completion of async_await_leadership(): no error and what await_leadership() would return
/// (true once this participant leads; false if it will not lead, or the deadline passed), or the
/// error: Errc::cancelled, or what ended the election (foreign_node, session_closed…).
using LeadershipHandler = std::function<void(std::error_code error, bool leading)>;

/// A participant that leads whenever its node is first: Curator's LeaderLatch.
/// Thread safety: all methods may be called concurrently; destroy or move it while no call runs.
class LeaderLatch {
public:
  /// Joins the election at once (in the background). Throws Errc::invalid_argument for an invalid
  /// path (or "/"), an id too large for a node, or a moved-from session; session_closed if closed.
  LeaderLatch(Session& session, std::string path, LatchOptions options = {});
  /// close(CloseMode::silent).
  ~LeaderLatch();
  /// Takes over the participation (and a current term); the moved-from latch takes no part.
  LeaderLatch(LeaderLatch&&) noexcept;
  /// Closes our own participation (silently) first, then takes over `other`'s.
  LeaderLatch& operator=(LeaderLatch&&) noexcept;
  LeaderLatch(const LeaderLatch&) = delete;
  LeaderLatch& operator=(const LeaderLatch&) = delete;

  /// Waits until this participant leads (true), or it will not lead (false): closed, or a selector
  /// whose term ended without requeue. Throws what ended the election: Errc::foreign_node,
  /// session_closed, session_lost (without renewal)…
  bool await_leadership();
  /// As await_leadership(), at most `timeout` (false when it passes).
  template <class Rep, class Period>
  bool await_leadership(const std::chrono::duration<Rep, Period>& timeout) {
    return await_until(saturating_add(Clock::now(), timeout));
  }
  /// As await_leadership(), until `at` (false when it passes).
  bool await_until(Clock::time_point at);
  /// await_leadership() without blocking a thread (see async.hpp): returns at once; `done` runs
  /// once this participant leads, will not lead, `deadline` passed (default: none; then false) or
  /// `cancel` was cancelled (Errc::cancelled), on the session's callback thread or given to
  /// `executor`. Any number may be pending; closing or destroying the latch ends them with false.
  /// Throws Errc::invalid_argument for a moved-from latch or a null `done`, Errc::session_closed
  /// for a closed session.
  void async_await_leadership(Deadline deadline, const CancelToken& cancel, LeadershipHandler done,
                              Executor executor = {});
  /// async_await_leadership() with no deadline and no token.
  void async_await_leadership(LeadershipHandler done, Executor executor = {});
  /// async_await_leadership() as a future.
  [[nodiscard]] std::future<bool> async_await_leadership(Deadline deadline = {},
                                                         const CancelToken& cancel = CancelToken());
  /// True while this participant leads and is certain of it (see lead_while_suspended), and its
  /// term is not ending (interrupted, closing, lost).
  [[nodiscard]] bool is_leader() const noexcept;
  /// The fencing token of the current term. Throws Errc::not_leader without one.
  [[nodiscard]] std::int64_t term() const;
  /// The full path of our node while we lead. Throws Errc::not_leader.
  [[nodiscard]] std::string node_path() const;
  /// Commits `ops` atomically only while the current term's node exists (a multi that starts with
  /// a check of it). Throws Errc::not_leader if not leading (nothing sent) or if the check fails
  /// (nothing written). Results as DistributedLock::fenced. The latch queues again by itself after
  /// a loss: for a write computed in one term, pass that term (below).
  [[nodiscard]] MultiResult fenced(std::vector<Op> ops, Deadline deadline = {});
  /// As fenced(ops), only in the term whose token is `term` (Errc::not_leader once it is over,
  /// also when a later term of ours is current): for writes computed from what that term read.
  [[nodiscard]] MultiResult fenced(std::int64_t term, std::vector<Op> ops, Deadline deadline = {});
  /// The current leader (nullopt if nobody leads, or a child of another form is on the path) and
  /// every participant, leader first.
  [[nodiscard]] std::optional<Participant> leader(Deadline deadline = {}) const;
  /// Every participant of this election, leader first (a fresh listing and a read of each node).
  [[nodiscard]] std::vector<Participant> participants(Deadline deadline = {}) const;
  /// The participants of the latch election on `path`, leader first, without joining it.
  static std::vector<Participant> participants(Session& session, std::string_view path,
                                               Deadline deadline = {});
  /// Leaves the election: our node is deleted before it returns (or in the background, if the
  /// server cannot be reached in the operation timeout, or if another participant of this Session
  /// waits on the same path). Idempotent; may be called concurrently. From a listener (the callback
  /// thread) it does not wait, and no listener call posted before runs.
  void close(CloseMode mode = CloseMode::silent);
  /// The election path (empty on a moved-from latch).
  [[nodiscard]] const std::string& path() const noexcept;

private:
  std::shared_ptr<detail::leader::Election> m_election;
};

/// A participant that runs a function while it leads: Curator's LeaderSelector, Kazoo's Election.
/// Thread safety: as LeaderLatch.
class LeaderSelector {
public:
  /// What runs for each term; leadership lasts until it returns (see Leadership).
  using Work = std::function<void(Leadership&)>;
  /// Joins at once; `work` runs on the selector's thread for each term, which ends when it returns
  /// (an exception it throws is logged and ends the term). Throws as LeaderLatch's constructor.
  LeaderSelector(Session& session, std::string path, Work work, SelectorOptions options = {});
  /// close(CloseMode::silent): asks a running function to stop and waits for it to return.
  ~LeaderSelector();
  /// Takes over the participation; the moved-from selector takes no part.
  LeaderSelector(LeaderSelector&&) noexcept;
  /// Closes our own participation (silently, waiting for a running function) first.
  LeaderSelector& operator=(LeaderSelector&&) noexcept;
  LeaderSelector(const LeaderSelector&) = delete;
  LeaderSelector& operator=(const LeaderSelector&) = delete;

  /// See LeaderLatch::await_leadership (true once a term has begun).
  bool await_leadership();
  /// See LeaderLatch::await_leadership.
  template <class Rep, class Period>
  bool await_leadership(const std::chrono::duration<Rep, Period>& timeout) {
    return await_until(saturating_add(Clock::now(), timeout));
  }
  /// See LeaderLatch::await_until.
  bool await_until(Clock::time_point at);
  /// See LeaderLatch::async_await_leadership (true once a term has begun).
  void async_await_leadership(Deadline deadline, const CancelToken& cancel, LeadershipHandler done,
                              Executor executor = {});
  /// See LeaderLatch::async_await_leadership.
  void async_await_leadership(LeadershipHandler done, Executor executor = {});
  /// See LeaderLatch::async_await_leadership.
  [[nodiscard]] std::future<bool> async_await_leadership(Deadline deadline = {},
                                                         const CancelToken& cancel = CancelToken());
  /// True while a term runs and is certain (see LeaderLatch::is_leader).
  [[nodiscard]] bool is_leader() const noexcept;
  /// The fencing token of the running term. Throws Errc::not_leader without one.
  [[nodiscard]] std::int64_t term() const;
  /// See LeaderLatch::leader.
  [[nodiscard]] std::optional<Participant> leader(Deadline deadline = {}) const;
  /// See LeaderLatch::participants.
  [[nodiscard]] std::vector<Participant> participants(Deadline deadline = {}) const;
  /// The participants of the selector election on `path` in `profile`'s form, without joining it.
  static std::vector<Participant> participants(Session& session, std::string_view path,
                                               SelectorProfile profile, Deadline deadline = {});
  /// Asks the running function to stop (the term ends when it returns).
  void interrupt();
  /// Queues again once after a term ended without SelectorOptions::requeue (during a term: once it
  /// ends). Nothing if queued.
  void requeue();
  /// See LeaderLatch::close (a running function is asked to stop and waited for, except from the
  /// function itself or a listener).
  void close(CloseMode mode = CloseMode::silent);
  /// The election path (empty on a moved-from selector).
  [[nodiscard]] const std::string& path() const noexcept;

private:
  std::shared_ptr<detail::leader::Election> m_election;
};

} // namespace zk
