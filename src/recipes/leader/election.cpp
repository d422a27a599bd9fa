#include "recipes/leader/election.hpp"

#include "core/cancel_subscription.hpp"
#include "core/fenced.hpp"
#include "core/retry.hpp"
#include "recipes/lock/contenders.hpp"

#include <algorithm>

namespace zk::detail::leader {
namespace {

// How often a waiting term judges its hold. The engine finds a loss from its events by itself; only
// a session whose server fell silent (after a pause of this process) is found by asking.
constexpr auto judge_interval = std::chrono::milliseconds(100);

} // namespace

bool ends_election(Errc e, bool session_closed, bool renews_after_expiry) {
  if (session_closed) return true;
  switch (e) {
  case Errc::session_lost:
  case Errc::session_expired:
    return !renews_after_expiry; // else a new session comes, and the election goes on in it
  case Errc::foreign_node:       // another protocol's child: no order to wait in
  case Errc::invalid_argument:   // too large, invalid: the same again
  case Errc::no_auth:
  case Errc::auth_failed:
  case Errc::invalid_acl:
  case Errc::wrong_thread:
    return true;
  default:
    return false;
  }
}

std::shared_ptr<Election> Election::start(const std::shared_ptr<core::Gate>& gate, std::string path,
                                          const lock::Profile& profile, ElectionConfig config) {
  const std::string kind = config.kind;
  if (gate->is_closed()) throw Error(Errc::session_closed, kind + ": the session is closed");
  validate_path(path);
  if (path == "/") throw Error(Errc::invalid_argument, kind + ": the path cannot be \"/\"");
  // Our node as it will be named: the protected prefix with a guid, then a 10-digit sequence.
  const auto& policy = lock::ExclusivePolicy::of(profile);
  gate->check_create(path + "/" + policy.node_prefix(policy.make_guid()) + "0000000000", config.id);
  auto e = std::make_shared<Election>(gate, std::move(path), profile, std::move(config));
  e->m_hold = std::make_unique<core::Hold>();
  auto& o = e->m_hold->options;
  o.node_data = e->m_config.id;
  o.container_parent = e->m_config.container_parent;
  o.max_local_handoffs = 0; // a term is one node: never passed to another object of this process
  const std::weak_ptr<Election> weak = e;
  o.on_lost = [weak](const Error&) {
    if (auto self = weak.lock()) self->on_lost();
  };
  o.on_uncertain = [weak](bool uncertain) {
    if (auto self = weak.lock()) self->on_uncertain(uncertain);
  };
  e->m_hold->contender = core::QueueEngine::for_path(gate, e->m_path, policy, o);
  // Once the session is closed no post runs: its `closed` event (on the callback thread) is the
  // last chance to end the asynchronous awaiters.
  e->m_listener = gate->add_listener([weak](const SessionEvent& event) {
    const auto self = weak.lock();
    if (!self || event.state != SessionState::closed) return;
    self->end_awaiters(Error(Errc::session_closed, std::string(self->m_config.kind) + " " +
                                                       self->m_path + ": the session was closed"),
                       false);
  });
  // The thread keeps the election alive until it ends (close() from a listener does not wait).
  e->m_thread = std::thread([e] {
    e->m_thread_id = std::this_thread::get_id();
    e->run();
  });
  return e;
}

Election::Election(std::shared_ptr<core::Gate> gate, std::string path, const lock::Profile& profile,
                   ElectionConfig config)
    : m_gate(std::move(gate)), m_path(std::move(path)), m_profile(profile),
      m_config(std::move(config)) {}

Election::~Election() {
  const std::lock_guard<std::mutex> join(m_join_mutex);
  if (m_thread.joinable()) {
    if (m_thread_id.load() == std::this_thread::get_id()) {
      m_thread.detach(); // the thread itself let go of the last reference: it ends right after
    } else {
      m_thread.join();
    }
  }
  const bool on_callback = m_gate->on_callback_thread();
  if (m_hold) m_hold->reports.close(on_callback);
  m_reports.close(on_callback);
  if (m_listener != 0) m_gate->remove_listener(m_listener);
  end_awaiters(std::nullopt, false, true); // it will not lead
}

void Election::run() noexcept {
  auto& engine = *m_hold->contender;
  int failures = 0; // in a row, for the backoff
  for (;;) {
    {
      Lock lk(m_mutex);
      m_cv.wait(lk, [&] { return m_closing || m_queued; });
      if (m_closing) break;
    }
    try {
      if (!engine.acquire(*m_hold, far_future, false, &m_leave)) continue;
      failures = 0;
    } catch (const std::exception& e) {
      Lock lk(m_mutex);
      if (m_closing) break; // the cancellation of close()
      const auto* error = dynamic_cast<const Error*>(&e);
      const Error why = error != nullptr ? *error : Error(Errc::invalid_argument, e.what());
      if (!ends_election(why.errc(), m_gate->is_closed(), m_gate->renews_after_expiry())) {
        // Trouble that passes (a request cut off while the session is renewed): queue again.
        m_cv.wait_for(lk, core::recovery_delay(++failures), [&] { return m_closing; });
        continue;
      }
      m_failure = why;
      changed();
      if (m_config.listeners.on_error)
        post([fn = m_config.listeners.on_error, failure = *m_failure] { fn(failure); });
      lk.unlock();
      m_gate->log(LogLevel::error,
                  std::string(m_config.kind) + " " + m_path + ": left the election: " + e.what());
      break;
    }
    CancelToken stop;
    std::int64_t token = 0;
    std::string node;
    bool began = false;
    {
      Lock lk(m_mutex);
      // Read under our mutex, so that on_lost() and on_uncertain() either come after m_leading is
      // set or find the hold as it is here.
      bool held = false;
      bool uncertain = false;
      engine.read(*m_hold, [&](const core::Hold& h) {
        token = h.token;
        node = h.node;
        held = h.held();
        uncertain = h.uncertain;
      });
      ++m_terms;
      m_token = token;
      m_node = node;
      m_stop = stop;
      m_uncertain = uncertain;
      // A selector that may not lead while suspended does not start a term granted then.
      began = held && !m_closing && !(uncertain && m_config.work && !m_config.lead_while_suspended);
      m_leading = began;
      if (began) ++m_begun;
      changed();
      // Posted under our mutex, so that no report of this term (on_uncertain) comes before it.
      if (began && m_config.listeners.on_leader)
        post([fn = m_config.listeners.on_leader, token] { fn(token); });
      if (began && uncertain && m_config.listeners.on_uncertain)
        post([fn = m_config.listeners.on_uncertain] { fn(true); });
    }
    if (began) run_term(token, node, stop);
    bool lost = false; // a loss is reported whatever the close mode: it was no choice of ours
    engine.read(*m_hold, [&](const core::Hold& h) { lost = h.lost.has_value(); });
    engine.release(*m_hold, false); // deletes our node, or forgets a loss
    {
      Lock lk(m_mutex);
      m_leading = false;
      m_stop.reset();
      m_uncertain = false;
      const bool notify = began && (!m_closing || m_notify || lost);
      m_queued = m_config.requeue || m_requeue_asked || !began;
      m_requeue_asked = false;
      changed();
      if (notify && m_config.listeners.on_follower) post(m_config.listeners.on_follower);
      // Not begun for a suspension: queue again once the connection had time to come back.
      if (!began && !m_closing && m_gate->state() == SessionState::suspended)
        m_cv.wait_for(lk, core::recovery_delay(++failures), [&] { return m_closing; });
    }
  }
}

void Election::run_term(std::int64_t token, const std::string& node, const CancelToken& stop) {
  if (!m_config.work) {
    wait_until_stop(stop, far_future);
    return;
  }
  Leadership leadership(*this, token, node, stop);
  try {
    m_config.work(leadership);
  } catch (const std::exception& e) {
    m_gate->log(LogLevel::warn, std::string(m_config.kind) + " " + m_path +
                                    ": the leader's function threw: " + e.what());
  } catch (...) {
    m_gate->log(LogLevel::warn,
                std::string(m_config.kind) + " " + m_path + ": the leader's function threw");
  }
}

bool Election::held() const noexcept {
  return m_hold->contender->read(*m_hold, [](const core::Hold& h) { return h.held(); });
}

bool Election::stop_requested(const CancelToken& stop) const {
  if (stop.cancelled()) return true;
  if (held()) return false;
  stop.cancel(); // a loss found by this call (the engine's report may still be on its way)
  return true;
}

bool Election::wait_until_stop(const CancelToken& stop, Clock::time_point at) const {
  const core::CancelSubscription subscription(&stop, [this] {
    const std::lock_guard<std::mutex> lk(m_mutex);
    m_cv.notify_all();
  });
  for (;;) {
    if (stop_requested(stop)) return true;
    const auto now = Clock::now();
    if (now >= at) return false;
    Lock lk(m_mutex);
    m_cv.wait_until(lk, std::min(at, now + judge_interval), [&] { return stop.cancelled(); });
  }
}

void Election::stop_term(Lock& lk) {
  if (!m_leading || !m_stop) return;
  const CancelToken stop = *m_stop;
  lk.unlock(); // the token wakes its waiters, which take m_mutex
  stop.cancel();
}

void Election::on_lost() {
  Lock lk(m_mutex);
  // Reports are posted and may come late: a hold granted again since is a newer term, not lost.
  if (held()) return;
  stop_term(lk);
}

void Election::on_uncertain(bool uncertain) {
  Lock lk(m_mutex);
  if (!m_leading || !m_stop || m_stop->cancelled()) return;
  if (!uncertain) return recheck(lk);
  if (m_uncertain) return; // reported at the term's start already
  m_uncertain = true;
  changed();
  if (m_config.listeners.on_uncertain) post([fn = m_config.listeners.on_uncertain] { fn(true); });
  // A selector's function is told to stop; a latch only stops leading until it is certain again.
  if (!m_config.lead_while_suspended && m_config.work) stop_term(lk);
}

// Connected again with the same session: the term goes on only if our node is still there and
// still our session's (the server may have deleted it while we could not hear). m_mutex is held.
void Election::recheck(Lock& /*lk*/) {
  const std::weak_ptr<Election> weak = weak_from_this();
  const std::uint64_t number = m_terms;
  const auto answered = [weak, number](Result<NodeData> r) {
    const auto self = weak.lock();
    if (!self) return;
    Lock lk(self->m_mutex);
    if (number != self->m_terms || !self->m_leading || !self->m_uncertain || !self->m_stop ||
        self->m_stop->cancelled())
      return;
    if (r.ok() && r.value().stat.ephemeral_owner == self->m_gate->session_id()) {
      self->m_uncertain = false;
      self->changed();
      if (self->m_config.listeners.on_uncertain)
        self->post([fn = self->m_config.listeners.on_uncertain] { fn(false); });
    } else if (r.ok() || r.error() == Errc::no_node) {
      self->stop_term(lk); // gone or not ours: the engine reports the loss too
    } else {
      self->m_gate->post_at(Clock::now() + std::chrono::milliseconds(200), [weak, number] {
        const auto again = weak.lock();
        if (!again) return;
        Lock l(again->m_mutex);
        if (number == again->m_terms && again->m_leading && again->m_uncertain) again->recheck(l);
      });
    }
  };
  try {
    m_gate->get_async(m_node, {}, answered);
  } catch (const Error&) { // closed: the closed event ends the term
  }
}

void Election::post(std::function<void()> fn) {
  m_gate->post_at(Clock::now(),
                  m_reports.wrap([gate = m_gate, what = std::string(m_config.kind) + " " + m_path,
                                  fn = std::move(fn)] {
                    try {
                      fn();
                    } catch (const std::exception& e) {
                      gate->log(LogLevel::warn, what + ": a listener threw: " + e.what());
                    } catch (...) {
                      gate->log(LogLevel::warn, what + ": a listener threw");
                    }
                  }));
}

void Election::close(CloseMode mode) noexcept {
  (void)held(); // judged first: a term lost to a pause is reported as lost, not closed
  std::optional<CancelToken> stop;
  {
    Lock lk(m_mutex);
    if (!m_closing) {
      m_closing = true;
      m_notify = mode == CloseMode::notify;
    }
    stop = m_stop;
    changed();
  }
  m_leave.cancel();
  if (stop) stop->cancel();
  if (m_thread_id.load() == std::this_thread::get_id()) return; // from the leader's function
  if (m_gate->on_callback_thread()) {
    m_reports.close(true); // waiting here would stop the replies the thread waits for
    return;
  }
  {
    const std::lock_guard<std::mutex> join(m_join_mutex); // close() may be called concurrently
    if (m_thread.joinable()) m_thread.join();
  }
  m_hold->reports.close(false);
  m_reports.close(false);
}

bool Election::await_until(Clock::time_point at) {
  m_gate->check_blocking_call((std::string(m_config.kind) + "::await_leadership").c_str());
  for (;;) {
    {
      Lock lk(m_mutex);
      m_cv.wait_until(lk, at, [&] {
        return m_closing || m_failure || (!m_queued && !m_leading) ||
               (m_leading && (!m_uncertain || m_config.lead_while_suspended));
      });
      if (m_failure) throw *m_failure;
      if (m_closing || (!m_queued && !m_leading)) return false; // it will not lead (no requeue)
    }
    if (is_leader()) return true;
    if (Clock::now() >= at) return false;
    Lock lk(m_mutex); // leading, but lost: wait for the term to end
    m_cv.wait_until(lk, std::min(at, Clock::now() + judge_interval));
  }
}

void Election::async_await(Deadline deadline, const CancelToken* cancel, core::Decided<bool> done) {
  if (m_gate->is_closed()) {
    throw Error(Errc::session_closed,
                std::string(m_config.kind) + "::async_await_leadership: the session is closed");
  }
  const auto until = core::async_until(deadline, m_gate->operation_timeout());
  const std::uint64_t id = ++m_next_awaiter;
  const std::weak_ptr<Election> weak = weak_from_this();
  const auto end = [gate = m_gate, weak, id](Clock::time_point at, Errc why) {
    gate->post_at(at, [weak, id, why] {
      if (const auto self = weak.lock()) self->end_awaiter(id, why);
    });
  };
  Awaiter a;
  a.done = std::move(done);
  if (cancel != nullptr) { // subscribed before m_mutex is taken: the token wakes under its lock
    a.cancel = *cancel;
    a.subscription = a.cancel->subscribe([end] { end(Clock::now(), Errc::cancelled); });
  }
  {
    Lock lk(m_mutex);
    a.begun_at = m_begun;
    m_awaiters.emplace(id, std::move(a));
    changed(); // judged on the callback thread: never decided inside this call
  }
  if (m_gate->is_closed()) { // closed meanwhile: the session's `closed` event may have come before
    Awaiter mine;
    {
      Lock lk(m_mutex);
      const auto it = m_awaiters.find(id);
      if (it == m_awaiters.end()) return; // the listener ended it
      mine = std::move(it->second);       // else the caller hears it (a late listener call finds
      m_awaiters.erase(it);               // it gone)
    }
    if (mine.cancel) mine.cancel->unsubscribe(mine.subscription);
    throw Error(Errc::session_closed,
                std::string(m_config.kind) + "::async_await_leadership: the session is closed");
  }
  if (cancel != nullptr && cancel->cancelled()) end(Clock::now(), Errc::cancelled); // came early
  if (until < far_future) end(until, Errc::deadline_exceeded);
}

void Election::changed() {
  m_cv.notify_all();
  if (m_awaiters.empty() || m_settle_posted) return;
  try {
    m_gate->post_at(Clock::now(), [weak = weak_from_this()] {
      if (const auto self = weak.lock()) self->settle();
    });
    m_settle_posted = true;
  } catch (...) { // only an allocation can fail there: the next change posts again
  }
}

std::optional<std::pair<std::optional<Error>, bool>> Election::verdict(const Awaiter& a) const {
  // A term began since it came (it may be over by now: a short one is not missed).
  if (m_begun != a.begun_at) return std::pair{std::nullopt, true};
  if (m_failure) return std::pair{m_failure, false};
  if (m_closing || (!m_queued && !m_leading)) return std::pair{std::nullopt, false};
  const bool leads = m_leading && (!m_uncertain || m_config.lead_while_suspended) &&
                     !(m_stop && m_stop->cancelled());
  if (leads && held()) return std::pair{std::nullopt, true};
  return std::nullopt; // not yet (or leading, but lost: the term ends, and changed() comes)
}

void Election::settle() {
  std::vector<std::pair<Awaiter, std::pair<std::optional<Error>, bool>>> ready;
  {
    Lock lk(m_mutex); // the verdicts and their awaiters under one lock: none registered after
    m_settle_posted = false;
    for (auto it = m_awaiters.begin(); it != m_awaiters.end();) {
      if (auto v = verdict(it->second)) {
        ready.emplace_back(std::move(it->second), std::move(*v));
        it = m_awaiters.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& [a, v] : ready)
    complete(a, v.first, v.second);
}

void Election::end_awaiter(std::uint64_t id, Errc why) {
  Awaiter a;
  std::optional<std::pair<std::optional<Error>, bool>> v;
  {
    Lock lk(m_mutex);
    const auto it = m_awaiters.find(id);
    if (it == m_awaiters.end()) return; // decided already
    a = std::move(it->second);
    m_awaiters.erase(it);
    if (why != Errc::cancelled) v = verdict(a); // at the deadline, as await_until: leading or not
  }
  if (why == Errc::cancelled) {
    return complete(a,
                    Error(Errc::cancelled, std::string(m_config.kind) + " " + m_path +
                                               ": cancelled while awaiting leadership"),
                    false);
  }
  if (v) return complete(a, v->first, v->second);
  complete(a, std::nullopt, false);
}

void Election::end_awaiters(const std::optional<Error>& e, bool leading, bool posted) noexcept {
  std::map<std::uint64_t, Awaiter> all;
  {
    const std::lock_guard<std::mutex> lk(m_mutex);
    all.swap(m_awaiters);
  }
  // A closed session's dispatcher takes posts only from its own thread (while it drains): the
  // awaiters then hear of the close here, where they would have been posted from.
  const bool refused = posted && m_gate->is_closed() && !m_gate->on_callback_thread();
  std::optional<Error> closed;
  if (refused) {
    closed = Error(Errc::session_closed,
                   std::string(m_config.kind) + " " + m_path + ": the session was closed");
  }
  for (auto& [id, a] : all) {
    if (!posted || refused) {
      complete(a, refused ? closed : e, !refused && leading);
      continue;
    }
    if (a.cancel) a.cancel->unsubscribe(a.subscription);
    try {
      m_gate->post_at(Clock::now(), [done = std::move(a.done), e, leading] { done(e, leading); });
    } catch (...) { // only an allocation can fail there
    }
  }
}

void Election::complete(Awaiter& a, const std::optional<Error>& e, bool leading) noexcept {
  if (a.cancel) a.cancel->unsubscribe(a.subscription);
  try {
    a.done(e, leading);
  } catch (const std::exception& ex) {
    m_gate->log(LogLevel::warn, std::string(m_config.kind) + " " + m_path +
                                    ": an awaiter's completion threw: " + ex.what());
  } catch (...) {
    m_gate->log(LogLevel::warn,
                std::string(m_config.kind) + " " + m_path + ": an awaiter's completion threw");
  }
}

bool Election::is_leader() const noexcept {
  {
    const std::lock_guard<std::mutex> lk(m_mutex);
    if (!m_leading || (m_uncertain && !m_config.lead_while_suspended)) return false;
    if (m_closing || (m_stop && m_stop->cancelled())) return false; // the term is ending
  }
  return held();
}

void Election::not_leader(const char* what) const {
  throw Error(Errc::not_leader, std::string(what) + ": " + m_path +
                                    ": this participant does not lead; nothing was sent");
}

std::int64_t Election::term() const {
  std::int64_t token = 0;
  {
    const std::lock_guard<std::mutex> lk(m_mutex);
    if (!m_leading) not_leader("term");
    token = m_token;
  }
  if (!held()) not_leader("term");
  return token;
}

std::string Election::node_path() const {
  std::string node;
  {
    const std::lock_guard<std::mutex> lk(m_mutex);
    if (!m_leading) not_leader("node_path");
    node = m_node;
  }
  if (!held()) not_leader("node_path");
  return node;
}

MultiResult Election::fenced(std::optional<std::int64_t> term, std::vector<Op> ops,
                             Deadline deadline) {
  std::string node;
  {
    const std::lock_guard<std::mutex> lk(m_mutex);
    if (!m_leading || (term && *term != m_token)) not_leader("fenced");
    node = m_node;
  }
  return fenced_term(node, std::move(ops), deadline);
}

MultiResult Election::fenced_term(const std::string& node, std::vector<Op> ops, Deadline deadline) {
  m_gate->check_blocking_call("fenced");
  {
    const std::lock_guard<std::mutex> lk(m_mutex);
    if (!m_leading || m_node != node) not_leader("fenced");
  }
  // Sent while uncertain too: the server's check of our node is the verdict.
  if (!held()) not_leader("fenced");
  return core::fenced_multi(*m_gate, node, std::move(ops),
                            deadline.resolve(m_gate->operation_timeout()), Errc::not_leader);
}

std::vector<Participant> Election::participants(Deadline deadline) const {
  return list(*m_gate, m_path, m_profile, deadline);
}

std::vector<Participant> Election::list(core::Gate& gate, const std::string& path,
                                        const lock::Profile& profile, Deadline deadline) {
  gate.check_blocking_call("participants");
  std::vector<Participant> out;
  for (auto& c :
       lock::list_contenders(gate, path, profile, deadline.resolve(gate.operation_timeout()))) {
    if (!c.sequence) continue; // foreign children lead nothing (the election fails on them)
    out.push_back(Participant{std::move(c.data), std::move(c.name), c.holder, c.czxid});
  }
  return out;
}

void Election::interrupt() {
  Lock lk(m_mutex);
  stop_term(lk);
}

void Election::requeue() {
  const std::lock_guard<std::mutex> lk(m_mutex);
  if (m_leading) {
    m_requeue_asked = true; // queue again once the running term ends
  } else {
    m_queued = true;
  }
  changed();
}

} // namespace zk::detail::leader
