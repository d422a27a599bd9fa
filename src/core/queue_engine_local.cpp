// QueueEngine: the local queue (who waits, who holds, who drives) and the end of an attempt
// (cancel: its watch and node removed before the last waiter returns).
#include "core/queue_engine.hpp"

#include "core/janitor.hpp"

#include <algorithm>

namespace zk::detail::core {

// The janitor may run it after the engine is gone: a standalone engine's policy goes with it.
std::function<bool(std::string_view)> QueueEngine::matching(const std::string& guid) const {
  if (m_own_policy) {
    return [policy = m_own_policy, guid](std::string_view child) {
      return policy->created_with(child, guid);
    };
  }
  return [&policy = m_policy, guid](std::string_view child) { // a policy that lives forever
    return policy.created_with(child, guid);
  };
}

void QueueEngine::leave(Lock& lk, Waiter& me) noexcept {
  unqueue(me);
  after_leaving(lk, false);
}

void QueueEngine::unqueue(Waiter& me) {
  const auto it = std::find(m_queue.begin(), m_queue.end(), &me);
  if (it != m_queue.end()) m_queue.erase(it);
  if (m_driver == &me) m_driver = nullptr;
}

void QueueEngine::after_leaving(Lock& lk, bool background) noexcept {
  if (m_queue.empty() && attempt_active()) cancel(lk, background); // nobody left for our node
  kick(lk);
}

// On a waiting thread, removes the current attempt's watch and node before returning (the
// standard's promise for a failed try_lock), bounded by the operation timeout; what cannot be
// finished goes to the janitor. Elsewhere nothing may block: see cancel_in_background.
void QueueEngine::cancel(Lock& lk, bool background, bool kick_after) noexcept {
  if (background || m_pumping || m_impl->on_callback_thread()) return cancel_in_background();
  m_phase = Phase::busy;
  const auto until = Clock::now() + m_impl->operation_timeout();
  // Wait for replies still in flight: they say whether a node and a watch exist.
  m_cv.wait_until(lk, until, [&] {
    return m_closed || ((!m_create || m_create->ready()) && (!m_pred_get || m_pred_get->ready()) &&
                        (!m_kids_get || m_kids_get->ready()));
  });
  take_created();
  const bool watching =
      m_pred_get && m_pred_get->ready() && m_pred_get->result().ok() && !m_pred_fired;
  const std::string pred = watching ? full(m_pred) : std::string();
  const std::string node = m_node.empty() ? std::string() : full(m_node);
  const std::int32_t version = m_stat ? m_stat->version : any_version;
  const bool unknown = m_node.empty() && m_indeterminate;
  const std::string guid = m_guid;
  const std::int64_t owner = m_session;
  ++m_epoch; // the removed watch and the deleted node must not wake anyone
  if (!m_closed) {
    Unlocked unlocked(lk);
    if (!pred.empty()) {
      try {
        m_impl->remove_watches(pred, WatchKind::data, until);
      } catch (...) { // it stays until the predecessor changes; nothing else depends on it
      }
    }
    // A children watch is not removed: removal is by path, and would take others' watches of the
    // same children with it. Deleting our node below fires it (the new epoch ignores it).
    if (!node.empty()) {
      delete_now(m_impl, node, version, owner, until);
    } else if (unknown) { // a create whose reply was lost: find it by its guid, now if possible
      try {
        const auto kids = m_impl->children(m_path, until);
        if (kids) {
          if (auto own = m_policy.find_own(kids->names, guid))
            delete_now(m_impl, full(*own), any_version, owner, until);
        }
      } catch (...) {
        delete_matching_in_background(m_impl, m_path, matching(guid), owner);
      }
    }
  }
  reset_attempt(false);
  m_driver = nullptr;
  if (kick_after) {
    kick(lk); // asynchronous waiters that came meanwhile start the next attempt
  } else {
    m_cv.notify_all();
  }
}

void QueueEngine::take_created() {
  if (!m_create || !m_create->ready() || !m_create->result().ok() || !m_node.empty()) return;
  m_node = child_name(m_create->result().value().path);
  m_stat = m_create->result().value().stat;
  m_session = m_stat->ephemeral_owner; // authoritative, even if the session changed meanwhile
  m_indeterminate = false;
}

void QueueEngine::flush_warnings(Lock& lk) {
  if (m_warnings.empty()) return;
  std::vector<std::string> warnings;
  warnings.swap(m_warnings);
  Unlocked unlocked(lk); // the log sink is user code
  for (const auto& w : warnings)
    m_impl->log(LogLevel::warn, w);
}

void QueueEngine::start_hold(std::int64_t token) {
  m_phase = Phase::held;
  m_token = token;
  m_held_since = Clock::now();
  m_handoffs = 0;
  m_retry_at = {};
  watch_own_node(m_epoch);
}

// The first waiter, or on a shared queue every waiter, holds our node from now.
void QueueEngine::grant_head() {
  do {
    Waiter* w = m_queue.front();
    m_queue.pop_front();
    w->state = Waiter::State::granted;
    grant(*w->handle, w->thread);
    decided(*w);
  } while (m_policy.shared() && !m_queue.empty());
  m_driver = nullptr;
  m_cv.notify_all();
}

void QueueEngine::grant(Hold& h, std::thread::id thread) {
  if (!h.held()) {
    h.since = Clock::now();
    h.token = m_token;
    h.node = full(m_node);
    // Granted from a reply that came before a suspension: uncertain from the start (the
    // reconnected event makes it certain, as for any hold).
    h.uncertain = m_impl->state() == SessionState::suspended;
    h.lost.reset();
    m_owners.push_back(&h);
  }
  ++h.grants;
  h.holders.push_back({thread, h.grants});
}

bool QueueEngine::holds(std::thread::id thread) const {
  return std::any_of(m_owners.begin(), m_owners.end(),
                     [thread](const Hold* h) { return h->held_by(thread); });
}

bool QueueEngine::held_by(std::thread::id thread) const {
  std::lock_guard<std::mutex> lk(m_mutex);
  return holds(thread);
}

// A thread may join a shared hold while nobody of the process queues behind it and the process
// has not held it past the handoff bounds (then it waits, and the node is released when its last
// holder leaves, so that writers elsewhere get their turn).
bool QueueEngine::joinable(const Hold& h) const {
  if (m_phase != Phase::held || !m_queue.empty()) return false;
  const auto held_for =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - m_held_since);
  return hand_over_locally(m_handoffs, held_for, h.options.max_local_handoffs,
                           h.options.max_local_hold, true);
}

void QueueEngine::fail_all(const Error& e) {
  std::deque<Waiter*> failed;
  failed.swap(m_queue);
  for (Waiter* w : failed)
    fail(*w, e);
  m_driver = nullptr;
  m_cv.notify_all();
}

void QueueEngine::refuse_try_only() {
  for (auto it = m_queue.begin(); it != m_queue.end();) {
    if ((*it)->try_only) {
      Waiter* w = *it;
      w->state = Waiter::State::refused;
      if (m_driver == w) m_driver = nullptr;
      it = m_queue.erase(it);
      decided(*w);
    } else {
      ++it;
    }
  }
  m_cv.notify_all();
}

void QueueEngine::reset_attempt(bool keep_guid) {
  ++m_epoch;
  m_phase = Phase::idle;
  if (!keep_guid) m_guid.clear();
  m_node.clear();
  m_stat.reset();
  m_indeterminate = false;
  m_create.reset();
  m_listing.reset();
  m_list_get.reset();
  m_adopt_get.reset();
  m_adopt_kids.clear();
  m_pred_get.reset();
  m_kids_get.reset();
  m_kids_seen = false;
  m_reconsider = false;
  m_children.clear();
  m_pred.clear();
  m_pred_fired = false;
  m_pred_deleted = false;
}

void QueueEngine::abandon() {
  // A create whose reply was lost may have landed in the new session; find it by its guid.
  if (m_indeterminate && m_node.empty()) {
    delete_matching_in_background(m_impl, m_path, matching(m_guid), m_impl->session_id());
  }
  reset_attempt(false);
}

} // namespace zk::detail::core
