#include "fake_gate.hpp"

#include <algorithm>
#include <cstdio>
#include <utility>

namespace zkt {

using zk::Clock;
using zk::Errc;
using zk::Result;

namespace {

std::string parent_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string sequence_text(std::int32_t seq) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%010d", seq);
  return buf;
}

bool is_child(const std::string& parent, const std::string& path) {
  const std::string prefix = parent == "/" ? "/" : parent + "/";
  return path.size() > prefix.size() && path.compare(0, prefix.size(), prefix) == 0 &&
         path.find('/', prefix.size()) == std::string::npos;
}

} // namespace

FakeGate::FakeGate() {
  m_nodes["/"] = Node{};
  m_thread = std::thread([this] { run(); });
}

FakeGate::~FakeGate() {
  std::deque<std::function<void()>> queue;
  std::deque<std::function<void()>> held;
  std::multimap<Clock::time_point, std::function<void()>> timers;
  {
    std::lock_guard<std::mutex> lk(m_mutex);
    m_stop = true;
    queue.swap(m_queue);
    held.swap(m_held);
    timers.swap(m_timers);
    m_cv.notify_all();
  }
  // Destroyed on its own thread (a queued closure held the last reference): it cannot join itself.
  if (std::this_thread::get_id() == m_thread.get_id())
    m_thread.detach();
  else
    m_thread.join();
}

void FakeGate::run() {
  Lock lk(m_mutex);
  while (!m_stop) {
    const auto now = Clock::now();
    std::function<void()> fn;
    if (!m_queue.empty()) {
      fn = std::move(m_queue.front());
      m_queue.pop_front();
    } else if (!m_timers.empty() && m_timers.begin()->first <= now) {
      fn = std::move(m_timers.begin()->second);
      m_timers.erase(m_timers.begin());
    }
    if (fn) {
      m_busy = true;
      lk.unlock();
      fn();
      fn = nullptr;
      lk.lock();
      m_busy = false;
      m_cv.notify_all();
      continue;
    }
    if (m_timers.empty())
      m_cv.wait(lk);
    else
      m_cv.wait_until(lk, m_timers.begin()->first);
  }
}

void FakeGate::enqueue(Lock& /*lk*/, std::function<void()> fn) {
  m_queue.push_back(std::move(fn));
  m_cv.notify_all();
}

void FakeGate::reply(Lock& lk, std::function<void()> fn) {
  if (m_holding)
    m_held.push_back(std::move(fn));
  else
    enqueue(lk, std::move(fn));
}

void FakeGate::wait_for_release(Lock& lk, Clock::time_point until) {
  if (!m_cv.wait_until(lk, until, [&] { return !m_holding; }))
    throw zk::Error(Errc::deadline_exceeded, "fake: no reply before the deadline");
}

void FakeGate::drain() {
  Lock lk(m_mutex);
  m_cv.wait(lk, [&] {
    return m_queue.empty() && !m_busy &&
           (m_timers.empty() || m_timers.begin()->first > Clock::now() + std::chrono::seconds(1));
  });
}

// ------------------------------------------------------------------ the tree

Result<zk::Created> FakeGate::do_create(Lock& lk, const std::string& path, const std::string& data,
                                        zk::CreateMode mode, std::int64_t owner) {
  const std::string parent = parent_of(path);
  const auto p = m_nodes.find(parent);
  if (p == m_nodes.end()) return Result<zk::Created>(Errc::no_node, "create " + path);
  std::string name = path;
  const bool sequential =
      mode == zk::CreateMode::ephemeral_sequential || mode == zk::CreateMode::persistent_sequential;
  if (sequential) name += sequence_text(p->second.next_seq++);
  if (m_nodes.count(name) != 0) return Result<zk::Created>(Errc::node_exists, "create " + path);
  if (!sequential) ++p->second.next_seq;
  Node n;
  n.data = data;
  n.stat.czxid = n.stat.mzxid = ++m_zxid;
  const bool ephemeral =
      mode == zk::CreateMode::ephemeral || mode == zk::CreateMode::ephemeral_sequential;
  n.stat.ephemeral_owner = ephemeral ? owner : 0;
  n.stat.data_length = static_cast<std::int32_t>(data.size());
  m_nodes[name] = n;
  fire(lk, parent, zk::EventType::child);
  return zk::Created{name, n.stat};
}

Result<zk::Done> FakeGate::do_remove(Lock& lk, const std::string& path, std::int32_t version) {
  const auto it = m_nodes.find(path);
  if (it == m_nodes.end()) return Result<zk::Done>(Errc::no_node, "remove " + path);
  if (version != zk::any_version && version != it->second.stat.version)
    return Result<zk::Done>(Errc::bad_version, "remove " + path);
  for (const auto& [other, node] : m_nodes)
    if (is_child(path, other)) return Result<zk::Done>(Errc::not_empty, "remove " + path);
  m_nodes.erase(it);
  fire(lk, path, zk::EventType::deleted);
  fire(lk, parent_of(path), zk::EventType::child);
  return zk::Done{};
}

Result<zk::NodeData> FakeGate::do_get(const std::string& path) const {
  const auto it = m_nodes.find(path);
  if (it == m_nodes.end()) return Result<zk::NodeData>(Errc::no_node, "get " + path);
  return zk::NodeData{it->second.data, it->second.stat};
}

Result<zk::Children> FakeGate::do_children(const std::string& path) const {
  const auto it = m_nodes.find(path);
  if (it == m_nodes.end()) return Result<zk::Children>(Errc::no_node, "children " + path);
  zk::Children c;
  c.stat = it->second.stat;
  for (const auto& [other, node] : m_nodes)
    if (is_child(path, other)) c.names.push_back(other.substr(other.rfind('/') + 1));
  return c;
}

void FakeGate::fire(Lock& lk, const std::string& path, zk::EventType type) {
  if (type == zk::EventType::child || type == zk::EventType::deleted) {
    const auto [from, to] = m_child_watches.equal_range(path);
    for (auto it = from; it != to; ++it)
      deliver(lk, [fn = std::move(it->second), e = zk::WatchEvent{type, path}] { fn(e); });
    m_child_watches.erase(from, to);
  }
  if (type == zk::EventType::child) return;
  const auto [from, to] = m_watches.equal_range(path);
  for (auto it = from; it != to; ++it)
    deliver(lk, [fn = std::move(it->second.second), e = zk::WatchEvent{type, path}] { fn(e); });
  m_watches.erase(from, to);
}

void FakeGate::deliver(Lock& lk, std::function<void()> event) {
  // As the server: a disconnected client hears of the change once it is back (setWatches).
  if (m_state == zk::SessionState::suspended) {
    m_deferred.push_back(std::move(event));
  } else {
    enqueue(lk, std::move(event));
  }
}

void FakeGate::emit(Lock& lk, zk::SessionState state, std::int64_t session) {
  for (const auto& [id, listener] : m_listeners)
    enqueue(lk, [fn = listener, e = zk::SessionEvent{state, session}] { fn(e); });
}

// ------------------------------------------------------------------ scripting

void FakeGate::make_path(const std::string& path) {
  Lock lk(m_mutex);
  std::string at;
  for (std::size_t pos = 1; pos <= path.size(); ++pos) {
    if (pos == path.size() || path[pos] == '/') {
      at = path.substr(0, pos);
      if (m_nodes.count(at) == 0) (void)do_create(lk, at, "", zk::CreateMode::persistent, 0);
    }
  }
}

std::string FakeGate::add_foreign(const std::string& parent, const std::string& prefix) {
  Lock lk(m_mutex);
  auto r = do_create(lk, parent + "/" + prefix, "other", zk::CreateMode::ephemeral_sequential, 99);
  const std::string path = r.value().path;
  return path.substr(path.rfind('/') + 1);
}

void FakeGate::put(const std::string& path, const std::string& data) {
  Lock lk(m_mutex);
  const auto it = m_nodes.find(path);
  if (it == m_nodes.end()) {
    (void)do_create(lk, path, data, zk::CreateMode::persistent, 0).value();
    fire(lk, path, zk::EventType::created);
    return;
  }
  it->second.data = data;
  it->second.stat.mzxid = ++m_zxid;
  ++it->second.stat.version;
  fire(lk, path, zk::EventType::changed);
}

void FakeGate::delete_node(const std::string& path) {
  Lock lk(m_mutex);
  (void)do_remove(lk, path, zk::any_version);
}

std::vector<std::string> FakeGate::children_of(const std::string& parent) const {
  std::lock_guard<std::mutex> lk(m_mutex);
  auto r = do_children(parent);
  if (!r.ok()) return {};
  auto names = r.value().names;
  std::sort(names.begin(), names.end());
  return names;
}

bool FakeGate::exists(const std::string& path) const {
  std::lock_guard<std::mutex> lk(m_mutex);
  return m_nodes.count(path) != 0;
}

std::int64_t FakeGate::owner_of(const std::string& path) const {
  std::lock_guard<std::mutex> lk(m_mutex);
  const auto it = m_nodes.find(path);
  return it == m_nodes.end() ? 0 : it->second.stat.ephemeral_owner;
}

std::size_t FakeGate::watches() const {
  std::lock_guard<std::mutex> lk(m_mutex);
  return m_watches.size() + m_child_watches.size();
}

void FakeGate::pause_past_timeout() {
  std::lock_guard<std::mutex> lk(m_mutex);
  m_paused = true;
}

bool FakeGate::contact_lapsed(std::int64_t session) const {
  std::lock_guard<std::mutex> lk(m_mutex);
  return m_paused || session != m_session || m_state == zk::SessionState::lost;
}

void FakeGate::expire() {
  Lock lk(m_mutex);
  m_paused = false;
  const std::int64_t old = m_session;
  // As the C client: the expired session's watches end without firing; its nodes just go.
  m_watches.clear();
  m_child_watches.clear();
  m_deferred.clear();
  std::vector<std::string> gone;
  for (const auto& [path, node] : m_nodes)
    if (node.stat.ephemeral_owner == old) gone.push_back(path);
  for (const auto& path : gone) {
    m_nodes.erase(path);
    fire(lk, path, zk::EventType::deleted);
  }
  m_state = zk::SessionState::lost;
  emit(lk, zk::SessionState::lost, old);
  m_session = old + 1;
  m_state = zk::SessionState::connected;
  emit(lk, zk::SessionState::connected, m_session);
}

void FakeGate::suspend() {
  Lock lk(m_mutex);
  m_state = zk::SessionState::suspended;
  emit(lk, m_state, m_session);
}

void FakeGate::reconnect() {
  Lock lk(m_mutex);
  m_state = zk::SessionState::reconnected;
  emit(lk, m_state, m_session);
  for (auto& event : m_deferred)
    enqueue(lk, std::move(event));
  m_deferred.clear();
}

void FakeGate::lose_next_create_reply() {
  std::lock_guard<std::mutex> lk(m_mutex);
  m_lose_create_reply = true;
}

void FakeGate::hold_next_create_reply() {
  std::lock_guard<std::mutex> lk(m_mutex);
  m_hold_create_reply = true;
}

void FakeGate::fail_next_get(zk::Errc e) {
  std::lock_guard<std::mutex> lk(m_mutex);
  m_fail_get = e;
}

void FakeGate::hold_replies() {
  std::lock_guard<std::mutex> lk(m_mutex);
  m_holding = true;
}

void FakeGate::release_replies() {
  Lock lk(m_mutex);
  m_holding = false;
  while (!m_held.empty()) {
    enqueue(lk, std::move(m_held.front()));
    m_held.pop_front();
  }
  m_cv.notify_all();
}

void FakeGate::after_next_listing(std::function<void()> fn) {
  std::lock_guard<std::mutex> lk(m_mutex);
  m_after_listing = std::move(fn);
}

int FakeGate::requests(const std::string& kind) const {
  std::lock_guard<std::mutex> lk(m_mutex);
  const auto it = m_requests.find(kind);
  return it == m_requests.end() ? 0 : it->second;
}

std::vector<std::string> FakeGate::logged() const {
  std::lock_guard<std::mutex> lk(m_mutex);
  return m_logged;
}

// ------------------------------------------------------------------ core::Gate

void FakeGate::create_async(const std::string& path, const std::string& data, zk::CreateMode mode,
                            std::function<void(Result<zk::Created>)> done) {
  Lock lk(m_mutex);
  ++m_requests["create"];
  auto r = do_create(lk, path, data, mode, m_session);
  if (m_lose_create_reply) {
    m_lose_create_reply = false;
    r = Result<zk::Created>(Errc::connection_loss, "create " + path);
  }
  auto answer = [done = std::move(done), r = std::move(r)]() mutable { done(std::move(r)); };
  if (std::exchange(m_hold_create_reply, false)) {
    m_held.emplace_back(std::move(answer));
    return;
  }
  reply(lk, std::move(answer));
}

void FakeGate::get_async(const std::string& path, zk::Watcher watch,
                         std::function<void(Result<zk::NodeData>)> done) {
  Lock lk(m_mutex);
  ++m_requests["get"];
  auto r = do_get(path);
  if (m_fail_get != Errc::ok) {
    r = Result<zk::NodeData>(m_fail_get, "get " + path);
    m_fail_get = Errc::ok;
  }
  if (r.ok() && watch) m_watches.emplace(path, std::make_pair(m_next_id++, std::move(watch)));
  reply(lk, [done = std::move(done), r = std::move(r)]() mutable { done(std::move(r)); });
}

void FakeGate::exists_async(const std::string& path, zk::Watcher watch,
                            std::function<void(Result<std::optional<zk::Stat>>)> done) {
  Lock lk(m_mutex);
  ++m_requests["exists"];
  const auto it = m_nodes.find(path);
  Result<std::optional<zk::Stat>> r =
      it == m_nodes.end() ? std::optional<zk::Stat>() : std::optional<zk::Stat>(it->second.stat);
  if (watch) m_watches.emplace(path, std::make_pair(m_next_id++, std::move(watch)));
  reply(lk, [done = std::move(done), r = std::move(r)]() mutable { done(std::move(r)); });
}

void FakeGate::children_async(const std::string& path, zk::Watcher watch,
                              std::function<void(Result<zk::Children>)> done) {
  std::function<void()> after;
  {
    Lock lk(m_mutex);
    ++m_requests["children"];
    auto r = do_children(path);
    if (r.ok() && watch) m_child_watches.emplace(path, std::move(watch));
    reply(lk, [done = std::move(done), r = std::move(r)]() mutable { done(std::move(r)); });
    after.swap(m_after_listing);
  }
  if (after) after();
}

void FakeGate::remove_async(const std::string& path, std::int32_t version,
                            std::function<void(Result<zk::Done>)> done) {
  Lock lk(m_mutex);
  ++m_requests["remove"];
  auto r = do_remove(lk, path, version);
  reply(lk, [done = std::move(done), r = std::move(r)]() mutable { done(std::move(r)); });
}

void FakeGate::remove_watches_async(const std::string& path, zk::WatchKind kind,
                                    std::function<void(Result<std::size_t>)> done) {
  Lock lk(m_mutex);
  ++m_requests["remove_watches"];
  std::size_t n = 0;
  if (kind != zk::WatchKind::child) n += m_watches.erase(path);
  if (kind != zk::WatchKind::data) n += m_child_watches.erase(path);
  reply(lk, [done = std::move(done), n]() { done(n); });
}

void FakeGate::set_direct(const std::string& path, const std::string& data, std::int32_t version,
                          std::function<void(Result<zk::Stat>)> done) {
  Lock lk(m_mutex);
  ++m_requests["set"];
  Result<zk::Stat> r(Errc::no_node, "set " + path);
  const auto it = m_nodes.find(path);
  if (it != m_nodes.end() && version != zk::any_version && version != it->second.stat.version) {
    r = Result<zk::Stat>(Errc::bad_version, "set " + path);
  } else if (it != m_nodes.end()) {
    it->second.data = data;
    it->second.stat.mzxid = ++m_zxid;
    ++it->second.stat.version;
    r = it->second.stat;
    fire(lk, path, zk::EventType::changed);
  }
  reply(lk, [done = std::move(done), r = std::move(r)]() mutable { done(std::move(r)); });
}

zk::Created FakeGate::create(const std::string& path, const std::string& data, zk::CreateMode mode,
                             Clock::time_point until) {
  Lock lk(m_mutex);
  wait_for_release(lk, until);
  ++m_requests["create"];
  return do_create(lk, path, data, mode, m_session).value();
}

std::optional<zk::NodeData> FakeGate::get(const std::string& path, Clock::time_point until) {
  Lock lk(m_mutex);
  wait_for_release(lk, until);
  ++m_requests["get"];
  auto r = do_get(path);
  if (!r.ok() && r.error() == Errc::no_node) return std::nullopt;
  return r.value();
}

std::optional<zk::Children> FakeGate::children(const std::string& path, Clock::time_point until) {
  std::function<void()> after;
  std::optional<zk::Children> out;
  {
    Lock lk(m_mutex);
    wait_for_release(lk, until);
    ++m_requests["children"];
    auto r = do_children(path);
    if (r.ok()) out = r.value();
    after.swap(m_after_listing);
  }
  if (after) after();
  return out;
}

bool FakeGate::remove(const std::string& path, std::int32_t version, Clock::time_point until) {
  Lock lk(m_mutex);
  wait_for_release(lk, until);
  ++m_requests["remove"];
  auto r = do_remove(lk, path, version);
  if (!r.ok() && r.error() == Errc::no_node) return false;
  (void)r.value();
  return true;
}

zk::MultiResult FakeGate::multi(const std::vector<zk::Op>& ops, Clock::time_point until) {
  Lock lk(m_mutex);
  wait_for_release(lk, until);
  zk::MultiResult out;
  for (const auto& op : ops) { // checks only, then the writes (enough for fenced writes)
    if (op.type == zk::Op::Type::check && m_nodes.count(op.path) == 0) {
      out.error = Errc::no_node;
      out.results.assign(ops.size(), zk::OpResult{Errc::runtime_inconsistency, {}, {}});
      out.results[static_cast<std::size_t>(&op - ops.data())].error = Errc::no_node;
      return out;
    }
  }
  for (const auto& op : ops) {
    zk::OpResult r;
    if (op.type == zk::Op::Type::create) {
      r.path = do_create(lk, op.path, op.data, op.mode, m_session).value().path;
    } else if (op.type == zk::Op::Type::set) {
      m_nodes[op.path].data = op.data;
      ++m_nodes[op.path].stat.version;
    }
    out.results.push_back(r);
  }
  return out;
}

void FakeGate::ensure_path(const std::string& path, zk::CreateMode /*mode*/,
                           Clock::time_point until) {
  {
    Lock lk(m_mutex);
    wait_for_release(lk, until);
  }
  make_path(path);
}

std::size_t FakeGate::remove_watches(const std::string& path, zk::WatchKind kind,
                                     Clock::time_point until) {
  Lock lk(m_mutex);
  wait_for_release(lk, until);
  std::size_t n = 0;
  if (kind != zk::WatchKind::child) n += m_watches.erase(path);
  if (kind != zk::WatchKind::data) n += m_child_watches.erase(path);
  return n;
}

std::int64_t FakeGate::session_id() const {
  std::lock_guard<std::mutex> lk(m_mutex);
  return m_session;
}

zk::SessionState FakeGate::state() const {
  std::lock_guard<std::mutex> lk(m_mutex);
  return m_state;
}

bool FakeGate::is_closed() const {
  return false;
}

std::chrono::milliseconds FakeGate::operation_timeout() const {
  return op_timeout;
}

bool FakeGate::on_callback_thread() const {
  return std::this_thread::get_id() == m_thread.get_id();
}

void FakeGate::check_blocking_call(const char* what) const {
  if (on_callback_thread())
    throw zk::Error(Errc::wrong_thread, std::string(what) + " on the fake's callback thread");
}

std::uint64_t FakeGate::add_listener(zk::Listener listener) {
  std::lock_guard<std::mutex> lk(m_mutex);
  const auto id = m_next_id++;
  m_listeners.emplace(id, std::move(listener));
  return id;
}

void FakeGate::remove_listener(std::uint64_t id) {
  std::lock_guard<std::mutex> lk(m_mutex);
  m_listeners.erase(id);
}

void FakeGate::post_at(Clock::time_point at, std::function<void()> fn) {
  std::lock_guard<std::mutex> lk(m_mutex);
  m_timers.emplace(at, std::move(fn));
  m_cv.notify_all();
}

void FakeGate::log(zk::LogLevel /*level*/, const std::string& message) const noexcept {
  try {
    std::lock_guard<std::mutex> lk(m_mutex);
    m_logged.push_back(message);
  } catch (...) {
  }
}

std::shared_ptr<void> FakeGate::attachment(const std::string& key,
                                           const std::function<std::shared_ptr<void>()>& make) {
  std::lock_guard<std::mutex> lk(m_attach_mutex);
  auto& slot = m_attachments[key];
  if (auto existing = slot.lock()) return existing;
  auto created = make();
  slot = created;
  return created;
}

} // namespace zkt
