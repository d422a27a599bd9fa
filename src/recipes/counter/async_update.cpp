// CounterCore::update_async: the update protocol (update_run.hpp) driven without a thread. Every
// step runs on the session's callback thread: the first one is posted there, the others after each
// answer lands (posted from where it lands), at the timers of the pauses and request deadlines,
// after the token's cancellation, and at the session's close (after which no post and no timer
// runs: a step still waiting for an answer then ends the update, indeterminate if it was a
// write's).
#include "recipes/counter/update_run.hpp"

#include "core/async_completion.hpp"
#include "core/close_watch.hpp"

#include <utility>

namespace zk::detail {

class CounterCore::AsyncUpdate : public std::enable_shared_from_this<AsyncUpdate> {
public:
  AsyncUpdate(std::shared_ptr<CounterCore> core, Decide decide, Clock::time_point deadline,
              core::Decided<Outcome> done)
      : m_core(std::move(core)), m_gate(m_core->m_session), m_decide(std::move(decide)),
        m_deadline(deadline), m_done(std::move(done)), m_started(Clock::now()) {}

  // On the caller's thread: only the session's listener and the first post. Every other member
  // is used on the callback thread only.
  void start(const CancelToken* cancel) {
    if (cancel != nullptr) m_token = *cancel;
    m_keep = shared_from_this(); // until finish(): every other reference may be gone meanwhile
    try {
      m_close.start(
          m_gate,
          [weak = weak_from_this()] {
            if (const auto self = weak.lock()) {
              self->interrupt(Error(Errc::session_closed, "counter " + self->m_core->path() +
                                                              ": the session was closed"));
            }
          },
          "counter " + m_core->path() + ": the session is closed");
    } catch (...) {
      m_keep.reset();
      throw;
    }
    m_gate->post_at(Clock::now(), [self = shared_from_this()] { self->begin(); });
  }

private:
  void begin() noexcept {
    if (m_finished) return; // the session's close came first
    try {
      subscribe_and_run();
    } catch (const Error& e) { // nothing was sent
      finish(e, {});
    } catch (const std::exception& e) {
      finish(Error(Errc::system_error, "counter " + m_core->path() + ": " + e.what()), {});
    }
  }

  void subscribe_and_run() {
    const std::weak_ptr<AsyncUpdate> weak = weak_from_this();
    if (m_token) { // its wakes run on the cancelling thread: they only pass the news on
      m_subscription = m_token->subscribe([gate = m_gate, weak] {
        gate->post_at(Clock::now(), [weak] {
          if (const auto self = weak.lock()) {
            self->interrupt(self->cancelled());
          }
        });
      });
    }
    // An answer lands on the C client's thread (or the callback thread): the step runs here.
    m_run.emplace(*m_core, std::move(m_decide), m_deadline, [gate = m_gate, weak] {
      gate->post_at(Clock::now(), [weak] {
        if (const auto self = weak.lock()) self->pump();
      });
    });
    if (m_token && m_token->cancelled()) m_run->stop(cancelled()); // before it subscribed
    pump();
  }

  [[nodiscard]] Error cancelled() const {
    return Error(Errc::cancelled, "counter " + m_core->path() + ": cancelled");
  }

  void interrupt(const Error& why) {
    if (m_finished) return;
    if (!m_run) return finish(why, {}); // not begun: nothing was sent
    m_run->stop(why);
    pump();
    // After the session's close nothing else can wake us (no post runs): a step still waiting for
    // an answer ends the update here, indeterminate if the answer is a write's.
    if (!m_finished && why.errc() == Errc::session_closed) finish(m_run->abandoned(why), {});
  }

  // Advances the protocol, then finishes it or arms a timer for when it must look again.
  void pump() noexcept {
    if (m_finished || !m_run) return; // (an answer's wake only posts: never inside advance())
    std::optional<Outcome> outcome;
    std::optional<Error> failed;
    try {
      outcome = m_run->advance();
    } catch (const Error& e) {
      failed = e;
    } catch (const std::exception& e) {
      failed = Error(Errc::system_error, "counter " + m_core->path() + ": " + e.what());
    } catch (...) {
      failed = Error(Errc::system_error, "counter " + m_core->path() + ": an unknown exception");
    }
    if (failed) return finish(std::move(failed), {});
    if (outcome) return finish(std::nullopt, *outcome);
    const auto at = m_run->until();
    if (at >= far_future || at == m_armed) return;
    m_armed = at;
    m_gate->post_at(at, [weak = weak_from_this()] {
      if (const auto self = weak.lock()) self->pump();
    });
  }

  void finish(std::optional<Error> error, const Outcome& outcome) noexcept {
    m_finished = true;
    if (m_subscription != 0) m_token->unsubscribe(m_subscription);
    m_close.stop();
    if (Observer* const obs = m_gate->observer()) {
      obs->counter_update(m_core->path(), error ? error->errc() : Errc::ok,
                          error ? (m_run ? m_run->writes() : 0) : outcome.attempts,
                          Clock::now() - m_started);
    }
    const auto keep = std::move(m_keep); // this object lives until the end of this function
    try {
      m_done(std::move(error), outcome);
    } catch (const std::exception& e) {
      m_gate->log(LogLevel::error,
                  "counter " + m_core->path() + ": an update's completion threw: " + e.what());
    } catch (...) {
      m_gate->log(LogLevel::error, "counter " + m_core->path() + ": an update's completion threw");
    }
  }

  std::shared_ptr<CounterCore> m_core; // before m_run, which refers to it
  std::shared_ptr<core::Gate> m_gate;
  Decide m_decide;
  Clock::time_point m_deadline;
  core::Decided<Outcome> m_done;
  Clock::time_point m_started;
  std::optional<CancelToken> m_token;
  std::uint64_t m_subscription = 0;
  core::CloseWatch m_close;
  std::shared_ptr<AsyncUpdate> m_keep;
  std::optional<Run> m_run;
  Clock::time_point m_armed = far_future; ///< the latest timer asked for
  bool m_finished = false;
};

void CounterCore::update_async(Decide decide, Clock::time_point deadline, const CancelToken* cancel,
                               core::Decided<Outcome> done) {
  std::make_shared<AsyncUpdate>(shared_from_this(), std::move(decide), deadline, std::move(done))
      ->start(cancel);
}

} // namespace zk::detail
