#include "recipes/counter/turns.hpp"

#include "core/hold_access.hpp"
#include "recipes/lock/lock_protocol.hpp"

#include <algorithm>
#include <utility>

namespace zk::detail::counter {

Turns::Turns(std::shared_ptr<core::Gate> gate, std::string path, const ContentionPolicy& policy)
    : m_gate(std::move(gate)), m_policy(policy) {
  core::QueueOptions o;
  // The counter's node exists whenever its writers contend: never make it a container (the server
  // would delete it, value and all, once its last child is gone).
  o.container_parent = false;
  o.max_local_handoffs = 0; // a turn ends at the back of the queue, behind every other process
  o.on_lost = [this](const Error& /*why*/) { lost(); }; // reports end in ~Turns (end_hold)
  m_hold.options = o;
  m_hold.contender = core::QueueEngine::for_path(
      m_gate, std::move(path), lock::ExclusivePolicy::of(lock::counter_turn_profile()), o);
}

Turns::~Turns() {
  try {
    m_hold.contender->abandon_async(m_hold);
  } catch (...) { // only an allocation can fail there; a destructor must not throw
  }
  core::end_hold(m_hold);
}

Turns::Answer Turns::ask(std::uint64_t& ticket, std::function<void()> wake) {
  std::unique_lock<std::mutex> lk(m_mutex);
  const auto mine = ticket != 0 ? m_waiters.find(ticket) : m_waiters.end();
  if (m_state == State::held) {
    if (mine != m_waiters.end()) m_waiters.erase(mine);
    ticket = 0;
    return Answer::held;
  }
  if (mine != m_waiters.end() && m_state == State::idle && m_last_failed &&
      mine->second.generation != m_ended) {
    m_waiters.erase(mine); // the wait it was in failed; the next update may try again
    ticket = 0;
    return Answer::skip;
  }
  if (mine == m_waiters.end()) {
    ticket = ++m_next_ticket;
    m_waiters.emplace(ticket, Waiter{std::move(wake), m_ended});
  }
  if (m_state != State::idle) return Answer::wait; // a wait under way
  const auto now = Clock::now();
  if (now < m_no_turns_until) {
    m_waiters.erase(ticket);
    ticket = 0;
    return Answer::skip;
  }
  m_state = State::acquiring;
  // Bounded by turn_wait only: each update waits no longer than its own deadline (Run::queued),
  // and one impatient caller must not make the wait fail for the others.
  try {
    m_hold.contender->acquire_async(
        m_hold, now + m_policy.turn_wait, nullptr,
        [weak = weak_from_this()](const std::optional<Error>& e, std::uint64_t grant) {
          if (const auto self = weak.lock()) self->acquired(e, grant);
        });
  } catch (...) { // a closed session (the update's next request says so), an allocation
    m_state = State::idle;
    m_waiters.erase(ticket);
    ticket = 0;
    return Answer::skip;
  }
  return Answer::wait;
}

void Turns::forget(std::uint64_t ticket) {
  const std::lock_guard<std::mutex> lk(m_mutex);
  m_waiters.erase(ticket);
}

int Turns::own_nodes() const {
  const std::lock_guard<std::mutex> lk(m_mutex);
  return m_state == State::idle ? 0 : 1;
}

void Turns::wrote(std::chrono::nanoseconds latency) {
  const auto ns = std::max<std::int64_t>(latency.count(), 1);
  auto seen = m_turn_fastest_ns.load(std::memory_order_relaxed);
  while ((seen == 0 || ns < seen) &&
         !m_turn_fastest_ns.compare_exchange_weak(seen, ns, std::memory_order_relaxed)) {
  }
}

void Turns::acquired(const std::optional<Error>& error, std::uint64_t grant) {
  std::unique_lock<std::mutex> lk(m_mutex);
  ++m_ended;
  m_last_failed = error.has_value();
  m_state = error ? State::idle : State::held;
  // No turn within turn_wait: its holder is stuck (crashed, paused, cut off) until its session
  // expires. Other failures (a closed or lost session) end the updates by themselves.
  if (error && error->errc() == Errc::deadline_exceeded)
    m_no_turns_until = Clock::now() + m_policy.linger;
  if (!error) {
    m_grant = grant;
    // The fastest write of our last turn measures the link, not a stall (one slow fsync must not
    // lengthen the turn past the others' turn_wait).
    if (const auto fastest = m_turn_fastest_ns.exchange(0); fastest > 0) m_link_ns = fastest;
    const auto length = std::max(m_policy.turn, 8 * std::chrono::nanoseconds(m_link_ns));
    try {
      m_gate->post_at(Clock::now() + length, [weak = weak_from_this(), grant] {
        if (const auto self = weak.lock()) self->expire(grant);
      });
    } catch (...) { // no timer to end it (an allocation): the turn ends now
      release(lk);
    }
  }
  const auto wakes = take_wakes();
  lk.unlock();
  for (const auto& w : wakes)
    w();
}

// The turn ends at once, even while an update writes in it: a write already out goes before our
// node's delete, on the same connection, so the next holder's read comes after it is applied. (A
// write sent after the delete is an ordinary compare-and-set: at worst refused.)
void Turns::expire(std::uint64_t grant) {
  std::unique_lock<std::mutex> lk(m_mutex);
  if (m_state != State::held || m_grant != grant) return;
  release(lk);
  const auto wakes = take_wakes();
  lk.unlock();
  for (const auto& w : wakes)
    w();
}

// The engine has ended the hold (its node or session is gone): nothing to release.
void Turns::lost() {
  std::unique_lock<std::mutex> lk(m_mutex);
  if (m_state != State::held) return;
  m_state = State::idle;
  const auto wakes = take_wakes();
  lk.unlock();
  for (const auto& w : wakes)
    w();
}

void Turns::release(std::unique_lock<std::mutex>& /*lk*/) noexcept {
  m_state = State::idle;
  try {
    m_hold.contender->release_grant(m_hold, m_grant); // on the callback thread: in the background
  } catch (...) {                                     // a release reports, it does not throw
  }
}

Turns::Wakes Turns::take_wakes() {
  Wakes out;
  out.reserve(m_waiters.size());
  for (const auto& [ticket, w] : m_waiters)
    out.push_back(w.wake);
  return out;
}

} // namespace zk::detail::counter
