// QueueEngine, acquisition side: the wait loop and the ZooKeeper protocol driven by a waiting
// thread. The local queue and cancellation are in contender_queue.cpp; release, loss and session
// events in contender_events.cpp.
#include "core/queue_engine.hpp"

#include "core/cancel_subscription.hpp"
#include "core/janitor.hpp"
#include "core/retry.hpp"

#include <algorithm>
#include <atomic>

namespace zk::detail::core {
namespace {

// Off unless a test turns it on: see break_protected_create_for_testing.
std::atomic<bool> g_protected_create_broken{false};

} // namespace

void break_protected_create_for_testing(bool broken) noexcept {
  g_protected_create_broken.store(broken);
}

bool QueueEngine::acquire(Hold& h, Clock::time_point deadline, bool try_only,
                          const CancelToken* cancel) {
  Observer* const obs = observer();
  if (obs == nullptr) return acquire_waiting(h, deadline, try_only, cancel);
  obs->acquire_started(m_policy.name(), m_path);
  const auto start = Clock::now();
  try {
    const bool got = acquire_waiting(h, deadline, try_only, cancel);
    if (got) {
      obs->acquired(m_policy.name(), m_path, Clock::now() - start);
    } else {
      obs->acquire_failed(m_policy.name(), m_path, Errc::deadline_exceeded, Clock::now() - start);
    }
    return got;
  } catch (const Error& e) {
    obs->acquire_failed(m_policy.name(), m_path, e.errc(), Clock::now() - start);
    throw;
  }
}

bool QueueEngine::acquire_waiting(Hold& h, Clock::time_point deadline, bool try_only,
                                  const CancelToken* cancel) {
  m_impl->check_blocking_call(try_only ? "DistributedLock::try_lock" : "DistributedLock::lock");
  // Subscribed before m_mutex is taken and left after it is released (see CancelSubscription).
  const CancelSubscription subscription(cancel, [weak = weak_from_this()] {
    if (const auto self = weak.lock()) {
      std::lock_guard<std::mutex> l(self->m_mutex);
      self->m_cv.notify_all();
    }
  });
  Lock lk(m_mutex);
  const auto self = std::this_thread::get_id();
  if (holds(self))
    throw Error(Errc::would_deadlock, "lock " + m_path + ": this thread already holds it");
  if (m_closed) throw Error(Errc::session_closed, "lock " + m_path + ": the session is closed");
  if (m_policy.shared()) {
    judge(lk); // a hold that cannot be trusted any more is not joined
    if (!lk.owns_lock()) lk.lock();
    if (joinable(h)) {
      ++m_handoffs;
      grant(h, self);
      return true;
    }
  }
  if (try_only && (!m_owners.empty() || m_phase != Phase::idle || !m_queue.empty())) return false;

  Waiter me{&h, self, try_only, Waiter::State::pending, std::nullopt};
  m_queue.push_back(&me);
  try {
    for (;;) {
      switch (me.state) {
      case Waiter::State::granted:
        return true;
      case Waiter::State::refused:
        return false;
      case Waiter::State::failed:
        throw *me.error;
      case Waiter::State::pending:
        break;
      }
      if (cancel != nullptr && cancel->cancelled()) {
        leave(lk, me);
        throw Error(Errc::cancelled, "lock " + m_path + ": cancelled while waiting");
      }
      if (Clock::now() >= deadline) {
        leave(lk, me);
        return false;
      }
      if (m_driver == nullptr && !m_closed && (m_phase == Phase::idle || attempt_active()))
        m_driver = &me; // nobody is driving: this thread takes over (the node, if any, stays)
      if (m_driver != &me) {
        m_cv.wait_until(lk, deadline);
      } else if (step(lk)) {
        // Nothing to do before news arrives (every reply and event notifies m_cv), or the retry.
        m_cv.wait_until(lk, Clock::now() < m_retry_at ? std::min(deadline, m_retry_at) : deadline);
      }
    }
  } catch (...) {
    if (me.state == Waiter::State::pending) leave(lk, me);
    throw;
  }
}

void QueueEngine::hold_created(Hold& h, const std::string& guid, const std::string& child,
                               const std::string& guard, std::int64_t token,
                               Clock::time_point deadline) {
  const auto self = std::this_thread::get_id();
  Lock lk(m_mutex);
  if (holds(self))
    throw Error(Errc::would_deadlock, "lock " + m_path + ": this thread already holds it");
  if (m_closed) throw Error(Errc::session_closed, "lock " + m_path + ": the session is closed");
  m_cv.wait_until(lk, deadline, [&] { return m_phase != Phase::busy; });
  if (m_phase == Phase::busy)
    throw Error(Errc::deadline_exceeded, "lock " + m_path + ": busy until the deadline");
  // The threads waiting in the attempt will share the new node; nobody drives meanwhile.
  if (attempt_active()) cancel(lk, false, false);
  m_phase = Phase::busy;
  const std::string node = full(child);
  const std::int64_t session = m_impl->session_id();
  const std::string data = m_node_data.empty() ? default_node_data() : m_node_data;
  bool in_doubt = false;
  std::optional<Stat> stat;
  for (int retry = 1; !stat; ++retry) {
    try {
      Unlocked unlocked(lk);
      const auto until = op_deadline(deadline);
      const bool sent = !in_doubt;
      if (sent) {
        const MultiResult r =
            m_impl->multi({Op::check(guard), Op::create(node, data, CreateMode::ephemeral)}, until);
        if (!r.ok() && r.failed_op() == 0) {
          std::string why = "lock " + m_path + ": ";
          why += guard;
          why += " is gone; " + node;
          why += " was not created";
          throw Error(Errc::lock_lost, why);
        }
        r.throw_if_failed();
      }
      in_doubt = true; // until its Stat is read
      const auto got = m_impl->get(node, until);
      if (!got) {
        if (sent) throw Error(Errc::lock_lost, "lock " + m_path + ": " + node + " was deleted");
        in_doubt = false; // the create whose reply was lost did not land: send it again
        continue;
      }
      if (got->stat.ephemeral_owner != session) {
        in_doubt = false; // another session's node: never ours to delete
        throw Error(Errc::session_lost, "lock " + m_path + ": " + node + " is not our session's");
      }
      stat = got->stat;
    } catch (const Error& e) {
      const ErrorClass kind = classify(e.errc());
      in_doubt = in_doubt || kind == ErrorClass::in_doubt;
      const auto again = Clock::now() + recovery_delay(retry);
      // Only the connection's trouble is worth waiting out; a new session ends our write hold.
      if ((kind != ErrorClass::retry && kind != ErrorClass::in_doubt) || again >= deadline ||
          m_closed || m_impl->session_id() != session) {
        if (in_doubt) delete_in_background(m_impl, node, any_version, session);
        m_phase = Phase::idle; // the waiters queue as before
        kick(lk);
        throw;
      }
      m_cv.wait_until(lk, again);
    }
  }
  if (m_closed || m_impl->session_id() != session || m_impl->state() == SessionState::lost) {
    // Closed or expired while we created it: nothing may be held on it.
    if (!m_closed) delete_in_background(m_impl, node, any_version, session);
    m_phase = Phase::idle;
    kick(lk);
    throw Error(m_closed ? Errc::session_closed : Errc::session_lost,
                "lock " + m_path + ": the session ended while " + node + " was created");
  }
  reset_attempt(false);
  m_guid = guid;
  m_node = child;
  m_stat = stat;
  m_session = stat->ephemeral_owner;
  start_hold(token);
  grant(h, self);
  if (!m_queue.empty() && m_policy.shared()) grant_head();
  m_cv.notify_all();
  lk.unlock();
  if (Observer* const obs = observer()) { // a hold that needed no wait
    obs->acquire_started(m_policy.name(), m_path);
    obs->acquired(m_policy.name(), m_path, Clock::duration::zero());
  }
}

bool QueueEngine::attempt_active() const {
  return m_phase == Phase::creating || m_phase == Phase::listing || m_phase == Phase::watching;
}

bool QueueEngine::session_changed() const {
  return (!m_node.empty() || m_indeterminate) && m_session != m_impl->session_id();
}

Clock::time_point QueueEngine::op_deadline(Clock::time_point deadline) const {
  return std::min(deadline, Clock::now() + m_impl->operation_timeout());
}

// On the callback thread (a Completion's callback): asynchronous waiters decided by the step run
// their completions right here, once m_mutex is released, saving the posted hop.
std::function<void()> QueueEngine::wake() {
  return [weak = weak_from_this()] {
    if (const auto self = weak.lock()) {
      {
        Lock lk(self->m_mutex);
        self->kick(lk);
      }
      self->deliver();
    }
  };
}

// One step of the protocol, for whichever thread drives. True: nothing to do before news arrives.
bool QueueEngine::step(Lock& lk) {
  if (m_impl->state() == SessionState::lost && !m_impl->renews_after_expiry()) {
    // No new session will come: waiting cannot succeed.
    fail_all(Error(Errc::session_lost, "lock " + m_path + ": the session is lost"));
    if (attempt_active()) cancel(lk);
    return false;
  }
  if (session_changed()) abandon(); // our node died with the session that created it
  if (Clock::now() < m_retry_at) return true;
  bool waiting = false;
  try {
    switch (m_phase) {
    case Phase::idle:
      start();
      break;
    case Phase::creating:
      waiting = await_create(lk);
      break;
    case Phase::listing:
      waiting = list(lk);
      break;
    case Phase::watching:
      waiting = await_predecessor(lk);
      break;
    case Phase::held:
    case Phase::busy:
      waiting = true;
      break;
    }
  } catch (const Error& e) {
    handle_error(lk, e);
  }
  flush_warnings(lk);
  return waiting;
}

void QueueEngine::handle_error(Lock& lk, const Error& e) {
  if (worth_retrying(e.errc())) return backoff();
  // Anything else will not get better by retrying (no_auth, closed session…): tell every waiter,
  // and remove our node, since nobody will use it.
  fail_all(e);
  if (attempt_active()) cancel(lk);
}

void QueueEngine::backoff() {
  m_retry_at = Clock::now() + recovery_delay(++m_retries);
}

// Create and list in one round trip: both requests go out back to back on the session's
// connection, which answers them in order, so the listing already contains our node.
void QueueEngine::start() {
  reset_attempt(true);
  if (m_guid.empty()) m_guid = m_policy.make_guid();
  m_session = m_impl->session_id();
  m_create = Completion<Created>::make();
  m_listing = Completion<Children>::make();
  m_impl->create_async(
      full(m_policy.node_prefix(m_guid)), m_node_data.empty() ? default_node_data() : m_node_data,
      m_policy.sequential() ? CreateMode::ephemeral_sequential : CreateMode::ephemeral,
      m_create->callback(wake()));
  m_indeterminate = true; // until the reply says otherwise
  m_phase = Phase::creating;
  m_impl->children_async(m_path, {}, m_listing->callback(wake()));
}

bool QueueEngine::await_create(Lock& lk) {
  if (!m_create->ready() || !m_listing->ready()) return true;
  auto& created = m_create->result();
  if (created.ok()) {
    take_created();
    m_retries = 0;
    auto& listing = m_listing->result();
    if (listing.ok()) {
      apply(lk, listing.value().names);
    } else {
      m_phase = Phase::listing;
    }
    return false;
  }
  const Error e = created.failure();
  if (e.errc() == Errc::no_node) { // the path does not exist (yet, or any more: containers go)
    m_indeterminate = false;
    m_phase = Phase::idle;
    ensure_parent();
    return false;
  }
  if (e.errc() == Errc::node_exists && !m_policy.sequential()) {
    m_phase = Phase::listing; // a name with our guid: a create of ours whose reply was lost landed
    return false;
  }
  switch (classify(e.errc())) {
  case ErrorClass::retry:
  case ErrorClass::in_doubt:                // the create may have been applied
    if (g_protected_create_broken.load()) { // the negative control: create again, blind
      m_indeterminate = false;
      reset_attempt(false);
      backoff();
      return false;
    }
    m_phase = Phase::listing; // find our guid among the children once connected again
    backoff();
    return false;
  case ErrorClass::lost: // the node cannot outlive the session; a new one is on its way
    m_indeterminate = false;
    m_phase = Phase::idle;
    backoff();
    return false;
  case ErrorClass::conflict:
  case ErrorClass::fatal:
    break;
  }
  m_indeterminate = false;
  m_phase = Phase::idle;
  throw e;
}

// The path is missing: its create is sent right away (once it is known that an ancestor is
// missing too, theirs first, top down), ahead of the next attempt's create, which the server
// applies after them: no waiting. Their outcome is looked at if that create fails with no_node.
void QueueEngine::ensure_parent() {
  const auto sent = std::move(m_parents);
  m_parents.clear();
  bool ancestors = false;
  if (!sent.empty() && sent.back()->ready()) {
    auto& r = sent.back()->result(); // the path's own create, answered before our node's
    if (m_container_parent && !m_parent_persistent &&
        (r.error() == Errc::unimplemented || r.error() == Errc::bad_arguments)) {
      m_parent_persistent = true; // a server without container nodes
    } else if (r.error() == Errc::no_node && sent.size() == 1) {
      ancestors = true;                      // an ancestor is missing too
    } else if (r.error() == Errc::no_node) { // one could not be created: say why
      for (const auto& ancestor : sent) {
        auto& a = ancestor->result();
        if (ancestor->ready() && !a.ok() && a.error() != Errc::node_exists) throw a.failure();
      }
      backoff(); // created, yet gone again
    } else if (!r.ok() && r.error() != Errc::node_exists) {
      throw r.failure();
    } else {
      backoff(); // created (or there), yet gone again: a container reaped, or deleted by someone
    }
  }
  if (ancestors) { // top down, each create of an existing one answered node_exists
    for (std::size_t slash = m_path.find('/', 1); slash != std::string::npos;
         slash = m_path.find('/', slash + 1)) {
      m_parents.push_back(Completion<Created>::make());
      m_impl->create_async(m_path.substr(0, slash), "", CreateMode::persistent,
                           m_parents.back()->callback());
    }
  }
  const bool container = m_container_parent && !m_parent_persistent;
  m_parents.push_back(Completion<Created>::make());
  m_impl->create_async(m_path, "", container ? CreateMode::container : CreateMode::persistent,
                       m_parents.back()->callback());
}

bool QueueEngine::list(Lock& lk) {
  if (m_adopt_get) { // an adopted node: it is ours only if our current session owns it
    if (!m_adopt_get->ready()) return true;
    auto got = std::move(m_adopt_get->result());
    m_adopt_get.reset();
    if (!got.ok() && got.error() != Errc::no_node) throw got.failure();
    if (!got.ok() || got.value().stat.ephemeral_owner != m_impl->session_id()) {
      reset_attempt(false);
      return false;
    }
    m_stat = got.value().stat;
    m_session = m_stat->ephemeral_owner;
    apply(lk, std::move(m_adopt_kids));
    return false;
  }
  if (!m_list_get) {
    m_list_get = Completion<Children>::make();
    m_impl->children_async(m_path, {}, m_list_get->callback(wake()));
    return true;
  }
  if (!m_list_get->ready()) return true;
  auto kids = std::move(m_list_get->result());
  m_list_get.reset();
  if (!kids.ok() && kids.error() != Errc::no_node) throw kids.failure();
  m_retries = 0;
  if (!kids.ok()) { // no lock path: our node cannot exist
    m_indeterminate = false;
    reset_attempt(true);
    return false;
  }
  if (m_node.empty()) { // recovering from a create whose reply was lost
    auto own = m_policy.find_own(kids.value().names, m_guid);
    m_indeterminate = false;
    if (!own) {
      reset_attempt(true); // not created: create again, with the same guid (see decide's stale_own)
      return false;
    }
    m_node = *own;
  }
  if (!m_stat) {
    m_adopt_kids = std::move(kids.value().names);
    m_adopt_get = Completion<NodeData>::make();
    m_impl->get_async(full(m_node), {}, m_adopt_get->callback(wake()));
    return true;
  }
  apply(lk, std::move(kids.value().names));
  return false;
}

void QueueEngine::apply(Lock& lk, std::vector<std::string> children) {
  const auto d = m_policy.decide(children, m_node, m_guid);
  for (const auto& stale : d.stale_own) {
    delete_in_background(m_impl, full(stale), any_version, m_session);
    children.erase(std::remove(children.begin(), children.end(), stale), children.end());
  }
  m_children = std::move(children);
  switch (d.kind) {
  case QueueDecision::Kind::missing: // deleted by someone, or gone with an expired session
    if (!session_changed()) {
      m_warnings.push_back("lock " + m_path + ": our node " + m_node +
                           " disappeared while waiting; queueing again");
    }
    reset_attempt(false);
    return;
  case QueueDecision::Kind::foreign: {
    std::string names;
    for (const auto& name : d.unrecognised)
      names += (names.empty() ? "\"" : ", \"") + name + "\"";
    throw Error(Errc::foreign_node, std::string(m_policy.name()) + " " + m_path + ": " + names +
                                        " is not of this recipe's node form; recipes of other "
                                        "forms never share a path with it");
  }
  case QueueDecision::Kind::acquired:
    // Declared held only if the node is our current session's, and that session is not lost.
    if (m_stat->ephemeral_owner != m_impl->session_id()) {
      reset_attempt(false);
      return;
    }
    if (m_impl->state() == SessionState::lost || m_impl->contact_lapsed(m_session)) {
      m_phase = Phase::listing; // it would be judged lost at its first answer: not granted
      return backoff();
    }
    start_hold(m_stat->czxid);
    grant_head();
    return;
  case QueueDecision::Kind::wait:
    refuse_try_only();
    if (m_queue.empty()) return cancel(lk);
    if (d.blocked) {
      for (const auto& name : d.unrecognised) {
        if (m_warned.insert(name).second) {
          m_warnings.push_back("lock " + m_path + ": unrecognised child \"" + name +
                               "\" blocks the lock until it is deleted");
        }
      }
    }
    m_pred_fired = false;
    m_pred_deleted = false;
    m_phase = Phase::watching;
    if (d.watch_children) return watch_children();
    m_pred = d.watch;
    m_pred_get = Completion<NodeData>::make();
    try {
      const auto epoch = m_epoch;
      m_impl->get_async(
          full(m_pred),
          [weak = weak_from_this(), epoch](const WatchEvent& e) {
            if (auto self = weak.lock())
              self->on_predecessor_event(epoch, e.type == EventType::deleted);
          },
          m_pred_get->callback(wake()));
    } catch (...) {
      m_pred_get.reset(); // never sent: nothing to wait for or remove
      m_phase = Phase::listing;
      throw;
    }
    return;
  }
}

// A children watch set with a listing: its answer is decided on first (a place may have come free
// since the listing that said wait), then the watch's event asks for the next listing.
void QueueEngine::watch_children() {
  m_pred.clear();
  m_kids_seen = false;
  m_reconsider = false;
  m_pred_fired = false;
  m_kids_get = Completion<Children>::make();
  try {
    const auto epoch = m_epoch;
    m_impl->children_async(
        m_path,
        [weak = weak_from_this(), epoch](const WatchEvent& /*e*/) {
          if (auto self = weak.lock()) self->on_predecessor_event(epoch, false);
        },
        m_kids_get->callback(wake()));
  } catch (...) {
    m_kids_get.reset(); // never sent: nothing to wait for or remove
    m_phase = Phase::listing;
    throw;
  }
}

bool QueueEngine::await_children(Lock& lk) {
  if (!m_kids_get->ready()) return true;
  auto& got = m_kids_get->result();
  if (got.ok() && m_kids_seen && !m_pred_fired && !m_reconsider) return true; // the watch is set
  if (!got.ok()) {
    const Error e = got.failure();
    m_kids_get.reset();
    m_phase = Phase::listing; // a missing path means our node is gone: the listing says so
    if (e.errc() == Errc::no_node) return false;
    if (worth_retrying(e.errc())) {
      backoff();
      return false;
    }
    throw e;
  }
  if (m_pred_fired) { // the children changed: list (and watch) again
    watch_children();
    return false;
  }
  m_kids_seen = true;
  m_reconsider = false;
  const auto d = m_policy.decide(got.value().names, m_node, m_guid);
  if (d.kind == QueueDecision::Kind::wait && d.watch_children && d.stale_own.empty()) {
    refuse_try_only();
    if (m_queue.empty()) cancel(lk);
    return false; // the watch is set: wait for it
  }
  // Held, missing or foreign. A held lease leaves the watch set: it fires at the next change of the
  // children, at the latest when the lease itself is deleted, and is ignored (not watching).
  auto names = got.value().names;
  m_kids_get.reset();
  apply(lk, std::move(names));
  return false;
}

void QueueEngine::reconsider() {
  Lock lk(m_mutex);
  // Any decision still to come reads the new inputs; only a wait on the children decides again
  // (no policy waiting on one node has inputs beside the children).
  if (m_phase != Phase::watching || !m_kids_get) return;
  m_reconsider = true;
  kick(lk);
}

bool QueueEngine::await_predecessor(Lock& lk) {
  if (m_kids_get) return await_children(lk);
  if (!m_pred_get->ready()) return true;
  auto& got = m_pred_get->result();
  if (got.ok()) {
    if (!m_pred_fired) return true; // watching
    if (m_pred_deleted) {
      next_predecessor(lk);
    } else {
      m_phase = Phase::listing; // its data changed (not a lock protocol step): look again
    }
    return false;
  }
  const Error e = got.failure();
  if (e.errc() == Errc::no_node) { // gone before we could watch it
    next_predecessor(lk);
    return false;
  }
  m_phase = Phase::listing;
  if (worth_retrying(e.errc())) {
    backoff();
    return false;
  }
  throw e;
}

// The predecessor is gone. The server numbers the children of the lock path from one growing
// counter, so every node created since our listing is ordered after ours. If the predecessor was
// the only node ahead of us in that listing, nothing can be ahead of us now: the lock is ours
// without listing again (a handoff costs one notification). Otherwise nodes further ahead may have
// gone too (we were not told), and one listing says more than walking them one request at a time.
void QueueEngine::next_predecessor(Lock& lk) {
  m_children.erase(std::remove(m_children.begin(), m_children.end(), m_pred), m_children.end());
  const bool relist = m_policy.relist_after_delete(m_pred);
  m_pred.clear();
  if (!relist && m_policy.decide(m_children, m_node, m_guid).kind == QueueDecision::Kind::acquired)
    return apply(lk, m_children);
  m_phase = Phase::listing;
}

void QueueEngine::on_predecessor_event(std::uint64_t epoch, bool deleted) {
  {
    Lock lk(m_mutex);
    if (epoch != m_epoch || m_phase != Phase::watching) return; // e.g. a held lease's children
    m_pred_fired = true;
    m_pred_deleted = deleted;
    kick(lk);
  }
  deliver(); // on the callback thread, as wake()
}

} // namespace zk::detail::core
