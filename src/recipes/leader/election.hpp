// The election: what LeaderLatch and LeaderSelector share. A participant is one hold on core's
// queue engine under a profile (latch, selector or Kazoo election; lock_protocol.hpp), driven by
// the election's own thread: it waits in the queue, runs the term (the selector's function, or for
// a latch a wait until the term ends), releases the node and queues again. The engine decides who
// leads and reports loss and uncertainty; the election turns them into the term's stop request and
// the listeners.
//
// Term life: the engine grants the hold → term (token = czxid) → stop requested by loss,
// uncertainty (unless lead_while_suspended; the latch only stops leading meanwhile), interrupt or
// close → the function returns → the node is released → on_follower → queued again (requeue).
#pragma once

#include <zkrecipes/leader.hpp>

#include "core/async_completion.hpp"
#include "core/gate.hpp"
#include "core/queue_engine.hpp"
#include "core/reports.hpp"
#include "recipes/lock/lock_protocol.hpp"

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace zk::detail::leader {

struct ElectionConfig {
  std::string id;
  bool container_parent = true;
  bool lead_while_suspended = false;
  bool requeue = true;
  ElectionListeners listeners;
  /// The selector's function; empty for a latch (the term lasts until it ends by itself).
  LeaderSelector::Work work;
  const char* kind = "LeaderLatch"; ///< for messages and the wrong-thread check
};

/// Whether an error from the queue ends the election for good (it is then thrown by every
/// await_leadership()), or the participant queues again after a pause: only a closed session, an
/// expired one without renewal, another protocol's child and refusals that would come again end it.
bool ends_election(Errc e, bool session_closed, bool renews_after_expiry);

class Election : public std::enable_shared_from_this<Election> {
public:
  /// Validates, then starts the election's thread (joined at once). Throws as LeaderLatch's
  /// constructor.
  static std::shared_ptr<Election> start(const std::shared_ptr<core::Gate>& gate, std::string path,
                                         const lock::Profile& profile, ElectionConfig config);
  Election(std::shared_ptr<core::Gate> gate, std::string path, const lock::Profile& profile,
           ElectionConfig config);
  ~Election();
  Election(const Election&) = delete;
  Election& operator=(const Election&) = delete;
  Election(Election&&) = delete;
  Election& operator=(Election&&) = delete;

  void close(CloseMode mode) noexcept;
  bool await_until(Clock::time_point at);
  /// await_until() without a thread: `done` runs on the callback thread (never inline) with what
  /// await_until() would return (false at the deadline), Errc::cancelled, or the election's end.
  void async_await(Deadline deadline, const CancelToken* cancel, core::Decided<bool> done);
  bool is_leader() const noexcept;
  std::int64_t term() const;
  std::string node_path() const;
  /// In the current term, or only in the term `term` if given.
  MultiResult fenced(std::optional<std::int64_t> term, std::vector<Op> ops, Deadline deadline);
  std::vector<Participant> participants(Deadline deadline) const;
  /// The participants of the election on `path` under `profile`, leader first (no node of ours).
  static std::vector<Participant> list(core::Gate& gate, const std::string& path,
                                       const lock::Profile& profile, Deadline deadline);
  void interrupt();
  void requeue();
  const std::string& path() const noexcept { return m_path; }

  // For Leadership.
  bool stop_requested(const CancelToken& stop) const;
  bool wait_until_stop(const CancelToken& stop, Clock::time_point at) const;
  MultiResult fenced_term(const std::string& node, std::vector<Op> ops, Deadline deadline);

private:
  using Lock = std::unique_lock<std::mutex>;
  void run() noexcept;
  void run_term(std::int64_t token, const std::string& node, const CancelToken& stop);
  /// True while the engine says the hold is ours (judged: a lapsed session is lost here).
  bool held() const noexcept;
  void on_lost();
  void on_uncertain(bool uncertain);
  void recheck(Lock& lk);
  void post(std::function<void()> fn);
  /// The state changed (m_mutex held): wakes the waiting threads, and has the asynchronous
  /// awaiters judged on the callback thread.
  void changed();
  struct Awaiter;
  /// What await_until() would decide now for `a`: true (also when a term began since `a` came),
  /// false, the failure; nullopt to wait on (m_mutex held; judges the hold).
  std::optional<std::pair<std::optional<Error>, bool>> verdict(const Awaiter& a) const;
  void settle();                                ///< the awaiters decided by verdict() complete
  void end_awaiter(std::uint64_t id, Errc why); ///< its deadline or its token
  /// All of them, at once: here, or `posted` to the callback thread (here with session_closed if
  /// the session's dispatcher takes no more posts).
  void end_awaiters(const std::optional<Error>& e, bool leading, bool posted = false) noexcept;
  void complete(Awaiter& a, const std::optional<Error>& e, bool leading) noexcept;
  void stop_term(Lock& lk);
  [[noreturn]] void not_leader(const char* what) const;

  const std::shared_ptr<core::Gate> m_gate;
  const std::string m_path;
  const lock::Profile& m_profile;
  const ElectionConfig m_config;
  std::unique_ptr<core::Hold> m_hold; // the engine's record of our participant
  core::Reports m_reports;            // listener calls posted, waited for by close()

  mutable std::mutex m_mutex;
  mutable std::condition_variable m_cv;
  std::mutex m_join_mutex; // joins m_thread once, whoever closes
  std::thread m_thread;
  std::atomic<std::thread::id> m_thread_id{}; ///< set by the thread itself: close() from it

  CancelToken m_leave; ///< cancels a wait in the queue: close()
  bool m_closing = false;
  bool m_notify = false;          ///< CloseMode::notify
  bool m_queued = true;           ///< takes part (false after a term without requeue)
  bool m_requeue_asked = false;   ///< requeue() during a term: queue again after it
  std::optional<Error> m_failure; ///< what ended the election
  // The current term (m_leading), if any.
  bool m_leading = false;
  std::uint64_t m_terms = 0; ///< counts terms, to ignore late reports of an earlier one
  std::uint64_t m_begun = 0; ///< terms that began (what an awaiter may have missed)
  std::int64_t m_token = 0;
  std::string m_node;
  std::optional<CancelToken> m_stop;
  bool m_uncertain = false; ///< suspended, or reconnected and not yet re-checked
  // Asynchronous awaiters (async_await), decided on the callback thread.
  struct Awaiter {
    core::Decided<bool> done;
    std::optional<CancelToken> cancel;
    std::uint64_t subscription = 0;
    std::uint64_t begun_at = 0; ///< m_begun when it came
  };
  std::map<std::uint64_t, Awaiter> m_awaiters;
  std::atomic<std::uint64_t> m_next_awaiter{0}; ///< taken before m_mutex (see async_await)
  bool m_settle_posted = false;
  std::uint64_t m_listener = 0; ///< the session's close ends the awaiters (its timers go with it)
};

} // namespace zk::detail::leader
