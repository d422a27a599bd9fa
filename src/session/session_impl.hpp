// The shared state behind a zk::Session, and the only code that talks to the C client.
//
// zk::Session is the RAII owner; recipes keep a std::shared_ptr<SessionImpl> so that they stay
// valid (their calls then fail with session_closed) if the Session is moved or destroyed first. The
// operations here have exactly the signatures of zk::Session's; see session.hpp for their contract.
//
// Threads: the C client's own I/O and completion threads, plus one dispatcher thread per
// SessionImpl that runs every user-visible callback, the local "lost" timer, timers posted by
// recipes, and the re-creation of the ZooKeeper handle after an expiry.
#pragma once

#include <zkrecipes/session.hpp>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <unordered_map>

struct _zhandle; // NOLINT(bugprone-reserved-identifier): the C client's zhandle_t, kept out of
                 // headers

namespace zk::detail {

class SessionImpl : public std::enable_shared_from_this<SessionImpl> {
public:
  explicit SessionImpl(SessionOptions options);
  ~SessionImpl();
  SessionImpl(const SessionImpl&) = delete;
  SessionImpl& operator=(const SessionImpl&) = delete;
  SessionImpl(SessionImpl&&) = delete;
  SessionImpl& operator=(SessionImpl&&) = delete;

  /// Opens the first handle and waits for it to connect (throws on connect timeout).
  void start();

  // Blocking operations (see zk::Session).
  Created create(std::string_view path, std::string_view data, CreateOptions options, Deadline d);
  std::optional<NodeData> get(std::string_view path, Watcher watch, Deadline d);
  Stat set(std::string_view path, std::string_view data, std::int32_t version, Deadline d);
  std::optional<Stat> exists(std::string_view path, Watcher watch, Deadline d);
  std::optional<Children> children(std::string_view path, Watcher watch, Deadline d);
  bool remove(std::string_view path, std::int32_t version, Deadline d);
  MultiResult multi(const std::vector<Op>& ops, Deadline d);
  void sync(std::string_view path, Deadline d);
  std::size_t remove_watches(std::string_view path, WatchKind kind, Deadline d);
  /// remove_watches() without waiting: `done` (on the dispatcher thread) gets the count removed.
  void remove_watches_async(std::string_view path, WatchKind kind,
                            std::function<void(Result<std::size_t>)> done);
  void ensure_path(std::string_view path, CreateMode mode, Deadline d);
  std::size_t remove_recursive(std::string_view path, Deadline d);
  /// The ACL a create uses: its own, else the session's default (see SessionOptions).
  const Acl& acl_for(const CreateOptions& options) const noexcept;

  // Asynchronous operations; `done` runs on the dispatcher thread.
  void create_async(std::string_view path, std::string_view data, CreateOptions options,
                    std::function<void(Result<Created>)> done);
  void get_async(std::string_view path, Watcher watch, std::function<void(Result<NodeData>)> done);
  void set_async(std::string_view path, std::string_view data, std::int32_t version,
                 std::function<void(Result<Stat>)> done);
  void exists_async(std::string_view path, Watcher watch,
                    std::function<void(Result<std::optional<Stat>>)> done);
  void children_async(std::string_view path, Watcher watch,
                      std::function<void(Result<Children>)> done);
  void remove_async(std::string_view path, std::int32_t version,
                    std::function<void(Result<Done>)> done);
  void multi_async(const std::vector<Op>& ops, std::function<void(Result<MultiResult>)> done);
  void sync_async(std::string_view path, std::function<void(Result<Done>)> done);

  // The same, for recipes waiting on a result themselves: `done` runs on the C client's completion
  // thread (or at once, on the calling thread, if the C client refuses the call), saving the hop to
  // the dispatcher. It must only record the result and wake a waiter: no user code, no blocking,
  // and no mutex that the caller holds while issuing the call.
  void start_create(std::string_view path, std::string_view data, CreateOptions options,
                    std::function<void(Result<Created>)> done);
  void start_get(std::string_view path, Watcher watch, std::function<void(Result<NodeData>)> done);
  void start_set(std::string_view path, std::string_view data, std::int32_t version,
                 std::function<void(Result<Stat>)> done);
  void start_exists(std::string_view path, Watcher watch,
                    std::function<void(Result<std::optional<Stat>>)> done);
  void start_children(std::string_view path, Watcher watch,
                      std::function<void(Result<Children>)> done);
  void start_remove(std::string_view path, std::int32_t version,
                    std::function<void(Result<Done>)> done);
  void start_sync(std::string_view path, std::function<void(Result<Done>)> done);
  void start_multi(const std::vector<Op>& ops, std::function<void(Result<MultiResult>)> done);

  // State.
  SessionState state() const;
  std::int64_t session_id() const;
  ClientId client_id() const;
  std::chrono::milliseconds negotiated_timeout() const;
  std::string current_server() const;
  std::uint64_t add_listener(Listener listener);
  [[nodiscard]] Observer* observer() const noexcept { return m_options.observer.get(); }
  void remove_listener(std::uint64_t id);
  const SessionOptions& options() const noexcept { return m_options; }

  /// Closes the handle and stops the dispatcher. Throws wrong_thread on the dispatcher thread.
  void close();
  /// As close(), but never throws and never joins from the dispatcher thread (for destructors).
  void close_noexcept() noexcept;
  bool is_closed() const;

  /// For recipes (through core/attachments.hpp): the object kept once per session and `key`,
  /// made by `make` on first use and shared while anyone holds it (held weakly here).
  std::shared_ptr<void> attachment(const std::string& key,
                                   const std::function<std::shared_ptr<void>()>& make);

  // For recipes: run `fn` on the dispatcher thread, now (in order) or at a time point. Dropped
  // silently once the session is closed.
  void post(std::function<void()> fn);
  void post_at(Clock::time_point at, std::function<void()> fn);

  /// Sends `message` to the session's log sink (or the default one), if `level` passes the
  /// session's log_level. Never throws.
  void log(LogLevel level, const std::string& message) const noexcept;

  /// Throws session_closed / wrong_thread as a blocking call must (used by recipes' blocking
  /// calls).
  void check_blocking_call(const char* what) const;
  /// Throws Errc::invalid_argument if a request of `bytes` (wire::) would exceed the server's
  /// limit.
  void check_size(std::size_t bytes, const char* what, std::string_view path) const;
  /// check_size for a create of `path` with `data` and `options` (by default: the default ACL).
  void check_create(std::string_view path, std::string_view data,
                    const CreateOptions& options = {}) const;
  /// Resolves a Deadline with the session's operation timeout.
  Clock::time_point resolve(Deadline d) const;

  /// True if `session` is not the current session any more, or no reply has come from the server
  /// to a request sent within the negotiated timeout of now: the server may have expired it. A
  /// pause of the whole process cannot hide this, as the clock is steady and counts from when the
  /// request was issued.
  bool contact_lapsed(std::int64_t session) const;
  /// Records that the server answered a request issued at `sent` (any thread, lock-free).
  void note_contact(Clock::time_point sent) noexcept;

  // Called from the C client's threads (via the trampolines).
  void on_session_event(_zhandle* zh, int state);
  void start_remove_watches(std::string_view path, WatchKind kind,
                            std::function<void(Result<std::size_t>)> done);
  void on_watch_fired(std::uint64_t watch_id, int type, const char* path);
  void forget_watch(std::uint64_t id);

private:
  /// close()'s work; `from_dispatcher`: on the dispatcher itself, which is detached, not joined.
  void shut_down(bool from_dispatcher);
  struct WatchEntry {
    Watcher fn;
    std::string path;
    WatchKind kind;
    _zhandle* zh;
  };

  _zhandle* open_handle(const std::optional<ClientId>& resume);
  /// Runs fn(zh) with the current handle under a shared lock; throws session_closed if there is
  /// none.
  template <class F> int with_handle(F&& fn);
  /// Runs start(continuation) and waits for the continuation's Result until the deadline.
  template <class T, class Start>
  T wait(Deadline d, const char* what, std::string_view path, Start&& start);
  /// Wraps an async caller's callback so that it runs on the dispatcher thread.
  template <class T>
  std::function<void(Result<T>)> to_dispatcher(std::function<void(Result<T>)> done);
  std::uint64_t register_watch(Watcher fn, std::string_view path, WatchKind kind, _zhandle* zh);
  void set_state(SessionState s, std::int64_t session_id); // queues listener calls
  void dispatcher_loop(std::shared_ptr<SessionImpl> self);
  void renew_after_expiry(); // on the dispatcher thread
  void send_keepalive();     // on the dispatcher thread
  bool accepts_posts() const;
  Clock::time_point last_contact() const noexcept;
  void drop_watches_of(_zhandle* zh);

  SessionOptions m_options;
  Acl m_default_acl;             // resolved from m_options at construction
  std::size_t m_chroot_size = 0; // of the chroot, from ::chroot or a "/..." suffix of ::hosts
  int m_log_slot = -1;

  mutable std::mutex m_mutex; // state, listeners, watch registry, dispatcher queue
  std::condition_variable m_cv;
  SessionState m_state = SessionState::connecting;
  std::int64_t m_session_id = 0;
  ClientId m_client_id;
  std::chrono::milliseconds m_negotiated{0};
  Clock::time_point m_suspended_since{};
  std::atomic<Clock::rep> m_contact{0}; // issue time of the latest request the server answered
  bool m_keepalive_in_flight = false;
  Clock::time_point m_keepalive_sent{};
  bool m_keepalive_due = false;
  bool m_lost_reported = false;
  bool m_lost_by_timer = false; // lost by the local timer, not (yet) by the server
  bool m_closed = false;
  bool m_stop_dispatcher = false;
  bool m_renew_pending = false;
  std::uint64_t m_next_id = 1;
  _zhandle* m_event_zh = nullptr; // the handle whose session events count (guarded by m_mutex)
  std::map<std::uint64_t, Listener> m_listeners;
  std::unordered_map<std::uint64_t, WatchEntry> m_watches;
  std::deque<std::function<void()>> m_queue;
  std::multimap<Clock::time_point, std::function<void()>> m_timers;
  std::thread m_dispatcher;
  std::mutex m_attachments_mutex; // `make` runs under it (and may take m_mutex, never the reverse)
  std::map<std::string, std::weak_ptr<void>> m_attachments;

  mutable std::shared_mutex m_handle_mutex; // guards m_zh against swap/close while a call uses it
  _zhandle* m_zh = nullptr;                 // declared last: closed first
};

/// The impl behind a Session; throws session_closed for a moved-from Session.
SessionImpl& impl_of(const Session& s);

} // namespace zk::detail
