// A fake session gate for the unit tests of core: an in-memory ZooKeeper tree (sequential and
// ephemeral nodes, data and children watches, one session that can expire and be renewed) behind
// the same core::Gate the recipes use, with scripted faults: a create whose reply is lost after it
// was applied, replies held back (a slow server), a hook that changes the tree right after a
// listing was answered. Asynchronous replies, watches, listeners and timers run on the fake's own
// callback thread, as the live gate runs them on the session's; blocking calls answer at once (or
// wait for held replies, until their deadline).
#pragma once

#include "core/gate.hpp"

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace zkt {

class FakeGate final : public zk::detail::core::Gate {
public:
  FakeGate();
  ~FakeGate() override;
  FakeGate(const FakeGate&) = delete;
  FakeGate& operator=(const FakeGate&) = delete;
  FakeGate(FakeGate&&) = delete;
  FakeGate& operator=(FakeGate&&) = delete;

  // --- The scripted server, acting as other clients ---
  /// Creates `path` (persistent) and its ancestors.
  void make_path(const std::string& path);
  /// Creates a sequential ephemeral child `prefix<seq>` of `parent` for another session; returns
  /// its name.
  std::string add_foreign(const std::string& parent, const std::string& prefix);
  /// Creates or overwrites a persistent node as another client (its watches fire).
  void put(const std::string& path, const std::string& data);
  /// Deletes a node as another client (its watches fire).
  void delete_node(const std::string& path);
  /// The children's names of `parent` (sorted), and whether `path` exists.
  [[nodiscard]] std::vector<std::string> children_of(const std::string& parent) const;
  [[nodiscard]] bool exists(const std::string& path) const;
  /// The owner session of an existing node.
  [[nodiscard]] std::int64_t owner_of(const std::string& path) const;
  /// Data and children watches set and not yet fired or removed.
  [[nodiscard]] std::size_t watches() const;

  // --- Session events ---
  /// The server expires the session: its watches end unfired, its ephemeral nodes go, the state
  /// goes lost, then (renewal on) a new session connects.
  void expire();
  /// The connection is suspended / comes back with the same session (watch events of the
  /// suspension are delivered then, as the server does after setWatches).
  void suspend();
  void reconnect();
  /// The process was paused past the session timeout: no reply since then, nothing reported yet
  /// (the C client has not noticed). Until the next expire(), contact_lapsed() says so.
  void pause_past_timeout();

  // --- Faults ---
  /// The next create is applied, but its reply is connection_loss.
  void lose_next_create_reply();
  /// The next create is applied, but its reply is held back until release_replies() (a slow
  /// answer that comes after its caller stopped waiting).
  void hold_next_create_reply();
  /// The next get_async is answered `e` (without reading the node).
  void fail_next_get(zk::Errc e);
  /// Hold every reply (asynchronous and blocking) until release_replies().
  void hold_replies();
  void release_replies();
  /// Runs once, right after the next listing of `parent` was answered (with the fake's lock
  /// released): the tree changes between a listing and what follows it.
  void after_next_listing(std::function<void()> fn);
  /// Counts of requests by kind ("create", "children", "get", "remove").
  [[nodiscard]] int requests(const std::string& kind) const;

  /// Waits until the callback thread has nothing queued (replies held back do not count).
  void drain();

  // --- core::Gate ---
  void create_async(const std::string& path, const std::string& data, zk::CreateMode mode,
                    std::function<void(zk::Result<zk::Created>)> done) override;
  void get_async(const std::string& path, zk::Watcher watch,
                 std::function<void(zk::Result<zk::NodeData>)> done) override;
  void exists_async(const std::string& path, zk::Watcher watch,
                    std::function<void(zk::Result<std::optional<zk::Stat>>)> done) override;
  void children_async(const std::string& path, zk::Watcher watch,
                      std::function<void(zk::Result<zk::Children>)> done) override;
  void remove_async(const std::string& path, std::int32_t version,
                    std::function<void(zk::Result<zk::Done>)> done) override;
  void remove_watches_async(const std::string& path, zk::WatchKind kind,
                            std::function<void(zk::Result<std::size_t>)> done) override;
  void create_direct(const std::string& path, const std::string& data, zk::CreateMode mode,
                     std::function<void(zk::Result<zk::Created>)> done) override {
    create_async(path, data, mode, std::move(done));
  }
  void set_direct(const std::string& path, const std::string& data, std::int32_t version,
                  std::function<void(zk::Result<zk::Stat>)> done) override;
  void get_direct(const std::string& path,
                  std::function<void(zk::Result<zk::NodeData>)> done) override {
    get_async(path, {}, std::move(done));
  }
  zk::Created create(const std::string& path, const std::string& data, zk::CreateMode mode,
                     zk::Clock::time_point until) override;
  std::optional<zk::NodeData> get(const std::string& path, zk::Clock::time_point until) override;
  std::optional<zk::Children> children(const std::string& path,
                                       zk::Clock::time_point until) override;
  bool remove(const std::string& path, std::int32_t version, zk::Clock::time_point until) override;
  zk::MultiResult multi(const std::vector<zk::Op>& ops, zk::Clock::time_point until) override;
  void ensure_path(const std::string& path, zk::CreateMode mode,
                   zk::Clock::time_point until) override;
  std::size_t remove_watches(const std::string& path, zk::WatchKind kind,
                             zk::Clock::time_point until) override;
  [[nodiscard]] std::int64_t session_id() const override;
  [[nodiscard]] zk::SessionState state() const override;
  [[nodiscard]] bool is_closed() const override;
  [[nodiscard]] std::chrono::milliseconds operation_timeout() const override;
  [[nodiscard]] bool contact_lapsed(std::int64_t session) const override;
  [[nodiscard]] bool renews_after_expiry() const override { return true; }
  [[nodiscard]] bool on_callback_thread() const override;
  void check_blocking_call(const char* what) const override;
  /// The fake has no size limit.
  void check_create(const std::string& /*path*/, const std::string& /*data*/) const override {}
  std::uint64_t add_listener(zk::Listener listener) override;
  void remove_listener(std::uint64_t id) override;
  void post_at(zk::Clock::time_point at, std::function<void()> fn) override;
  zk::Observer* observer() const noexcept override { return fake_observer; }
  /// What observer() returns (set before the engine is used).
  zk::Observer* fake_observer = nullptr;
  void log(zk::LogLevel level, const std::string& message) const noexcept override;
  std::shared_ptr<void> attachment(const std::string& key,
                                   const std::function<std::shared_ptr<void>()>& make) override;

  /// The operation timeout the engine sees (short, so cleanup waits stay short in tests).
  std::chrono::milliseconds op_timeout{500};
  /// Warnings the engine logged.
  [[nodiscard]] std::vector<std::string> logged() const;

private:
  struct Node {
    std::string data;
    zk::Stat stat;
    std::int32_t next_seq = 0;
  };
  using Lock = std::unique_lock<std::mutex>;

  void run();                                       // the callback thread
  void enqueue(Lock& lk, std::function<void()> fn); // to the callback thread
  void reply(Lock& lk, std::function<void()> fn);   // held back while replies are held
  void wait_for_release(Lock& lk, zk::Clock::time_point until);
  zk::Result<zk::Created> do_create(Lock& lk, const std::string& path, const std::string& data,
                                    zk::CreateMode mode, std::int64_t owner);
  zk::Result<zk::Done> do_remove(Lock& lk, const std::string& path, std::int32_t version);
  zk::Result<zk::NodeData> do_get(const std::string& path) const;
  zk::Result<zk::Children> do_children(const std::string& path) const;
  void fire(Lock& lk, const std::string& path, zk::EventType type);
  void deliver(Lock& lk, std::function<void()> event); ///< a watch event (deferred if suspended)
  void emit(Lock& lk, zk::SessionState state, std::int64_t session);

  mutable std::mutex m_mutex;
  std::condition_variable m_cv;
  std::map<std::string, Node> m_nodes;
  std::multimap<std::string, std::pair<std::uint64_t, zk::Watcher>> m_watches;
  std::multimap<std::string, zk::Watcher> m_child_watches; ///< by parent
  std::map<std::uint64_t, zk::Listener> m_listeners;
  std::mutex m_attach_mutex; // apart from m_mutex: `make` adds a listener
  std::map<std::string, std::weak_ptr<void>> m_attachments;
  std::deque<std::function<void()>> m_queue;
  std::deque<std::function<void()>> m_held;
  std::vector<std::function<void()>> m_deferred; // watch events while suspended
  std::multimap<zk::Clock::time_point, std::function<void()>> m_timers;
  std::map<std::string, int> m_requests;
  mutable std::vector<std::string> m_logged;
  std::function<void()> m_after_listing;
  std::int64_t m_session = 1;
  bool m_paused = false;
  std::int64_t m_zxid = 100;
  std::uint64_t m_next_id = 1;
  zk::SessionState m_state = zk::SessionState::connected;
  bool m_lose_create_reply = false;
  bool m_hold_create_reply = false;
  zk::Errc m_fail_get = zk::Errc::ok;
  bool m_holding = false;
  bool m_busy = false; // the callback thread runs an item
  bool m_stop = false;
  std::thread m_thread; // last: started after everything above exists
};

// Polls `pred` until it holds or `timeout` passes (the fake's events arrive on its own thread).
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  const auto until = zk::Clock::now() + timeout;
  while (!pred()) {
    if (zk::Clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

} // namespace zkt
