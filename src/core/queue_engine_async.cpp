// QueueEngine, asynchronous side: waiters without a thread, and driving the protocol for them.
// The steps are the same as a waiting thread's (queue_engine.cpp); with no thread driving, they run
// where the news arrives (kick). An asynchronous waiter's deadline and cancellation are timers and
// a token subscription that post to the callback thread; its completion is posted there too.
#include "core/queue_engine.hpp"

#include "core/janitor.hpp"

#include <algorithm>

namespace zk::detail::core {

void QueueEngine::acquire_async(Hold& h, Clock::time_point deadline, const CancelToken* cancel,
                                AsyncDone done) {
  // The token is subscribed before m_mutex is taken (the token runs its wakes under its own lock,
  // and a waiting thread's wake takes m_mutex); this wake only posts, finding the waiter by id.
  const std::uint64_t id = ++m_next_async;
  const std::weak_ptr<QueueEngine> weak = weak_from_this();
  const auto started = Clock::now();
  if (Observer* const obs = observer()) obs->acquire_started(m_policy.name(), m_path);
  std::optional<CancelToken> token;
  std::uint64_t subscription = 0;
  if (cancel != nullptr) {
    token = *cancel;
    subscription = token->subscribe([gate = m_impl, weak, id] {
      gate->post_at(Clock::now(), [weak, id] {
        if (const auto self = weak.lock()) self->expire(id, Errc::cancelled);
      });
    });
  }
  Lock lk(m_mutex);
  if (m_policy.shared()) { // before the waiter exists: judging may release m_mutex (lose())
    judge(lk);             // a hold that cannot be trusted any more is not joined
    if (!lk.owns_lock()) lk.lock();
  }
  if (m_closed) {
    lk.unlock();
    if (token) token->unsubscribe(subscription);
    if (Observer* const obs = observer())
      obs->acquire_failed(m_policy.name(), m_path, Errc::session_closed, Clock::now() - started);
    throw Error(Errc::session_closed, "lock " + m_path + ": the session is closed");
  }
  auto owned = std::make_unique<AsyncWaiter>();
  AsyncWaiter& a = *owned;
  a.waiter.handle = &h;
  a.waiter.async = id;
  a.started = started;
  a.done = std::move(done);
  a.cancel = std::move(token);
  a.subscription = subscription;
  m_async.emplace(id, std::move(owned));
  if (m_policy.shared() && joinable(h)) {
    ++m_handoffs;
    a.waiter.state = Waiter::State::granted;
    grant(h, a.waiter.thread);
    decided(a.waiter);
    return;
  }
  m_queue.push_back(&a.waiter);
  if (a.cancel && a.cancel->cancelled()) { // its post may have looked for the waiter too early
    return withdraw(lk, a.waiter,
                    Error(Errc::cancelled, "lock " + m_path + ": cancelled while waiting"));
  }
  if (deadline < far_future) {
    m_impl->post_at(deadline, [weak, id] {
      if (const auto self = weak.lock()) self->expire(id, Errc::deadline_exceeded);
    });
  }
  kick(lk);
}

void QueueEngine::expire(std::uint64_t id, Errc why) { // a timer's, on the callback thread
  {
    Lock lk(m_mutex);
    const auto it = m_async.find(id);
    if (it == m_async.end()) return; // decided already
    withdraw(lk, it->second->waiter,
             Error(why, why == Errc::cancelled
                            ? "lock " + m_path + ": cancelled while waiting"
                            : "lock " + m_path + ": not acquired by the deadline"));
  }
  deliver();
}

// The removal of the attempt's node and watch is sent before the completion can run (or, for a
// create still unanswered, the janitor's listing that finds it): never waited for, also on a
// caller's thread.
void QueueEngine::withdraw(Lock& lk, Waiter& w, const Error& e) {
  unqueue(w);
  fail(w, e); // w is gone from here on
  after_leaving(lk, true);
}

void QueueEngine::abandon_async(const Hold& h) {
  Lock lk(m_mutex);
  const Error gone(Errc::cancelled, "lock " + m_path + ": the lock object was destroyed");
  for (;;) { // looked up again each time: a withdrawal may pump, which may release m_mutex
    const auto it = std::find_if(m_async.begin(), m_async.end(), [&](const auto& entry) {
      return entry.second->waiter.handle == &h;
    });
    if (it == m_async.end()) break;
    withdraw(lk, it->second->waiter, gone);
  }
  // Granted, but not delivered yet: the completion must not make a guard of an object that is
  // gone. The hold itself is ended by the object's end (end_hold).
  for (auto& f : m_finished) {
    if (f.hold == &h && !f.error) f.error = gone;
  }
}

void QueueEngine::release_grant(Hold& h, std::uint64_t grant) {
  release(h, false, true, grant);
}

// Every waiter's decision comes here (or to a waiting thread's loop): an asynchronous one leaves
// m_async, and its completion is posted. Called with the waiter out of m_queue.
void QueueEngine::decided(Waiter& w) {
  if (w.async == 0) return;
  const auto it = m_async.find(w.async);
  if (it == m_async.end()) return;
  AsyncWaiter& a = *it->second;
  Finished f{std::move(a.done),   std::nullopt,   0,         w.handle,
             std::move(a.cancel), a.subscription, a.started, false};
  switch (w.state) {
  case Waiter::State::granted:
    f.grant = w.handle->grants;
    f.granted = true;
    break;
  case Waiter::State::refused:
    f.error = Error(Errc::deadline_exceeded, "lock " + m_path + ": not acquired by the deadline");
    break;
  case Waiter::State::failed:
    f.error = w.error;
    break;
  case Waiter::State::pending:
    return;
  }
  m_async.erase(it);
  m_finished.push_back(std::move(f));
  if (!m_deliver_posted) {
    m_deliver_posted = true;
    m_impl->post_at(Clock::now(), [self = shared_from_this()] { self->deliver(); });
  }
}

void QueueEngine::deliver() {
  std::vector<Finished> finished;
  {
    std::lock_guard<std::mutex> lk(m_mutex);
    finished.swap(m_finished);
    m_deliver_posted = false;
  }
  Observer* const obs = observer();
  for (auto& f : finished) {
    if (f.cancel) f.cancel->unsubscribe(f.subscription); // its wake only posts
    if (obs != nullptr && f.granted) { // a hold: its release (or loss) is reported too
      obs->acquired(m_policy.name(), m_path, Clock::now() - f.started);
    } else if (obs != nullptr) {
      obs->acquire_failed(m_policy.name(), m_path, f.error->errc(), Clock::now() - f.started);
    }
    try {
      f.done(std::move(f.error), f.grant);
    } catch (const std::exception& e) { // the others' completions still run
      m_impl->log(LogLevel::error,
                  "lock " + m_path + ": a completion threw (ignored): " + std::string(e.what()));
    } catch (...) {
      m_impl->log(LogLevel::error, "lock " + m_path + ": a completion threw (ignored)");
    }
  }
}

void QueueEngine::fail(Waiter& w, const Error& e) {
  w.state = Waiter::State::failed;
  w.error = e;
  decided(w);
}

bool QueueEngine::async_pending() const {
  return std::any_of(m_queue.begin(), m_queue.end(), [](const Waiter* w) { return w->async != 0; });
}

void QueueEngine::kick(Lock& lk) {
  m_cv.notify_all();
  if (m_driver == nullptr) pump(lk);
}

// Drives for the asynchronous waiters while no thread does, until the next step needs news. The
// retry time is a timer (news of its own).
void QueueEngine::pump(Lock& lk) {
  if (m_pumping) return; // a step below kicked
  m_pumping = true;
  while (m_driver == nullptr && !m_closed && async_pending() &&
         (m_phase == Phase::idle || attempt_active())) {
    if (step(lk)) break;
  }
  m_pumping = false;
  const auto now = Clock::now();
  if (m_retry_at > now && m_retry_timer != m_retry_at && async_pending()) {
    m_retry_timer = m_retry_at;
    m_impl->post_at(m_retry_at, [weak = weak_from_this()] {
      if (const auto self = weak.lock()) {
        {
          Lock l(self->m_mutex);
          self->kick(l);
        }
        self->deliver();
      }
    });
  }
}

// Nothing is waited for: the removals go out now, behind every request of the attempt on the same
// connection, so the server applies them after it; the janitor finishes what fails.
void QueueEngine::cancel_in_background() noexcept {
  take_created();
  const bool watching =
      m_pred_get && !m_pred_fired && (!m_pred_get->ready() || m_pred_get->result().ok());
  if (watching && !m_closed) {
    try {
      m_impl->remove_watches_async(full(m_pred), WatchKind::data, [](const Result<std::size_t>&) {
        // It stays until the predecessor changes otherwise; nothing depends on it.
      });
    } catch (...) {
    }
  }
  if (!m_closed) {
    if (!m_node.empty()) {
      delete_in_background(m_impl, full(m_node), m_stat ? m_stat->version : any_version, m_session);
    } else if (m_indeterminate) { // a create in flight, or whose reply was lost
      delete_matching_in_background(m_impl, m_path, matching(m_guid), m_session);
    }
  }
  reset_attempt(false);
  m_driver = nullptr;
  m_cv.notify_all();
}

} // namespace zk::detail::core
