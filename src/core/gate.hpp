// The gate: everything a recipe may ask of its session, and the only door from recipes and core
// into the session layer (as libpqxx's call gates open one class to another without a public
// accessor). The live gate (session_gate.cpp) forwards to the session's shared state; the unit
// tests of the queue engine and the janitor drive them through a fake gate with scripted replies,
// session events and deadlines, without a server.
//
// Contract of every implementation: asynchronous calls never block and run `done` (and a watch,
// once) on the session's callback thread, also when they fail; blocking calls wait at most until
// their deadline; listeners run on the callback thread in the order of the events.
#pragma once

#include <zkrecipes/observer.hpp>
#include <zkrecipes/session.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace zk::detail::core {

class Gate {
public:
  Gate() = default;
  virtual ~Gate() = default;
  Gate(const Gate&) = delete;
  Gate& operator=(const Gate&) = delete;
  Gate(Gate&&) = delete;
  Gate& operator=(Gate&&) = delete;

  // Asynchronous operations.
  virtual void create_async(const std::string& path, const std::string& data, CreateMode mode,
                            std::function<void(Result<Created>)> done) = 0;
  virtual void get_async(const std::string& path, Watcher watch,
                         std::function<void(Result<NodeData>)> done) = 0;
  /// The Stat or nullopt; the watch (if any) is set either way: creation, change and deletion fire
  /// it.
  virtual void exists_async(const std::string& path, Watcher watch,
                            std::function<void(Result<std::optional<Stat>>)> done) = 0;
  /// The children; the watch (if any) fires on the next change of them (or deletion of `path`).
  virtual void children_async(const std::string& path, Watcher watch,
                              std::function<void(Result<Children>)> done) = 0;
  virtual void remove_async(const std::string& path, std::int32_t version,
                            std::function<void(Result<Done>)> done) = 0;
  /// Removes this session's watches of `kind` on `path`; `done` gets how many (0 if none was set).
  virtual void remove_watches_async(const std::string& path, WatchKind kind,
                                    std::function<void(Result<std::size_t>)> done) = 0;

  // Writes for a caller that waits for the reply itself: `done` runs on the C client's completion
  // thread (or at once on the calling thread if the call is refused before it is sent), saving the
  // hop to the callback thread. It must only record the result and wake the waiter: no user code,
  // no blocking, no mutex the caller holds while issuing the call.
  virtual void create_direct(const std::string& path, const std::string& data, CreateMode mode,
                             std::function<void(Result<Created>)> done) = 0;
  virtual void set_direct(const std::string& path, const std::string& data, std::int32_t version,
                          std::function<void(Result<Stat>)> done) = 0;
  /// A read for such a caller (no watch), answered after what this thread sent before it.
  virtual void get_direct(const std::string& path, std::function<void(Result<NodeData>)> done) = 0;

  // Blocking operations (throw zk::Error; Errc::deadline_exceeded once `until` passes).
  virtual Created create(const std::string& path, const std::string& data, CreateMode mode,
                         Clock::time_point until) = 0;
  virtual std::optional<NodeData> get(const std::string& path, Clock::time_point until) = 0;
  virtual std::optional<Children> children(const std::string& path, Clock::time_point until) = 0;
  virtual bool remove(const std::string& path, std::int32_t version, Clock::time_point until) = 0;
  virtual MultiResult multi(const std::vector<Op>& ops, Clock::time_point until) = 0;
  virtual void ensure_path(const std::string& path, CreateMode mode, Clock::time_point until) = 0;
  virtual std::size_t remove_watches(const std::string& path, WatchKind kind,
                                     Clock::time_point until) = 0;

  /// Throws Errc::invalid_argument if a create of `path` with `data` could not be sent (too large).
  virtual void check_create(const std::string& path, const std::string& data) const = 0;

  // State and services.
  [[nodiscard]] virtual std::int64_t session_id() const = 0;
  [[nodiscard]] virtual SessionState state() const = 0;
  [[nodiscard]] virtual bool is_closed() const = 0;
  [[nodiscard]] virtual std::chrono::milliseconds operation_timeout() const = 0;
  /// True if `session` is not the current session, or the server has not answered a request sent
  /// within the negotiated timeout of now (it may have expired the session; a process pause cannot
  /// hide this). What a hold is judged by, at once, before each answer about it. False once the
  /// session is closed: its `closed` event reports that.
  [[nodiscard]] virtual bool contact_lapsed(std::int64_t session) const = 0;
  /// SessionOptions::renew_after_expiry: a new session follows an expiry.
  [[nodiscard]] virtual bool renews_after_expiry() const = 0;
  /// True on this session's callback thread.
  [[nodiscard]] virtual bool on_callback_thread() const = 0;
  /// Throws Errc::wrong_thread on the callback thread, Errc::session_closed once closed.
  virtual void check_blocking_call(const char* what) const = 0;
  virtual std::uint64_t add_listener(Listener listener) = 0;
  virtual void remove_listener(std::uint64_t id) = 0;
  /// Runs `fn` on the callback thread at `at` (dropped once the session is closed).
  virtual void post_at(Clock::time_point at, std::function<void()> fn) = 0;
  /// SessionOptions::observer (null if none).
  [[nodiscard]] virtual Observer* observer() const noexcept = 0;
  /// The session's log sink, filtered by its level. Never throws.
  virtual void log(LogLevel level, const std::string& message) const noexcept = 0;
  /// The object kept once per session and `key` (see attachments.hpp).
  virtual std::shared_ptr<void> attachment(const std::string& key,
                                           const std::function<std::shared_ptr<void>()>& make) = 0;
};

/// The live gate of `s` (throws Errc::invalid_argument for a moved-from Session). It keeps the
/// session's shared state alive, so a recipe's background work outlives a moved or destroyed
/// Session and then fails with session_closed.
std::shared_ptr<Gate> gate_of(const Session& s);

} // namespace zk::detail::core
