// The live gate: core::Gate over a session's shared state (SessionImpl). Asynchronous calls run
// their `done` on the session's dispatcher thread, the callback thread of the contract.
#include "core/gate.hpp"

#include "session/session_impl.hpp"

namespace zk::detail::core {
namespace {

class LiveGate final : public Gate {
public:
  explicit LiveGate(std::shared_ptr<SessionImpl> impl) : m_impl(std::move(impl)) {}

  void create_async(const std::string& path, const std::string& data, CreateMode mode,
                    std::function<void(Result<Created>)> done) override {
    m_impl->create_async(path, data, mode, std::move(done));
  }
  void get_async(const std::string& path, Watcher watch,
                 std::function<void(Result<NodeData>)> done) override {
    m_impl->get_async(path, std::move(watch), std::move(done));
  }
  void exists_async(const std::string& path, Watcher watch,
                    std::function<void(Result<std::optional<Stat>>)> done) override {
    m_impl->exists_async(path, std::move(watch), std::move(done));
  }
  void children_async(const std::string& path, Watcher watch,
                      std::function<void(Result<Children>)> done) override {
    m_impl->children_async(path, std::move(watch), std::move(done));
  }
  void remove_async(const std::string& path, std::int32_t version,
                    std::function<void(Result<Done>)> done) override {
    m_impl->remove_async(path, version, std::move(done));
  }
  void remove_watches_async(const std::string& path, WatchKind kind,
                            std::function<void(Result<std::size_t>)> done) override {
    m_impl->remove_watches_async(path, kind, std::move(done));
  }

  void create_direct(const std::string& path, const std::string& data, CreateMode mode,
                     std::function<void(Result<Created>)> done) override {
    m_impl->start_create(path, data, mode, std::move(done));
  }
  void set_direct(const std::string& path, const std::string& data, std::int32_t version,
                  std::function<void(Result<Stat>)> done) override {
    m_impl->start_set(path, data, version, std::move(done));
  }
  void get_direct(const std::string& path, std::function<void(Result<NodeData>)> done) override {
    m_impl->start_get(path, {}, std::move(done));
  }

  Created create(const std::string& path, const std::string& data, CreateMode mode,
                 Clock::time_point until) override {
    return m_impl->create(path, data, mode, until);
  }
  std::optional<NodeData> get(const std::string& path, Clock::time_point until) override {
    return m_impl->get(path, {}, until);
  }
  std::optional<Children> children(const std::string& path, Clock::time_point until) override {
    return m_impl->children(path, {}, until);
  }
  bool remove(const std::string& path, std::int32_t version, Clock::time_point until) override {
    return m_impl->remove(path, version, until);
  }
  MultiResult multi(const std::vector<Op>& ops, Clock::time_point until) override {
    return m_impl->multi(ops, until);
  }
  void ensure_path(const std::string& path, CreateMode mode, Clock::time_point until) override {
    m_impl->ensure_path(path, mode, until);
  }
  std::size_t remove_watches(const std::string& path, WatchKind kind,
                             Clock::time_point until) override {
    return m_impl->remove_watches(path, kind, until);
  }

  std::int64_t session_id() const override { return m_impl->session_id(); }
  SessionState state() const override { return m_impl->state(); }
  bool is_closed() const override { return m_impl->is_closed(); }
  std::chrono::milliseconds operation_timeout() const override {
    return m_impl->options().operation_timeout;
  }
  bool renews_after_expiry() const override { return m_impl->options().renew_after_expiry; }
  bool on_callback_thread() const override { return Session::on_callback_thread(); }
  void check_blocking_call(const char* what) const override { m_impl->check_blocking_call(what); }
  bool contact_lapsed(std::int64_t session) const override {
    return m_impl->contact_lapsed(session);
  }
  void check_create(const std::string& path, const std::string& data) const override {
    m_impl->check_create(path, data);
  }
  std::uint64_t add_listener(Listener listener) override {
    return m_impl->add_listener(std::move(listener));
  }
  void remove_listener(std::uint64_t id) override { m_impl->remove_listener(id); }
  void post_at(Clock::time_point at, std::function<void()> fn) override {
    m_impl->post_at(at, std::move(fn));
  }
  Observer* observer() const noexcept override { return m_impl->observer(); }
  void log(LogLevel level, const std::string& message) const noexcept override {
    m_impl->log(level, message);
  }
  std::shared_ptr<void> attachment(const std::string& key,
                                   const std::function<std::shared_ptr<void>()>& make) override {
    return m_impl->attachment(key, make);
  }

private:
  const std::shared_ptr<SessionImpl> m_impl;
};

} // namespace

std::shared_ptr<Gate> gate_of(const Session& s) {
  return std::make_shared<LiveGate>(impl_of(s).shared_from_this());
}

} // namespace zk::detail::core
