// QueueEngine: the process-wide registry, release (local handoff or global), and what the
// session's callback thread reports: our node's watch, session state changes, and loss of a held
// lock.
#include "core/queue_engine.hpp"

#include "core/attachments.hpp"
#include "core/janitor.hpp"
#include "core/retry.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <map>

namespace zk::detail::core {
namespace {

std::string hex_id(std::int64_t id) {
  std::array<char, 24> buf{};
  std::snprintf(buf.data(), buf.size(), "0x%llx", static_cast<unsigned long long>(id));
  return buf.data();
}

} // namespace

const std::string& default_node_data() {
  static const std::string data = [] {
    std::array<char, 256> host{};
    if (::gethostname(host.data(), host.size() - 1) != 0) host[0] = '\0';
    return std::string(host.data()) + ":" + std::to_string(::getpid());
  }();
  return data;
}

std::shared_ptr<QueueEngine> QueueEngine::for_path(const std::shared_ptr<Gate>& gate,
                                                   std::string path, const QueuePolicy& policy,
                                                   const QueueOptions& options) {
  // One engine per policy object (each profile of a policy class is its own queue).
  const std::string key =
      std::to_string(reinterpret_cast<std::uintptr_t>(&policy)) + ' ' + path; // NOLINT

  auto engine = attached<QueueEngine>(*gate, key, [&] {
    auto created = std::make_shared<QueueEngine>(gate, path, policy, options);
    created->listen();
    return created;
  });
  if (engine->m_node_data != options.node_data ||
      engine->m_container_parent != options.container_parent) {
    throw Error(Errc::invalid_argument,
                path + ": node_data and container_parent must be the same for every object on this "
                       "path of one session (they share one node)");
  }
  return engine;
}

std::shared_ptr<QueueEngine> QueueEngine::standalone(const std::shared_ptr<Gate>& gate,
                                                     std::string path,
                                                     std::shared_ptr<const QueuePolicy> policy,
                                                     const QueueOptions& options) {
  auto created = std::make_shared<QueueEngine>(gate, std::move(path), *policy, options);
  created->m_own_policy = std::move(policy);
  created->listen();
  return created;
}

void QueueEngine::listen() {
  m_listener = m_impl->add_listener([weak = weak_from_this()](const SessionEvent& e) {
    if (auto self = weak.lock()) self->on_session_event(e);
  });
}

QueueEngine::QueueEngine(std::shared_ptr<Gate> gate, std::string path, const QueuePolicy& policy,
                         const QueueOptions& options)
    : m_impl(std::move(gate)), m_path(std::move(path)), m_policy(policy),
      m_node_data(options.node_data), m_container_parent(options.container_parent) {}

QueueEngine::~QueueEngine() {
  if (m_listener != 0) m_impl->remove_listener(m_listener);
}

void QueueEngine::release(Hold& h, bool strict, bool handoff, std::uint64_t grant) {
  Observer* const obs = observer();
  std::optional<Clock::duration> held;
  release_hold(h, strict, handoff, grant, obs != nullptr ? &held : nullptr);
  if (held) obs->released(m_policy.name(), m_path, *held);
}

void QueueEngine::release_hold(Hold& h, bool strict, bool handoff, std::uint64_t grant,
                               std::optional<Clock::duration>* held) {
  Lock lk(m_mutex);
  judge(lk);
  if (!lk.owns_lock()) lk.lock();
  if (grant != 0 && !h.has_grant(grant)) return; // lost, or that holder's hold ended already
  if (!h.held()) {
    if (h.lost) {
      const Error e = *h.lost;
      h.lost.reset();
      if (strict)
        throw Error(Errc::lock_lost, "release: the hold was lost before: " + std::string(e.what()));
    } else if (strict) {
      throw Error(Errc::lock_not_held, "unlock " + m_path + ": not held by this DistributedLock");
    }
    return;
  }
  // The grant's holder; else the calling thread's hold, or (released by another thread than the
  // one that took it) any.
  const auto me = std::this_thread::get_id();
  const auto mine = std::find_if(h.holders.begin(), h.holders.end(), [&](const Hold::Holder& x) {
    return grant != 0 ? x.grant == grant : x.thread == me;
  });
  if (mine == h.holders.end() && h.options.holder_thread_only) {
    if (strict) throw Error(Errc::lock_not_held, "unlock " + m_path + ": not held by this thread");
    return;
  }
  h.holders.erase(mine != h.holders.end() ? mine : std::prev(h.holders.end()));
  if (held != nullptr) *held = Clock::now() - h.since;
  if (!h.held()) m_owners.erase(std::find(m_owners.begin(), m_owners.end(), &h));
  if (!m_owners.empty()) return; // other threads of this process still share our node
  const auto held_for =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - m_held_since);
  if (handoff && !m_policy.shared() &&
      hand_over_locally(m_handoffs, held_for, h.options.max_local_handoffs,
                        h.options.max_local_hold, !m_queue.empty())) {
    ++m_handoffs;
    grant_head();
    return;
  }
  const std::string node = full(m_node);
  const std::int32_t version = m_stat ? m_stat->version : any_version;
  const std::int64_t owner = m_session;
  reset_attempt(false); // our own node's watch fires on the delete; the new epoch ignores it
  if (m_impl->on_callback_thread() || !m_queue.empty() || h.options.release_in_background) {
    // No waiting here: the delete goes out now, before the create of the next attempt (a waiting
    // thread of this process starts it at once), and the server applies them in that order. With
    // threads of this process waiting, a contender elsewhere could not count on getting the lock
    // right after this unlock() anyway; without any, unlock() waits so that it can.
    delete_in_background(m_impl, node, version, owner);
  } else {
    m_phase = Phase::busy; // nobody starts the next attempt before our node is gone
    {
      Unlocked unlocked(lk);
      delete_now(m_impl, node, version, owner, Clock::now() + m_impl->operation_timeout());
    }
    m_phase = Phase::idle;
  }
  kick(lk); // a waiter starts the next attempt
}

void QueueEngine::watch_own_node(std::uint64_t epoch) {
  // Our node's data watch reports its deletion (or a change of owner) by anyone while we hold it.
  try {
    m_impl->get_async(
        full(m_node),
        [weak = weak_from_this(), epoch](const WatchEvent& e) {
          if (auto self = weak.lock()) self->on_own_event(epoch, e);
        },
        [weak = weak_from_this(), epoch](Result<NodeData> r) {
          if (auto self = weak.lock()) self->on_own_node(epoch, r);
        });
  } catch (const Error&) { // closed: the closed event reports the loss
  }
}

void QueueEngine::on_own_node(std::uint64_t epoch, Result<NodeData>& r) {
  Lock lk(m_mutex);
  if (epoch != m_epoch || m_phase != Phase::held) return;
  if (r.ok()) {
    if (r.value().stat.ephemeral_owner != m_session)
      lose(lk, Errc::lock_lost, "lock " + m_path + ": our node " + m_node + " changed owner");
    return;
  }
  if (r.error() == Errc::no_node) return node_gone(lk);
  if (transient(r.error())) {
    // Try again later: while disconnected, the session events report what matters.
    m_impl->post_at(Clock::now() + std::chrono::milliseconds(200),
                    [weak = weak_from_this(), epoch] {
                      if (auto self = weak.lock()) {
                        std::lock_guard<std::mutex> l(self->m_mutex);
                        if (epoch == self->m_epoch && self->m_phase == Phase::held)
                          self->watch_own_node(epoch);
                      }
                    });
  }
}

void QueueEngine::on_own_event(std::uint64_t epoch, const WatchEvent& e) {
  Lock lk(m_mutex);
  if (epoch != m_epoch || m_phase != Phase::held) return;
  if (e.type == EventType::deleted) return node_gone(lk);
  watch_own_node(epoch); // changed: watch again, and check the owner
}

void QueueEngine::on_session_event(const SessionEvent& e) {
  react(e);
  Lock lk(m_mutex);
  kick(lk); // e.g. a renewed session: asynchronous waiters queue again
  lk.unlock();
  // On the callback thread. Posts are dropped once the session is closed: the completions of the
  // waiters it failed could not run otherwise.
  deliver();
}

void QueueEngine::react(const SessionEvent& e) {
  Lock lk(m_mutex);
  m_cv.notify_all();
  const bool held = m_phase == Phase::held;
  switch (e.state) {
  case SessionState::suspended:
  case SessionState::reconnected:
    if (held) {
      const bool uncertain = e.state == SessionState::suspended;
      std::vector<std::function<void(bool)>> callbacks;
      for (Hold* owner : m_owners) {
        if (owner->uncertain == uncertain) continue;
        owner->uncertain = uncertain;
        if (owner->options.on_uncertain) callbacks.push_back(owner->options.on_uncertain);
      }
      lk.unlock();
      for (const auto& callback : callbacks)
        callback(uncertain);
    }
    return;
  case SessionState::lost:
    if (held && e.session_id == m_session) {
      lose(lk, Errc::session_lost,
           "lock " + m_path + ": session " + hex_id(e.session_id) + " lost while holding the lock");
    }
    return;
  case SessionState::connected: // a new session: everything of the old one is gone
    if (held && e.session_id != m_session) {
      lose(lk, Errc::session_lost,
           "lock " + m_path + ": session " + hex_id(m_session) + " expired while holding the lock");
    }
    return;
  case SessionState::closed: {
    m_closed = true;
    fail_all(Error(Errc::session_closed, "lock " + m_path + ": the session was closed"));
    if (held) return lose(lk, Errc::session_closed, "lock " + m_path + ": the session was closed");
    if (attempt_active()) reset_attempt(false); // its node went with the session
    return;
  }
  case SessionState::connecting:
    return;
  }
}

void QueueEngine::node_gone(Lock& lk) {
  // The server deletes the nodes of a session it expired: that is the session's loss, whatever
  // news of it comes first. Anything else deleted our node under us.
  if (m_impl->contact_lapsed(m_session)) {
    return lose(lk, Errc::session_lost,
                "lock " + m_path + ": session " + hex_id(m_session) + " expired; its node " +
                    m_node + " is gone");
  }
  lose(lk, Errc::lock_lost, "lock " + m_path + ": our node " + m_node + " was deleted");
}

void QueueEngine::judge(Lock& lk) {
  if (m_phase != Phase::held || m_owners.empty() || !m_impl->contact_lapsed(m_session)) return;
  lose(lk, Errc::session_lost,
       "lock " + m_path + ": no reply from the server within the session timeout (session " +
           hex_id(m_session) + "); the server may have expired it and given the lock to another");
}

void QueueEngine::lose(Lock& lk, Errc why, const std::string& detail) {
  const Error error(why, detail);
  std::vector<std::function<void()>> reports;
  std::vector<Clock::duration> ended; // one per holder, for the observer
  for (Hold* owner : m_owners) {
    ended.insert(ended.end(), owner->holders.size(), Clock::now() - owner->since);
    owner->holders.clear();
    owner->lost = error;
    // Wrapped (pending) under m_mutex: the Hold's destructor waits for it from now on.
    if (owner->options.on_lost) {
      reports.push_back(
          loss_report(m_impl, owner->reports, "lock " + m_path, owner->options.on_lost, error));
    }
  }
  m_owners.clear();
  // If the session is only believed lost, it may come back with our node: delete it then, so that a
  // holder that was told it lost the lock does not keep blocking everyone.
  if (why == Errc::session_lost && !m_closed)
    delete_in_background(m_impl, full(m_node), any_version, m_session);
  reset_attempt(false);
  kick(lk); // local waiters queue again
  lk.unlock();
  for (auto& report : reports) // posted, never run inline
    m_impl->post_at(Clock::now(), std::move(report));
  if (Observer* const obs = observer()) {
    for (const auto held : ended)
      obs->lost(m_policy.name(), m_path, why, held);
  }
}

} // namespace zk::detail::core
