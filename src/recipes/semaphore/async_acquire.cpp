// zk::Semaphore::async_acquire: acquire_n's protocol for one lease, as a chain of asynchronous
// steps with no thread of its own. The internal lock's and the lease's engines drive their own
// waits (deadline, cancel, cleanup); between them, every step runs on the session's callback
// thread: the SharedCount's first read, the internal lock, Kazoo's stored maximum (checked under
// the lock, whose node's creation made the semaphore node's parent), the lease. A lock lost while
// the lease waits (the round's token) starts the round again, as acquire_n does.
#include "recipes/semaphore/state.hpp"

#include "core/async_completion.hpp"
#include "core/close_watch.hpp"
#include "core/retry.hpp"

#include <utility>

namespace zk {
namespace detail::semaphore {

class AsyncAcquisition : public std::enable_shared_from_this<AsyncAcquisition> {
public:
  AsyncAcquisition(std::shared_ptr<State> st, Clock::time_point until, core::Decided<Lease> done)
      : m_st(std::move(st)), m_until(until), m_done(std::move(done)) {}

  // On the caller's thread: nothing is decided here (the completion never runs inside the call),
  // and every member but the listener's id is used on the callback thread only, from begin() on.
  void start(const CancelToken* cancel) {
    if (cancel != nullptr) m_user = *cancel;
    m_keep = shared_from_this(); // until finish(): every other reference may be gone meanwhile
    try {
      m_close.start(
          m_st->gate,
          [weak = weak_from_this()] {
            if (const auto self = weak.lock()) {
              self->step([&] { self->interrupted(Errc::session_closed); });
            }
          },
          "Semaphore::async_acquire: the session is closed");
    } catch (...) {
      m_keep.reset();
      throw;
    }
    m_st->gate->post_at(Clock::now(),
                        [self = shared_from_this()] { self->step([&] { self->begin(); }); });
  }

private:
  enum class Phase {
    starting, ///< begin() has not run yet
    counting, ///< waiting for the SharedCount's first read
    locking,  ///< the lock engine waits
    checking, ///< holding the lock, Kazoo's stored maximum asked
    leasing,  ///< the lease engine waits
    done,
  };

  void begin() {
    if (m_phase != Phase::starting) return; // the session's close came first
    // The token's wakes run on the cancelling thread: they only pass the news on.
    const std::weak_ptr<AsyncAcquisition> weak = weak_from_this();
    m_stop_sub = m_stop.subscribe([gate = m_st->gate, weak] {
      gate->post_at(Clock::now(), [weak] {
        if (const auto self = weak.lock()) self->step([&] { self->interrupted(Errc::cancelled); });
      });
    });
    if (m_user) m_user_sub = m_user->subscribe([stop = m_stop] { stop.cancel(); });
    m_closing_sub = m_st->closing.subscribe([stop = m_stop] { stop.cancel(); });
    if (m_until < far_future) {
      m_st->gate->post_at(m_until, [weak] {
        if (const auto self = weak.lock())
          self->step([&] { self->interrupted(Errc::deadline_exceeded); });
      });
    }
    if (m_stop.cancelled()) return finish(cancelled());
    {
      const std::lock_guard<std::mutex> lk(m_st->m);
      if (!m_st->count_known) {
        m_phase = Phase::counting;
        m_count_waiter = ++m_st->next_count_waiter;
        m_st->count_waiters.emplace(m_count_waiter, [gate = m_st->gate, weak] {
          gate->post_at(Clock::now(), [weak] {
            if (const auto self = weak.lock()) self->step([&] { self->counted(); });
          });
        });
        return;
      }
    }
    counted();
  }

  // A step's failure that is not the protocol's (an allocation, say) still ends the acquisition,
  // its lock released: the steps run where nobody could catch it for us.
  template <class F> void step(F&& fn) noexcept {
    try {
      fn();
    } catch (const Error& e) {
      finish(e);
    } catch (const std::exception& e) {
      finish(Error(Errc::system_error, "semaphore " + m_st->path + ": " + e.what()));
    } catch (...) {
      finish(Error(Errc::system_error, "semaphore " + m_st->path + ": an unknown exception"));
    }
  }

  void counted() {
    if (m_phase != Phase::starting && m_phase != Phase::counting) return; // ended meanwhile
    std::optional<Error> wrong;
    {
      const std::lock_guard<std::mutex> lk(m_st->m);
      wrong = m_st->count_error;
    }
    if (wrong) return finish(std::move(wrong));
    round();
  }

  // The deadline or the token, while no engine waits for us (the engines end their own waits).
  void interrupted(Errc why) {
    if (m_phase != Phase::starting && m_phase != Phase::counting && m_phase != Phase::checking)
      return;
    if (why == Errc::cancelled) return finish(cancelled());
    if (why == Errc::session_closed)
      return finish(Error(why, "semaphore " + m_st->path + ": the session was closed"));
    finish(Error(Errc::deadline_exceeded,
                 "semaphore " + m_st->path + ": no lease within the deadline; nothing is held"));
  }

  void round() {
    m_phase = Phase::locking;
    m_round = CancelToken();
    m_round_sub = m_stop.subscribe([round = m_round] { round.cancel(); });
    m_lock = std::make_unique<Hold>();
    m_lock->options = m_st->lock_options;
    m_lock->options.on_lost = [round = m_round](const Error& /*why*/) { round.cancel(); };
    m_lock->contender = m_st->lock_engine;
    try {
      m_lock->contender->acquire_async(
          *m_lock, m_until, &m_round,
          [self = shared_from_this()](std::optional<Error> e, std::uint64_t /*grant*/) {
            self->step([&] { self->locked(std::move(e)); });
          });
    } catch (const Error& e) {
      finish(e);
    }
  }

  void locked(std::optional<Error> e) {
    if (e) return finish(std::move(e));
    bool check = false;
    if (m_st->profile == SemaphoreProfile::kazoo) {
      const std::lock_guard<std::mutex> lk(m_st->m);
      check = !m_st->kazoo_checked;
    }
    if (check) return check_kazoo();
    lease();
  }

  // As check_kazoo_max, without a thread: create the node with our maximum, or compare with the
  // one stored. Connection trouble is retried after the recovery delay, within the deadline.
  void check_kazoo() {
    m_phase = Phase::checking;
    if (m_stop.cancelled()) return finish(cancelled());
    if (m_round.cancelled()) { // the lock was lost meanwhile: take it again
      end_round();
      return round();
    }
    if (Clock::now() >= m_until) return interrupted(Errc::deadline_exceeded);
    try {
      m_st->gate->create_async(m_st->path, std::to_string(m_st->max->load()),
                               CreateMode::persistent,
                               [self = shared_from_this()](const Result<Created>& r) {
                                 if (self->m_phase != Phase::checking) return;
                                 self->step([&] {
                                   if (r.ok()) return self->checked();
                                   if (r.error() != Errc::node_exists)
                                     return self->retry(r.failure());
                                   self->read_kazoo_max();
                                 });
                               });
    } catch (const Error& e) {
      finish(e);
    }
  }

  void read_kazoo_max() {
    try {
      m_st->gate->get_async(m_st->path, Watcher{}, [self = shared_from_this()](Result<NodeData> r) {
        if (self->m_phase != Phase::checking) return;
        self->step([&] {
          if (!r.ok() && r.error() == Errc::no_node)
            return self->check_kazoo(); // deleted meanwhile: create it again
          if (!r.ok()) return self->retry(r.failure());
          compare_kazoo_max(*self->m_st, r.value().data); // throws for another maximum
          self->checked();
        });
      });
    } catch (const Error& e) {
      finish(e);
    }
  }

  void retry(const Error& e) {
    const auto again = Clock::now() + core::recovery_delay(++m_retries);
    const bool lost = e.errc() == Errc::session_lost || e.errc() == Errc::session_expired;
    const bool passes =
        core::worth_retrying(e.errc()) && (!lost || m_st->gate->renews_after_expiry());
    if (!passes || again >= m_until) return finish(e);
    m_st->gate->post_at(again, [weak = weak_from_this()] {
      if (const auto self = weak.lock(); self && self->m_phase == Phase::checking)
        self->step([&] { self->check_kazoo(); });
    });
  }

  void checked() {
    {
      const std::lock_guard<std::mutex> lk(m_st->m);
      m_st->kazoo_checked = true;
    }
    lease();
  }

  void lease() {
    m_phase = Phase::leasing;
    m_lease = std::make_unique<LeaseState>();
    m_lease->hold.options = m_st->lease_options;
    m_lease->hold.contender =
        QueueEngine::standalone(m_st->gate, m_st->paths.leases, m_st->policy, m_st->lease_options);
    m_st->wait_with(m_lease->hold.contender);
    try {
      m_lease->hold.contender->acquire_async(
          m_lease->hold, m_until, &m_round,
          [self = shared_from_this()](std::optional<Error> e, std::uint64_t /*grant*/) {
            self->step([&] { self->leased(std::move(e)); });
          });
    } catch (const Error& e) {
      finish(e);
    }
  }

  void leased(std::optional<Error> e) {
    m_st->stop_waiting(m_lease->hold.contender);
    // Counted while this acquisition held the lock: otherwise (lost at the last moment) a lease
    // taken elsewhere may not have been visible to us.
    const bool locked = core::owns(m_lock.get());
    end_round();
    if (!e && locked) return finish(std::nullopt, std::move(m_lease));
    m_lease.reset(); // a lease taken without the lock is released; a failed one left nothing
    const bool lock_lost = !e || (e->errc() == Errc::cancelled && !m_stop.cancelled());
    if (lock_lost) return round(); // again, within the deadline
    finish(std::move(e));
  }

  // The round's lock released (in the background: this is the callback thread).
  void end_round() {
    if (m_round_sub != 0) m_stop.unsubscribe(std::exchange(m_round_sub, 0));
    if (m_lock) {
      core::end_hold(*m_lock);
      m_lock.reset();
    }
  }

  [[nodiscard]] Error cancelled() const {
    return Error(Errc::cancelled, "semaphore " + m_st->path + ": cancelled while waiting");
  }

  void finish(std::optional<Error> e, std::unique_ptr<LeaseState> lease = nullptr) {
    if (m_phase == Phase::done) return;
    m_phase = Phase::done;
    m_close.stop();
    if (m_count_waiter != 0) {
      const std::lock_guard<std::mutex> lk(m_st->m);
      m_st->count_waiters.erase(m_count_waiter);
    }
    end_round();
    m_stop.unsubscribe(m_stop_sub);
    if (m_user) m_user->unsubscribe(m_user_sub);
    m_st->closing.unsubscribe(m_closing_sub);
    const auto keep = std::move(m_keep); // this lives until the end of this function
    auto done = std::move(m_done);
    try {
      done(std::move(e), lease ? Lease(std::move(lease)) : Lease());
    } catch (const std::exception& ex) {
      m_st->gate->log(LogLevel::warn, "semaphore " + m_st->path +
                                          ": an acquisition's completion threw: " + ex.what());
    } catch (...) {
      m_st->gate->log(LogLevel::warn,
                      "semaphore " + m_st->path + ": an acquisition's completion threw");
    }
  }

  const std::shared_ptr<State> m_st;
  const Clock::time_point m_until;
  core::Decided<Lease> m_done;
  std::shared_ptr<AsyncAcquisition> m_keep;
  Phase m_phase = Phase::starting;
  CancelToken m_stop; ///< the user's token or the Semaphore's end
  std::uint64_t m_stop_sub = 0;
  std::optional<CancelToken> m_user;
  std::uint64_t m_user_sub = 0;
  std::uint64_t m_closing_sub = 0;
  core::CloseWatch m_close;
  std::uint64_t m_count_waiter = 0; ///< its key in State::count_waiters, while counting
  CancelToken m_round;              ///< m_stop, or the loss of this round's lock
  std::uint64_t m_round_sub = 0;
  std::unique_ptr<Hold> m_lock;
  std::unique_ptr<LeaseState> m_lease;
  int m_retries = 0;
};

} // namespace detail::semaphore

void Semaphore::start_async(Deadline deadline, const CancelToken* cancel,
                            std::function<void(std::optional<Error>, Lease)> done) {
  auto& st = *m_state;
  if (st.gate->is_closed())
    throw Error(Errc::session_closed, "Semaphore::async_acquire: the session is closed");
  const auto until = detail::core::async_until(deadline, st.gate->operation_timeout());
  std::make_shared<detail::semaphore::AsyncAcquisition>(m_state, until, std::move(done))
      ->start(cancel);
}

void Semaphore::async_acquire(Deadline deadline, const CancelToken& cancel, LeaseHandler done,
                              Executor executor) {
  detail::semaphore::state_of(m_state);
  start_async(deadline, &cancel,
              detail::core::to_completion(std::move(done), std::move(executor),
                                          "Semaphore::async_acquire"));
}

void Semaphore::async_acquire(LeaseHandler done, Executor executor) {
  detail::semaphore::state_of(m_state);
  start_async({}, nullptr,
              detail::core::to_completion(std::move(done), std::move(executor),
                                          "Semaphore::async_acquire"));
}

std::future<Lease> Semaphore::async_acquire(Deadline deadline, const CancelToken& cancel) {
  detail::semaphore::state_of(m_state);
  auto promise = std::make_shared<std::promise<Lease>>();
  auto future = promise->get_future();
  start_async(deadline, &cancel, detail::core::to_promise(std::move(promise)));
  return future;
}

} // namespace zk
