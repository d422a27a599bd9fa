// SessionImpl: lifetime of the zhandle_t, connection states, the dispatcher thread, watches.
// The operations themselves (create, get, …) are in operations.cpp.
#include "session/session_impl.hpp"

#include <zkrecipes/observer.hpp>

#include "session/c_client.hpp"
#include "session/log_router.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>
#include <system_error>

namespace zk::detail {
namespace {

thread_local bool t_on_dispatcher = false;

// The session watcher: the handle's context is its SessionImpl.
void session_watcher(zhandle_t* zh, int type, int state, const char* /*path*/, void* ctx) {
  if (type == ZOO_SESSION_EVENT && ctx != nullptr)
    static_cast<SessionImpl*>(ctx)->on_session_event(zh, state);
}

} // namespace

bool on_dispatcher_thread() noexcept {
  return t_on_dispatcher;
}

// A node watch: its context is the watch id; the handle's context is the SessionImpl. Session
// events are delivered to every watcher by the C client; the session watcher handles those.
void node_watcher(zhandle_t* zh, int type, int /*state*/, const char* path, void* ctx) {
  if (type == ZOO_SESSION_EVENT) return;
  auto* impl = static_cast<SessionImpl*>(const_cast<void*>(zoo_get_context(zh)));
  if (impl != nullptr) {
    impl->on_watch_fired(static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(ctx)), type,
                         path);
  }
}

SessionImpl::SessionImpl(SessionOptions options) : m_options(std::move(options)) {
  validate_hosts(m_options.hosts);
  const auto slash = m_options.hosts.find('/');
  if (!m_options.chroot.empty() && slash != std::string::npos)
    throw Error(Errc::invalid_argument, "a chroot both in SessionOptions::hosts and ::chroot");
  m_chroot_size =
      slash != std::string::npos ? m_options.hosts.size() - slash : m_options.chroot.size();
  const auto positive = [](std::chrono::milliseconds v, const char* name) {
    if (v.count() <= 0) {
      throw Error(Errc::invalid_argument, std::string("SessionOptions::") + name +
                                              " must be positive, got " +
                                              std::to_string(v.count()) + " ms");
    }
  };
  positive(m_options.session_timeout, "session_timeout");
  positive(m_options.connect_timeout, "connect_timeout");
  positive(m_options.operation_timeout, "operation_timeout");
  m_default_acl = m_options.default_acl ? *m_options.default_acl
                  : m_options.digest    ? creator_all_acl()
                                        : open_acl();
  validate_acl(m_default_acl, "SessionOptions::default_acl");
  if (m_options.session_timeout.count() > std::numeric_limits<int>::max())
    throw Error(Errc::invalid_argument, "SessionOptions::session_timeout is too large");
  if (!m_options.chroot.empty()) validate_path(m_options.chroot);
  if (m_options.resume && m_options.resume->password.size() != sizeof(clientid_t::passwd))
    throw Error(Errc::invalid_argument, "SessionOptions::resume password must be 16 bytes");
  if (const auto observer = m_options.observer) { // told each state as a listener is
    m_listeners.emplace(m_next_id++,
                        [observer](const SessionEvent& e) { observer->session_state(e); });
  }
}

SessionImpl::~SessionImpl() {
  close_noexcept();
}

void SessionImpl::start() {
  m_log_slot = acquire_log_slot(m_options.log_sink, m_options.log_level);
  m_dispatcher = std::thread(
      [this, self = shared_from_this()]() mutable { dispatcher_loop(std::move(self)); });
  try {
    _zhandle* zh = open_handle(m_options.resume);
    {
      std::unique_lock<std::shared_mutex> lock(m_handle_mutex);
      m_zh = zh;
    }
    std::unique_lock<std::mutex> lock(m_mutex);
    const auto deadline = saturating_add(Clock::now(), m_options.connect_timeout);
    const bool ok = m_cv.wait_until(lock, deadline, [&] {
      return m_state == SessionState::connected || m_state == SessionState::lost;
    });
    if (!ok || m_state != SessionState::connected) {
      const bool expired = m_state == SessionState::lost;
      lock.unlock();
      close();
      if (expired) throw Error(Errc::session_expired, "the session to resume has expired");
      throw Error(Errc::connection_loss, "could not connect to " + m_options.hosts + " within " +
                                             std::to_string(m_options.connect_timeout.count()) +
                                             " ms");
    }
  } catch (...) {
    close_noexcept();
    throw;
  }
}

_zhandle* SessionImpl::open_handle(const std::optional<ClientId>& resume) {
  clientid_t id{};
  if (resume) {
    id.client_id = resume->session_id;
    std::memcpy(id.passwd, resume->password.data(), sizeof id.passwd);
  }
  const std::string hosts = m_options.hosts + m_options.chroot;
  // Hold m_mutex until m_event_zh is set, so the first session event cannot be mistaken for a
  // stranger's.
  std::lock_guard<std::mutex> lock(m_mutex);
  zhandle_t* zh = zookeeper_init2(hosts.c_str(), session_watcher,
                                  static_cast<int>(m_options.session_timeout.count()),
                                  resume ? &id : nullptr, this, 0, log_callback_for(m_log_slot));
  if (zh == nullptr) {
    throw Error(Errc::invalid_argument,
                "zookeeper_init refused hosts \"" + hosts +
                    "\": " + std::error_code(errno, std::generic_category()).message());
  }
  m_event_zh = zh;
  // By default the C client re-resolves the host list on every wakeup of its I/O thread: most of
  // its per-request CPU. Resolving at most every 10 s keeps DNS changes working at a fraction of
  // the cost.
  zoo_set_servers_resolution_delay(zh, 10000);
  if (m_options.digest) {
    const std::string cred = m_options.digest->user + ":" + m_options.digest->password;
    zoo_add_auth(zh, "digest", cred.data(), static_cast<int>(cred.size()), nullptr, nullptr);
  }
  return zh;
}

void SessionImpl::on_session_event(_zhandle* zh, int state) {
  std::lock_guard<std::mutex> lock(m_mutex);
  if (m_closed || zh != m_event_zh)
    return; // an event from a replaced or closing handle is not news
  if (state == ZOO_CONNECTED_STATE || state == ZOO_READONLY_STATE) {
    const clientid_t* id = zoo_client_id(zh);
    const bool same_session = m_session_id != 0 && id->client_id == m_session_id;
    m_session_id = id->client_id;
    m_client_id = ClientId{id->client_id, std::string(id->passwd, sizeof id->passwd)};
    m_negotiated = std::chrono::milliseconds(zoo_recv_timeout(zh));
    m_lost_reported = false;
    m_lost_by_timer = false;
    // A new session starts its clock here (it holds nothing yet that the clock could vouch for); a
    // reconnected one proves contact only by the reply to a request sent now.
    if (same_session) {
      m_keepalive_due = true;
    } else {
      m_contact.store(Clock::now().time_since_epoch().count());
    }
    set_state(same_session ? SessionState::reconnected : SessionState::connected, m_session_id);
  } else if (state == ZOO_CONNECTING_STATE || state == ZOO_ASSOCIATING_STATE) {
    if (m_state == SessionState::connected || m_state == SessionState::reconnected) {
      m_suspended_since = Clock::now();
      set_state(SessionState::suspended, m_session_id);
    }
  } else if (state == ZOO_EXPIRED_SESSION_STATE || state == ZOO_AUTH_FAILED_STATE) {
    if (!m_lost_reported || m_state != SessionState::lost)
      set_state(SessionState::lost, m_session_id);
    m_lost_reported = true;
    m_lost_by_timer = false;
    if (m_options.renew_after_expiry && state == ZOO_EXPIRED_SESSION_STATE && m_session_id != 0) {
      m_renew_pending = true;
      m_cv.notify_all();
    }
  }
}

void SessionImpl::set_state(SessionState s, std::int64_t session_id) { // m_mutex held
  m_state = s;
  m_cv.notify_all();
  const SessionEvent event{s, session_id};
  for (const auto& entry : m_listeners) {
    const std::uint64_t id = entry.first;
    m_queue.emplace_back([this, id, event] {
      Listener fn;
      {
        std::lock_guard<std::mutex> l(m_mutex);
        const auto it = m_listeners.find(id);
        if (it == m_listeners.end()) return; // removed meanwhile
        fn = it->second;
      }
      fn(event);
    });
  }
}

void SessionImpl::renew_after_expiry() {
  if (is_closed()) return;
  _zhandle* fresh = nullptr;
  try {
    fresh = open_handle(std::nullopt);
  } catch (const Error& e) {
    default_log_sink(LogLevel::error,
                     std::string("could not renew the session, retrying: ") + e.what());
    post_at(Clock::now() + std::chrono::seconds(1), [this] {
      std::lock_guard<std::mutex> lock(m_mutex);
      m_renew_pending = true;
    });
    return;
  }
  _zhandle* old = nullptr;
  {
    std::unique_lock<std::shared_mutex> lock(m_handle_mutex);
    if (m_zh == nullptr) { // closed meanwhile: the fresh handle has no owner
      old = fresh;
    } else {
      old = m_zh;
      m_zh = fresh;
    }
  }
  drop_watches_of(old);
  if (old != nullptr) {
    zoo_set_context(old, nullptr);
    zookeeper_close(old); // fails what was pending on the old session
  }
}

void SessionImpl::drop_watches_of(_zhandle* zh) {
  std::lock_guard<std::mutex> lock(m_mutex);
  for (auto it = m_watches.begin(); it != m_watches.end();) {
    if (zh == nullptr || it->second.zh == zh) {
      it = m_watches.erase(it);
    } else {
      ++it;
    }
  }
}

// `self` keeps this object alive while its dispatcher runs; if it is the last reference, the
// destructor runs here at the end, on this thread, and detaches it.
void SessionImpl::dispatcher_loop(std::shared_ptr<SessionImpl> self) {
  t_on_dispatcher = true;
  std::unique_lock<std::mutex> lock(m_mutex);
  for (;;) {
    const auto now = Clock::now();
    // The local timer: disconnected longer than the negotiated timeout means lost, whatever the
    // server will say when we get through again. It counts from the disconnect, as Curator's does:
    // a session often outlives a silence of its timeout (a new leader gives every session a fresh
    // one), and declaring the whole session lost is drastic. Holds are judged more strictly, by the
    // last reply, at every call (contact_lapsed), without waiting for this timer.
    const bool live = m_state == SessionState::suspended && !m_lost_reported;
    const auto lost_at = m_suspended_since + m_negotiated;
    if (live && now >= lost_at) {
      m_lost_reported = true;
      m_lost_by_timer = true;
      set_state(SessionState::lost, m_session_id);
    }
    // Still cut off a whole session timeout after the timer declared the session lost: the server
    // has expired it by now, or will refuse it (an ensemble rebuilt with fresh data refuses a
    // client that has seen newer zxids, and never says "expired"). Start over with a fresh session.
    const auto renew_at = lost_at + m_negotiated;
    const bool stranded =
        m_lost_by_timer && m_state == SessionState::lost && m_options.renew_after_expiry;
    if (stranded && now >= renew_at) {
      m_lost_by_timer = false;
      m_renew_pending = true;
    }
    // Keep the contact fresh while idle: the C client's own pings prove nothing to us (their
    // replies are not reported), so an idle session asks the server something cheap itself, in
    // place of the C client's ping (which it sends only when nothing else was sent).
    const bool connected =
        !m_closed && (m_state == SessionState::connected || m_state == SessionState::reconnected);
    // Every eighth of the timeout: a reply proves contact as of its request's issue, so the clock
    // lags by up to that much, and the C client may take 2/3 of the timeout to give up on a silent
    // server. Not sooner than that after the last attempt either, answered or not.
    const auto keepalive_at =
        m_keepalive_due ? now : std::max(last_contact(), m_keepalive_sent) + m_negotiated / 8;
    if (connected && !m_keepalive_in_flight && now >= keepalive_at) {
      m_keepalive_in_flight = true;
      m_keepalive_due = false;
      m_keepalive_sent = now;
      lock.unlock();
      send_keepalive();
      lock.lock();
      continue;
    }
    while (!m_timers.empty() && m_timers.begin()->first <= now) {
      m_queue.push_back(std::move(m_timers.begin()->second));
      m_timers.erase(m_timers.begin());
    }
    if (m_renew_pending) {
      m_renew_pending = false;
      lock.unlock();
      renew_after_expiry();
      lock.lock();
      continue;
    }
    if (!m_queue.empty()) {
      auto fn = std::move(m_queue.front());
      m_queue.pop_front();
      lock.unlock();
      try {
        fn();
      } catch (const std::exception& e) {
        default_log_sink(LogLevel::error, std::string("a callback threw: ") + e.what());
      } catch (...) {
        default_log_sink(LogLevel::error, "a callback threw");
      }
      fn = nullptr; // destroy captures outside the lock
      lock.lock();
      continue;
    }
    if (m_stop_dispatcher) break;
    auto wake = Clock::time_point::max();
    if (!m_timers.empty()) wake = m_timers.begin()->first;
    if (live) wake = std::min(wake, lost_at);
    if (stranded) wake = std::min(wake, renew_at);
    if (connected && !m_keepalive_in_flight) wake = std::min(wake, keepalive_at);
    if (wake == Clock::time_point::max()) {
      m_cv.wait(lock);
    } else {
      m_cv.wait_until(lock, wake);
    }
  }
  m_timers.clear();
  lock.unlock();
  self.reset();
}

Clock::time_point SessionImpl::last_contact() const noexcept {
  return Clock::time_point(Clock::duration(m_contact.load()));
}

void SessionImpl::note_contact(Clock::time_point sent) noexcept {
  const Clock::rep t = sent.time_since_epoch().count();
  Clock::rep seen = m_contact.load();
  while (seen < t && !m_contact.compare_exchange_weak(seen, t)) {
  }
}

bool SessionImpl::contact_lapsed(std::int64_t session) const {
  std::lock_guard<std::mutex> lock(m_mutex);
  if (m_closed || m_state == SessionState::closed) return false; // the `closed` event reports it
  if (session != m_session_id || m_state == SessionState::lost) return true;
  return Clock::now() >= last_contact() + m_negotiated;
}

void SessionImpl::send_keepalive() {
  const auto done = [self = shared_from_this()](const Result<std::optional<Stat>>&) {
    std::lock_guard<std::mutex> lock(self->m_mutex);
    self->m_keepalive_in_flight = false;
    self->m_cv.notify_all();
  };
  try {
    start_exists("/", {}, done); // "/" is the chroot, if any; its absence is an answer too
  } catch (const Error&) {       // closed meanwhile
    std::lock_guard<std::mutex> lock(m_mutex);
    m_keepalive_in_flight = false;
  }
}

// Once the dispatcher is told to stop it drains its queue: what its own callbacks post meanwhile
// (a lock's on_lost, posted by the session's `closed` listener) still runs.
bool SessionImpl::accepts_posts() const { // m_mutex held
  return !m_stop_dispatcher ||
         (t_on_dispatcher && m_dispatcher.get_id() == std::this_thread::get_id());
}

void SessionImpl::post(std::function<void()> fn) {
  std::lock_guard<std::mutex> lock(m_mutex);
  if (!accepts_posts()) return;
  m_queue.push_back(std::move(fn));
  m_cv.notify_all();
}

void SessionImpl::post_at(Clock::time_point at, std::function<void()> fn) {
  std::lock_guard<std::mutex> lock(m_mutex);
  if (!accepts_posts()) return;
  m_timers.emplace(at, std::move(fn));
  m_cv.notify_all();
}

void SessionImpl::close() {
  if (t_on_dispatcher && m_dispatcher.get_id() == std::this_thread::get_id())
    throw Error(Errc::wrong_thread, "close() from the session's callback thread");
  shut_down(false);
}

void SessionImpl::close_noexcept() noexcept {
  try {
    // Destroyed from its own callback, the dispatcher cannot join itself: it drains its queue and
    // finishes on its own once this callback returns.
    shut_down(m_dispatcher.joinable() && m_dispatcher.get_id() == std::this_thread::get_id());
  } catch (...) {
  }
}

// Pending completions get ZCLOSING and the listeners hear `closed`, so that every waiter of the
// recipes ends; then the dispatcher stops once its queue is drained.
void SessionImpl::shut_down(bool from_dispatcher) {
  {
    std::unique_lock<std::mutex> lock(m_mutex);
    if (m_closed) return;
    m_closed = true;
    m_event_zh = nullptr;
    // zookeeper_close() racing with a request of ours in flight may skip the close request, and the
    // session (with its ephemeral nodes) would outlive us by its timeout: let the keepalive finish
    // (its answer comes through the dispatcher, which cannot wait for itself).
    if (!from_dispatcher)
      m_cv.wait_for(lock, std::chrono::seconds(1), [&] { return !m_keepalive_in_flight; });
  }
  _zhandle* zh = nullptr;
  {
    std::unique_lock<std::shared_mutex> lock(m_handle_mutex);
    zh = m_zh;
    m_zh = nullptr;
  }
  if (zh != nullptr) zookeeper_close(zh); // pending completions get ZCLOSING, posted to the queue
  drop_watches_of(nullptr);
  {
    std::lock_guard<std::mutex> lock(m_mutex);
    if (m_state != SessionState::closed) set_state(SessionState::closed, m_session_id);
    m_stop_dispatcher = true;
    m_cv.notify_all();
  }
  if (from_dispatcher) {
    m_dispatcher.detach();
  } else if (m_dispatcher.joinable()) {
    m_dispatcher.join();
  }
  release_log_slot(m_log_slot);
  m_log_slot = -1;
}

bool SessionImpl::is_closed() const {
  std::lock_guard<std::mutex> lock(m_mutex);
  return m_closed;
}

void SessionImpl::check_blocking_call(const char* what) const {
  if (t_on_dispatcher) {
    throw Error(Errc::wrong_thread,
                std::string(what) +
                    ": blocking call from the session's callback thread would deadlock");
  }
  if (is_closed()) throw Error(Errc::session_closed, std::string(what) + ": the session is closed");
}

Clock::time_point SessionImpl::resolve(Deadline d) const {
  return d.resolve(m_options.operation_timeout);
}

SessionState SessionImpl::state() const {
  std::lock_guard<std::mutex> lock(m_mutex);
  return m_state;
}
std::int64_t SessionImpl::session_id() const {
  std::lock_guard<std::mutex> lock(m_mutex);
  return m_session_id;
}
ClientId SessionImpl::client_id() const {
  std::lock_guard<std::mutex> lock(m_mutex);
  return m_client_id;
}
std::chrono::milliseconds SessionImpl::negotiated_timeout() const {
  std::lock_guard<std::mutex> lock(m_mutex);
  return m_negotiated;
}
std::string SessionImpl::current_server() const {
  std::shared_lock<std::shared_mutex> lock(m_handle_mutex);
  if (m_zh == nullptr || zoo_state(m_zh) != ZOO_CONNECTED_STATE) return {};
  // Not zoo_get_current_server(): it formats into a static buffer that the C client's own threads
  // write too (a data race ThreadSanitizer reports).
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (zookeeper_get_connected_host(m_zh, reinterpret_cast<sockaddr*>(&addr), &len) == nullptr)
    return {};
  char host[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
    return std::string(host) + ":" + std::to_string(ntohs(in->sin_port));
  }
  const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&addr);
  inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
  return "[" + std::string(host) + "]:" + std::to_string(ntohs(in6->sin6_port));
}

std::uint64_t SessionImpl::add_listener(Listener listener) {
  if (!listener) throw Error(Errc::invalid_argument, "add_listener: empty listener");
  std::lock_guard<std::mutex> lock(m_mutex);
  const std::uint64_t id = m_next_id++;
  m_listeners.emplace(id, std::move(listener));
  return id;
}

void SessionImpl::remove_listener(std::uint64_t id) {
  std::lock_guard<std::mutex> lock(m_mutex);
  m_listeners.erase(id);
}

std::uint64_t SessionImpl::register_watch(Watcher fn, std::string_view path, WatchKind kind,
                                          _zhandle* zh) {
  std::lock_guard<std::mutex> lock(m_mutex);
  const std::uint64_t id = m_next_id++;
  m_watches.emplace(id, WatchEntry{std::move(fn), std::string(path), kind, zh});
  return id;
}

void SessionImpl::forget_watch(std::uint64_t id) {
  std::lock_guard<std::mutex> lock(m_mutex);
  m_watches.erase(id);
}

void SessionImpl::on_watch_fired(std::uint64_t watch_id, int type, const char* path) {
  std::lock_guard<std::mutex> lock(m_mutex);
  const auto it = m_watches.find(watch_id);
  if (it == m_watches.end()) return;
  Watcher fn = std::move(it->second.fn);
  m_watches.erase(it);
  if (type == ZOO_NOTWATCHING_EVENT || m_stop_dispatcher) return; // removed, not fired
  EventType event = EventType::changed;
  if (type == ZOO_CREATED_EVENT) {
    event = EventType::created;
  } else if (type == ZOO_DELETED_EVENT) {
    event = EventType::deleted;
  } else if (type == ZOO_CHILD_EVENT) {
    event = EventType::child;
  }
  m_queue.emplace_back(
      [fn = std::move(fn), e = WatchEvent{event, path != nullptr ? path : ""}] { fn(e); });
  m_cv.notify_all();
}

} // namespace zk::detail

namespace zk::detail {

std::shared_ptr<void> SessionImpl::attachment(const std::string& key,
                                              const std::function<std::shared_ptr<void>()>& make) {
  std::lock_guard<std::mutex> lock(m_attachments_mutex);
  for (auto it = m_attachments.begin(); it != m_attachments.end();)
    it = it->second.expired() ? m_attachments.erase(it) : std::next(it);
  auto& slot = m_attachments[key];
  if (auto existing = slot.lock()) return existing;
  auto created = make();
  slot = created;
  return created;
}

const Acl& SessionImpl::acl_for(const CreateOptions& options) const noexcept {
  return options.acl ? *options.acl : m_default_acl;
}

void SessionImpl::log(LogLevel level, const std::string& message) const noexcept {
  try {
    if (static_cast<int>(level) > static_cast<int>(m_options.log_level)) return;
    if (m_options.log_sink) {
      m_options.log_sink(level, message);
    } else {
      default_log_sink(level, message);
    }
  } catch (...) { // a sink must not take a recipe down
  }
}

} // namespace zk::detail
