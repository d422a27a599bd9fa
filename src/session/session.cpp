// zk::Session: the RAII owner. Every operation forwards to the shared SessionImpl.
#include <zkrecipes/session.hpp>

#include "session/c_client.hpp"
#include "session/session_impl.hpp"

namespace zk {

Clock::time_point Deadline::resolve(std::chrono::milliseconds fallback) const {
  if (m_set) return m_at;
  if (m_relative) {
    if (!m_positive) {
      throw Error(Errc::invalid_argument, "a Deadline's timeout must be positive");
    }
    return saturating_add(Clock::now(), m_timeout);
  }
  return saturating_add(Clock::now(), fallback);
}

Op Op::create(std::string path, std::string data, CreateMode mode) {
  Op op;
  op.type = Type::create;
  op.path = std::move(path);
  op.data = std::move(data);
  op.mode = mode;
  return op;
}
Op Op::remove(std::string path, std::int32_t version) {
  Op op;
  op.type = Type::remove;
  op.path = std::move(path);
  op.version = version;
  return op;
}
Op Op::set(std::string path, std::string data, std::int32_t version) {
  Op op;
  op.type = Type::set;
  op.path = std::move(path);
  op.data = std::move(data);
  op.version = version;
  return op;
}
Op Op::check(std::string path, std::int32_t version) {
  Op op;
  op.type = Type::check;
  op.path = std::move(path);
  op.version = version;
  return op;
}

std::size_t MultiResult::failed_op() const noexcept {
  for (std::size_t i = 0; i < results.size(); ++i)
    if (results[i].error != Errc::ok && results[i].error != Errc::runtime_inconsistency) return i;
  return results.size();
}

Acl open_acl() {
  return {AclEntry{"world", "anyone", perm::all}};
}
Acl creator_all_acl() {
  return {AclEntry{"auth", "", perm::all}};
}

void MultiResult::throw_if_failed() const {
  if (ok()) return;
  const std::size_t i = failed_op();
  throw Error(error, i < results.size() ? "multi: op " + std::to_string(i) + " failed"
                                        : std::string("multi failed"));
}

const char* to_string(SessionState s) noexcept {
  switch (s) {
  case SessionState::connecting:
    return "connecting";
  case SessionState::connected:
    return "connected";
  case SessionState::suspended:
    return "suspended";
  case SessionState::reconnected:
    return "reconnected";
  case SessionState::lost:
    return "lost";
  case SessionState::closed:
    return "closed";
  }
  return "unknown";
}

namespace detail {
SessionImpl& impl_of(const Session& s) {
  if (!s.m_impl) throw Error(Errc::invalid_argument, "use of a moved-from zk::Session");
  return *s.m_impl;
}
} // namespace detail

namespace {
SessionOptions with_hosts(std::string hosts) {
  SessionOptions o;
  o.hosts = std::move(hosts);
  return o;
}
} // namespace

Session::Session(std::string hosts) : Session(with_hosts(std::move(hosts))) {}

Session::Session(SessionOptions options)
    : m_impl(std::make_shared<detail::SessionImpl>(std::move(options))) {
  m_impl->start();
}

Session::~Session() {
  if (m_impl) m_impl->close_noexcept();
}
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&& other) noexcept {
  if (this != &other) {
    if (m_impl) m_impl->close_noexcept();
    m_impl = std::move(other.m_impl);
  }
  return *this;
}

using detail::impl_of;

Created Session::create(std::string_view path, std::string_view data, CreateOptions options,
                        Deadline d) {
  return impl_of(*this).create(path, data, std::move(options), d);
}
std::optional<NodeData> Session::get(std::string_view path, Watcher watch, Deadline d) {
  return impl_of(*this).get(path, std::move(watch), d);
}
Stat Session::set(std::string_view path, std::string_view data, std::int32_t version, Deadline d) {
  return impl_of(*this).set(path, data, version, d);
}
std::optional<Stat> Session::exists(std::string_view path, Watcher watch, Deadline d) {
  return impl_of(*this).exists(path, std::move(watch), d);
}
std::optional<Children> Session::children(std::string_view path, Watcher watch, Deadline d) {
  return impl_of(*this).children(path, std::move(watch), d);
}
bool Session::remove(std::string_view path, std::int32_t version, Deadline d) {
  return impl_of(*this).remove(path, version, d);
}
MultiResult Session::multi(const std::vector<Op>& ops, Deadline d) {
  return impl_of(*this).multi(ops, d);
}
void Session::sync(std::string_view path, Deadline d) {
  impl_of(*this).sync(path, d);
}
std::size_t Session::remove_watches(std::string_view path, WatchKind kind, Deadline d) {
  return impl_of(*this).remove_watches(path, kind, d);
}
std::size_t Session::remove_recursive(std::string_view path, Deadline d) {
  return impl_of(*this).remove_recursive(path, d);
}
void Session::ensure_path(std::string_view path, CreateMode mode, Deadline d) {
  impl_of(*this).ensure_path(path, mode, d);
}

void Session::create_async(std::string_view path, std::string_view data, CreateOptions options,
                           std::function<void(Result<Created>)> done) {
  impl_of(*this).create_async(path, data, std::move(options), std::move(done));
}
void Session::get_async(std::string_view path, Watcher watch,
                        std::function<void(Result<NodeData>)> done) {
  impl_of(*this).get_async(path, std::move(watch), std::move(done));
}
void Session::set_async(std::string_view path, std::string_view data, std::int32_t version,
                        std::function<void(Result<Stat>)> done) {
  impl_of(*this).set_async(path, data, version, std::move(done));
}
void Session::exists_async(std::string_view path, Watcher watch,
                           std::function<void(Result<std::optional<Stat>>)> done) {
  impl_of(*this).exists_async(path, std::move(watch), std::move(done));
}
void Session::children_async(std::string_view path, Watcher watch,
                             std::function<void(Result<Children>)> done) {
  impl_of(*this).children_async(path, std::move(watch), std::move(done));
}
void Session::remove_async(std::string_view path, std::int32_t version,
                           std::function<void(Result<Done>)> done) {
  impl_of(*this).remove_async(path, version, std::move(done));
}
void Session::multi_async(const std::vector<Op>& ops,
                          std::function<void(Result<MultiResult>)> done) {
  impl_of(*this).multi_async(ops, std::move(done));
}
void Session::sync_async(std::string_view path, std::function<void(Result<Done>)> done) {
  impl_of(*this).sync_async(path, std::move(done));
}

SessionState Session::state() const {
  return m_impl ? m_impl->state() : SessionState::closed;
}
std::int64_t Session::session_id() const {
  return impl_of(*this).session_id();
}
ClientId Session::client_id() const {
  return impl_of(*this).client_id();
}
std::chrono::milliseconds Session::negotiated_timeout() const {
  return impl_of(*this).negotiated_timeout();
}
std::string Session::current_server() const {
  return impl_of(*this).current_server();
}
std::uint64_t Session::add_listener(Listener listener) {
  return impl_of(*this).add_listener(std::move(listener));
}
void Session::remove_listener(std::uint64_t id) {
  impl_of(*this).remove_listener(id);
}
void Session::close() {
  if (m_impl) m_impl->close();
}
bool Session::on_callback_thread() noexcept {
  return detail::on_dispatcher_thread();
}

} // namespace zk
