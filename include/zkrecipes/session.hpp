// zkrecipes — zk::Session: one RAII ZooKeeper session over the official C client.
//
// clang-format off
//   zk::Session session("127.0.0.11:2181,127.0.0.12:2181,127.0.0.13:2181");  // connected or throws
//   session.ensure_path("/app/config");
//   session.set("/app/config", "v2");
//   if (auto node = session.get("/app/config")) std::cout << node->data << '\n';
// clang-format on
//
// Blocking calls take a zk::Deadline (a duration or a steady_clock time point; by default the
// session's operation timeout) and throw zk::Error with Errc::deadline_exceeded when it passes.
// The asynchronous *_async calls never block; their callbacks receive a zk::Result.
//
// Threading contract (the library's one statement of it; every recipe follows it):
//  - Every method of the Session and of every recipe may be called from any thread.
//  - Every callback (async completions, watches, state listeners, and the recipes' callbacks such
//    as LockOptions::on_lost) runs on ONE library thread per Session, the callback thread, never
//    while a library lock is held, in the order the events happened. That thread survives the
//    re-creation of the session after an expiry.
//  - The log sink is the exception: it is called on whichever thread logs (the C client's I/O and
//    completion threads, or a caller's), so it must be thread-safe.
//  - Do not block in a callback. A blocking call made on the callback thread (the Session's or a
//    recipe's) throws Errc::wrong_thread instead of deadlocking, and so does close(). A Session
//    destroyed on the callback thread closes its handle there and lets the thread finish on its
//    own.
//
// Moved-from handles (a Session and every recipe object alike): they may be assigned to or
// destroyed; their noexcept accessors return empty values ("" for path(), false for owns_lock());
// every other call throws Errc::invalid_argument ("use of a moved-from zk::...").
//
// Thread safety: all methods are safe to call concurrently.
#pragma once

#include <zkrecipes/error.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

/// The public API of zkrecipes (zk::detail is not part of it).
namespace zk {

/// The clock of every deadline, timeout and timer in the library: steady, so changes of the wall
/// clock do not move them.
using Clock = std::chrono::steady_clock;

/// The latest time point the library waits for: "wait forever" saturates here (146 years after
/// boot), a century away from time_point::max(), so adding a timeout to it never overflows.
inline constexpr Clock::time_point far_future{Clock::duration::max() / 2};

/// `from + timeout` for a timeout of any representation (hours::max(), a double of seconds, …),
/// saturated at far_future instead of overflowing; a negative timeout gives at most `from`.
template <class Rep, class Period>
[[nodiscard]] Clock::time_point saturating_add(Clock::time_point from,
                                               std::chrono::duration<Rep, Period> timeout) {
  using Seconds = std::chrono::duration<long double>;
  const Seconds room = far_future - from;
  const Seconds wanted = std::chrono::duration_cast<Seconds>(timeout);
  if (!(wanted < room)) return far_future; // also a NaN
  const Seconds back = from.time_since_epoch();
  if (-wanted >= back) return Clock::time_point{};
  return from + std::chrono::duration_cast<Clock::duration>(wanted);
}

/// A time point of any clock as a point of Clock (system_clock's now + 5 s: Clock's now + 5 s),
/// saturated as saturating_add.
template <class C, class D>
[[nodiscard]] Clock::time_point to_steady(const std::chrono::time_point<C, D>& at) {
  if constexpr (std::is_same_v<C, Clock>) {
    return std::chrono::time_point_cast<Clock::duration>(at);
  } else {
    return saturating_add(Clock::now(), at - C::now());
  }
}

/// When a blocking call gives up. Default: the session's operation timeout. A duration must be
/// positive; a very long one (up to duration::max() of any type) saturates at far_future.
/// Thread safety: a plain value; copies may be used on any thread.
class Deadline {
public:
  /// The call's own default: the session's operation timeout, or the RetryPolicy::timeout of a
  /// call that takes a policy.
  Deadline() = default;
  /// Gives up at `at`, a Clock time point (to_steady() converts one of another clock).
  Deadline(Clock::time_point at) : m_at(at), m_set(true) {} // NOLINT(google-explicit-constructor)
  /// Gives up `timeout` after the call starts: counted from when the call resolves it, not from
  /// when the Deadline is made. A zero or negative timeout makes the call throw zk::Error with
  /// Errc::invalid_argument.
  template <class Rep, class Period>
  Deadline(std::chrono::duration<Rep, Period> timeout) // NOLINT(google-explicit-constructor)
      : m_positive(timeout > timeout.zero()), m_relative(true) {
    // Resolved against now later; kept as the offset from the epoch it would give, saturated.
    m_timeout = saturating_add(Clock::time_point{}, timeout).time_since_epoch();
  }

  /// The absolute time point, resolving a default deadline to now + fallback. Throws
  /// Errc::invalid_argument for a zero or negative duration.
  [[nodiscard]] Clock::time_point resolve(std::chrono::milliseconds fallback) const;
  /// True for Deadline{}: the call falls back to its own default timeout.
  [[nodiscard]] bool is_default() const noexcept { return !m_set && !m_relative; }

private:
  Clock::time_point m_at{};
  Clock::duration m_timeout{};
  bool m_positive = false;
  bool m_set = false;
  bool m_relative = false;
};

/// A znode's metadata, as the server reports it.
struct Stat {
  std::int64_t czxid = 0;           ///< zxid of the create: increases across the ensemble
  std::int64_t mzxid = 0;           ///< zxid of the last data change
  std::int64_t ctime = 0;           ///< creation time, ms since the epoch (server clock)
  std::int64_t mtime = 0;           ///< last data change, ms since the epoch (server clock)
  std::int32_t version = 0;         ///< data version
  std::int32_t cversion = 0;        ///< child version
  std::int32_t aversion = 0;        ///< ACL version
  std::int64_t ephemeral_owner = 0; ///< session id of an ephemeral node's owner, else 0
  std::int32_t data_length = 0;     ///< size of the data, in bytes
  std::int32_t num_children = 0;    ///< number of children
  std::int64_t pzxid = 0;           ///< zxid of the last change to the children (created, deleted)
};

/// Version meaning "any version": a write with it is unconditional.
inline constexpr std::int32_t any_version = -1;

/// How create() makes a node: persistent or ephemeral, sequential or not, a container, or with a
/// TTL (the *_with_ttl modes need CreateOptions::ttl).
enum class CreateMode {
  persistent,            ///< stays until deleted
  ephemeral,             ///< deleted when the creating session ends; may not have children
  persistent_sequential, ///< persistent, named with the parent's next 10-digit counter appended
  ephemeral_sequential,  ///< ephemeral, named with the parent's next 10-digit counter appended
  container,             ///< deleted by the server once it had children and has none
  persistent_with_ttl,   ///< deleted once unmodified for `ttl` and childless
  persistent_sequential_with_ttl, ///< persistent_with_ttl with a sequence suffix
};

/// Permission bits of an AclEntry (ZooKeeper's ZOO_PERM_*).
namespace perm {
inline constexpr std::uint32_t read = 1;   ///< read the data and list the children
inline constexpr std::uint32_t write = 2;  ///< set the data
inline constexpr std::uint32_t create = 4; ///< create children
inline constexpr std::uint32_t remove = 8; ///< deleting a node needs this on its parent
inline constexpr std::uint32_t admin = 16; ///< set the ACL
inline constexpr std::uint32_t all = 31;   ///< every permission
} // namespace perm

/// One entry of a node's access control list.
struct AclEntry {
  std::string scheme;      ///< "world", "auth", "digest", "ip", …
  std::string id;          ///< "anyone" for world, "" for auth (the session's own identities)
  std::uint32_t perms = 0; ///< perm:: bits (1..31)
};
/// A node's access control list: a request is allowed if an entry matching one of the session's
/// identities grants the permission it needs.
using Acl = std::vector<AclEntry>;
/// Anyone may do anything (ZooKeeper's OPEN_ACL_UNSAFE).
Acl open_acl();
/// Only the identities this session authenticated with, with every permission (CREATOR_ALL_ACL).
Acl creator_all_acl();

/// How create() makes a node: its mode, the TTL of the *_with_ttl modes, and its ACL.
struct CreateOptions {
  /// Options with mode `m` and the default ACL; a CreateMode alone converts to them.
  // NOLINTNEXTLINE(google-explicit-constructor): a mode alone reads as the options
  CreateOptions(CreateMode m = CreateMode::persistent) : mode(m) {}
  /// Options with mode `m` and TTL `t` (for the *_with_ttl modes).
  CreateOptions(CreateMode m, std::chrono::milliseconds t) : mode(m), ttl(t) {}
  /// How the node is created: persistent or ephemeral, sequential or not; the *_with_ttl modes
  /// need ttl.
  CreateMode mode;
  std::chrono::milliseconds ttl{0}; ///< required (> 0) for the *_with_ttl modes, else ignored
  std::optional<Acl> acl;           ///< this node's ACL; unset: SessionOptions::default_acl
};

/// What create() made.
struct Created {
  std::string path; ///< the actual path (with the sequence suffix for sequential modes)
  Stat stat;        ///< the new node's Stat
};

/// A node's data and metadata, as get() read them.
struct NodeData {
  std::string data; ///< the bytes last written (may be empty, or binary)
  Stat stat;        ///< the node's Stat at that read
};

/// A node's children, as children() listed them.
struct Children {
  std::vector<std::string> names; ///< child names, unsorted, without the parent path
  Stat stat;                      ///< the parent's Stat
};

/// What fired a watch.
enum class EventType {
  created, ///< the node was created (a watch set by exists() on an absent node)
  deleted, ///< the node was deleted
  changed, ///< the node's data was set
  child    ///< a child was created or deleted (a watch set by children())
};
/// What a Watcher is told.
struct WatchEvent {
  EventType type;   ///< what happened
  std::string path; ///< the node the watch was set on
};
/// A one-shot watch: called at most once, on the callback thread.
using Watcher = std::function<void(const WatchEvent&)>;
/// Which of a path's watches remove_watches() removes.
enum class WatchKind {
  data,  ///< those set by get() and exists()
  child, ///< those set by children()
  any    ///< both
};

/// One operation of an atomic multi.
struct Op {
  /// Which operation an Op is.
  enum class Type {
    create, ///< creates a node (Op::create)
    remove, ///< deletes a node (Op::remove)
    set,    ///< sets a node's data (Op::set)
    check   ///< changes nothing; fails the multi unless the node is as expected (Op::check)
  };
  /// Creates `path` with `data`, with the session's default ACL (the TTL modes are refused in a
  /// multi).
  static Op create(std::string path, std::string data = {},
                   CreateMode mode = CreateMode::persistent);
  /// Deletes `path` if it has `version` (any_version: whatever its version).
  static Op remove(std::string path, std::int32_t version = any_version);
  /// Sets the data of `path` if it has `version` (any_version: unconditionally).
  static Op set(std::string path, std::string data, std::int32_t version = any_version);
  /// Passes only if the node exists (and has `version`, unless any_version).
  static Op check(std::string path, std::int32_t version = any_version);

  Type type = Type::check;                  ///< which operation
  std::string path;                         ///< the node it acts on
  std::string data;                         ///< the data of a create or set
  CreateMode mode = CreateMode::persistent; ///< the mode of a create
  std::int32_t version = any_version;       ///< the version a remove, set or check expects
};

/// The outcome of one op of a multi.
struct OpResult {
  /// ok; in a refused multi: ok for the ops before the failed one, its code for the failed one,
  /// runtime_inconsistency for the ops after it (none of them was applied).
  Errc error = Errc::ok;
  std::string path;         ///< create: the created path
  std::optional<Stat> stat; ///< set: the new Stat
};

/// Outcome of a multi that the server answered: all ops applied, or none (then `error` says why and
/// `failed_op` which op failed). A refusal is a value, so it is [[nodiscard]]: look at ok(), or
/// call throw_if_failed().
struct [[nodiscard]] MultiResult {
  Errc error = Errc::ok;         ///< ok, or the code of the op that failed
  std::vector<OpResult> results; ///< one per op, in the order of the ops
  /// True if every op was applied.
  [[nodiscard]] bool ok() const noexcept { return error == Errc::ok; }
  /// The index of the op that failed (the first whose error is neither ok nor
  /// runtime_inconsistency), or results.size() if none did.
  [[nodiscard]] std::size_t failed_op() const noexcept;
  /// Throws a zk::Error with `error`, naming the failed op, unless every op was applied.
  void throw_if_failed() const;
};

/// A value or the error that prevented it (for the asynchronous calls).
/// Thread safety: a plain value, as a standard container is.
template <class T> class Result {
public:
  /// A success holding `value`.
  Result(T value) : m_value(std::move(value)) {} // NOLINT(google-explicit-constructor)
  /// A failure with code `error` (not Errc::ok) and what failed (the operation and path).
  Result(Errc error, std::string detail) : m_error(error), m_detail(std::move(detail)) {}
  /// True if it holds a value.
  [[nodiscard]] bool ok() const noexcept { return m_error == Errc::ok; }
  /// ok().
  explicit operator bool() const noexcept { return ok(); }
  /// Errc::ok with a value, else the code of the error that prevented it.
  [[nodiscard]] Errc error() const noexcept { return m_error; }
  /// What failed (the operation and path), without the code's text; empty with a value.
  [[nodiscard]] const std::string& detail() const noexcept { return m_detail; }
  /// The value; throws the zk::Error if there is none.
  [[nodiscard]] T& value() {
    if (!ok()) throw failure();
    return *m_value;
  }
  /// The zk::Error that prevented the value (code Errc::ok, "no error", if there is a value).
  [[nodiscard]] Error failure() const { return Error(m_error, ok() ? "no error" : m_detail); }

private:
  std::optional<T> m_value;
  Errc m_error = Errc::ok;
  std::string m_detail;
};
/// The value of a call that returns nothing: remove_async() and sync_async() give a Result<Done>.
struct Done {};

/// Where a Session's connection stands; each change is reported to the listeners (add_listener()).
enum class SessionState {
  connecting,  ///< first connection not yet made
  connected,   ///< connected for the first time, or with a new session after an expiry
  suspended,   ///< disconnected; the session may still be alive on the server
  reconnected, ///< connected again with the same session: ephemeral nodes and watches are intact
  lost,        ///< expired, or disconnected longer than the session timeout (local timer)
  closed,      ///< close() was called
};
/// The enumerator's name, such as "suspended" ("unknown" for a value outside the enum).
const char* to_string(SessionState s) noexcept;

/// A state change, as a Listener is told it.
struct SessionEvent {
  SessionState state;      ///< the new state
  std::int64_t session_id; ///< the ZooKeeper session this event is about
};
/// Called on the callback thread with every state change (see Session::add_listener()); an
/// exception it throws is caught and logged.
using Listener = std::function<void(const SessionEvent&)>;

/// A session's id and password: what SessionOptions::resume needs to attach to it again.
struct ClientId {
  std::int64_t session_id = 0; ///< the ZooKeeper session id
  std::string password;        ///< 16 raw bytes
};

/// Severity of a log line; SessionOptions::log_level passes its own and every more severe one.
enum class LogLevel {
  error = 1, ///< failures (the C client's ZOO_ERROR lines)
  warn = 2,  ///< warnings (ZOO_WARN)
  info = 3,  ///< information (ZOO_INFO)
  debug = 4  ///< details (ZOO_DEBUG, and a line of no known level)
};
/// Receives the log lines (the C client's, without the trailing newline, and the library's own).
/// It is called on whichever thread logs, so it must be thread-safe.
using LogSink = std::function<void(LogLevel, std::string_view message)>;

/// Credentials of ZooKeeper's "digest" scheme (SessionOptions::digest).
struct DigestAuth {
  std::string user;     ///< the user name of the "user:password" credential
  std::string password; ///< the password, in plain text (the server hashes it)
};

class Observer; // observer.hpp

/// How a Session connects; only `hosts` is required. The constructor throws zk::Error with
/// Errc::invalid_argument for malformed hosts or chroot, a timeout that is not positive (or a
/// session_timeout above INT_MAX ms), a chroot given both in `hosts` and in `chroot`, an empty or
/// malformed default_acl, or a `resume` password that is not 16 bytes.
struct SessionOptions {
  std::string hosts;                                  ///< "host:port,host:port"
  std::chrono::milliseconds session_timeout{10000};   ///< requested; the server may clamp it
  std::chrono::milliseconds connect_timeout{15000};   ///< the constructor throws after this
  std::chrono::milliseconds operation_timeout{15000}; ///< default deadline of blocking calls
  std::string chroot; ///< for example "/app": all paths are relative to it
  /// The server's jute.maxbuffer (its default: 1 MiB - 1). It bounds a whole request, framing
  /// included: a larger one would make the server drop the connection, so it is refused before it
  /// is sent with Errc::invalid_argument. A create of "/a" with the open ACL may carry up to
  /// 1 MiB - 50 bytes of data, less one per extra byte of path. Raise it only with the servers'.
  std::size_t max_request_size = 0xfffff;
  std::optional<DigestAuth> digest; ///< adds "digest" auth on every (re)connection
  /// The ACL of every node this session creates, the recipes' nodes and created ancestors
  /// included. Unset: creator_all_acl() when `digest` is set (other identities can then neither
  /// read, overwrite nor delete them, and nothing can be created under them), else open_acl().
  std::optional<Acl> default_acl;
  LogSink log_sink; ///< where the C client's log goes (default: stderr, prefixed)
  LogLevel log_level = LogLevel::warn; ///< the most verbose level passed to the sink
  bool renew_after_expiry = true; ///< after an expiry, open a new session and report `connected`
  std::optional<ClientId> resume; ///< attach to an existing session instead of creating one
  /// Told what the session's recipes do (observer.hpp); null: nothing is measured.
  std::shared_ptr<Observer> observer;
};

class Session;
namespace detail {
class SessionImpl;
SessionImpl& impl_of(const Session& s);
} // namespace detail

/// An open ZooKeeper session. Construction returns connected or throws; destruction closes.
/// Thread safety: all methods are safe to call concurrently from any thread.
/// Errors (zk::Error): every blocking call throws Errc::wrong_thread on any Session's callback
/// thread, Errc::session_closed after close(), Errc::invalid_argument for a bad path, a request
/// larger than SessionOptions::max_request_size or a Deadline that is not positive, and
/// Errc::deadline_exceeded when the deadline passes (a write may still be applied); the server's
/// refusals come as their own codes (no_node, node_exists, bad_version, no_auth, …). The
/// asynchronous calls throw only for what is refused before anything is sent (invalid_argument,
/// an empty callback included, and session_closed); then the callback is not called.
class Session {
public:
  /// Connects to `hosts` ("host:port,host:port", optionally followed by a /chroot) with the
  /// default options. Throws as Session(SessionOptions).
  explicit Session(std::string hosts);
  /// Connects and waits until connected. Throws zk::Error with Errc::invalid_argument for invalid
  /// options (see SessionOptions), Errc::connection_loss when not connected within
  /// connect_timeout, and Errc::session_expired when the session is lost while connecting (a
  /// `resume` session that has expired).
  explicit Session(SessionOptions options);
  /// Closes the session as close() does, without throwing; on its own callback thread it closes
  /// the handle and lets that thread finish on its own.
  ~Session();
  /// Takes over the session; the moved-from Session throws Errc::invalid_argument on use.
  Session(Session&&) noexcept;
  /// Closes this session first (as the destructor does), then takes over `other`'s.
  Session& operator=(Session&&) noexcept;
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // --- Blocking calls (throw zk::Error; an expected absence is an empty optional). ---
  /// Creates a node; returns its actual path and Stat. Throws zk::Error with Errc::node_exists if
  /// it exists, Errc::no_node if its parent does not, Errc::no_children_for_ephemerals under an
  /// ephemeral parent, and Errc::invalid_argument for a *_with_ttl mode without a positive ttl or
  /// a malformed ACL.
  Created create(std::string_view path, std::string_view data = {}, CreateOptions options = {},
                 Deadline deadline = {});
  /// The data and Stat, or nullopt if there is no node (then no watch is set).
  std::optional<NodeData> get(std::string_view path, Watcher watch = {}, Deadline deadline = {});
  /// get() without a watch: `session.get(path, 5s)`.
  std::optional<NodeData> get(std::string_view path, Deadline deadline) {
    return get(path, Watcher{}, deadline);
  }
  /// Sets data if the version matches (any_version: unconditionally); returns the new Stat.
  Stat set(std::string_view path, std::string_view data, std::int32_t version = any_version,
           Deadline deadline = {});
  /// The Stat or nullopt; a watch is set either way (creation, change or deletion fires it).
  std::optional<Stat> exists(std::string_view path, Watcher watch = {}, Deadline deadline = {});
  /// exists() without a watch: `session.exists(path, 5s)`.
  std::optional<Stat> exists(std::string_view path, Deadline deadline) {
    return exists(path, Watcher{}, deadline);
  }
  /// The child names and the node's Stat, or nullopt if there is no node (then no watch is set).
  /// The watch fires when a child is created or deleted, or the node is deleted.
  std::optional<Children> children(std::string_view path, Watcher watch = {},
                                   Deadline deadline = {});
  /// children() without a watch: `session.children(path, 5s)`.
  std::optional<Children> children(std::string_view path, Deadline deadline) {
    return children(path, Watcher{}, deadline);
  }
  /// Deletes the node if the version matches; false if there was no node.
  bool remove(std::string_view path, std::int32_t version = any_version, Deadline deadline = {});
  /// Applies `ops` atomically, all or none. The server's refusal of an op is returned (see
  /// MultiResult); any other failure throws (after a connection loss the ops may have been
  /// applied). Throws zk::Error with Errc::invalid_argument for no ops or a create in a *_with_ttl
  /// mode. Creates get SessionOptions::default_acl.
  [[nodiscard]] MultiResult multi(const std::vector<Op>& ops, Deadline deadline = {});
  /// Waits until the server this session is connected to has caught up with the leader, so that
  /// reads after it see every write committed before it (ZooKeeper's sync of `path`).
  void sync(std::string_view path, Deadline deadline = {});
  /// Removes the watches this session set on `path` (of `kind`); returns how many.
  std::size_t remove_watches(std::string_view path, WatchKind kind = WatchKind::any,
                             Deadline deadline = {});
  /// Deletes `path` and everything below it, deepest first (nodes already gone are fine); returns
  /// how many nodes it deleted. Not atomic: a node created meanwhile makes it fail with not_empty.
  std::size_t remove_recursive(std::string_view path, Deadline deadline = {});
  /// Creates `path` and any missing ancestors (existing nodes are fine).
  void ensure_path(std::string_view path, CreateMode mode = CreateMode::persistent,
                   Deadline deadline = {});

  // --- Asynchronous calls: never block; the callback runs once on the callback thread. ---
  // The same parameters in the same order as the blocking calls, the callback last in place of
  // the deadline.
  /// create() without blocking: `done` gets the Created or the error.
  void create_async(std::string_view path, std::string_view data, CreateOptions options,
                    std::function<void(Result<Created>)> done);
  /// get() without blocking: `done` gets the NodeData, or Errc::no_node if there is no node (then
  /// no watch is set).
  void get_async(std::string_view path, Watcher watch, std::function<void(Result<NodeData>)> done);
  /// get_async() without a watch.
  void get_async(std::string_view path, std::function<void(Result<NodeData>)> done) {
    get_async(path, Watcher{}, std::move(done));
  }
  /// set() without blocking: `done` gets the new Stat or the error.
  void set_async(std::string_view path, std::string_view data, std::int32_t version,
                 std::function<void(Result<Stat>)> done);
  /// exists() without blocking: `done` gets the Stat, or nullopt if there is no node (the watch is
  /// set either way).
  void exists_async(std::string_view path, Watcher watch,
                    std::function<void(Result<std::optional<Stat>>)> done);
  /// exists_async() without a watch.
  void exists_async(std::string_view path, std::function<void(Result<std::optional<Stat>>)> done) {
    exists_async(path, Watcher{}, std::move(done));
  }
  /// children() without blocking: `done` gets the Children, or Errc::no_node if there is no node
  /// (then no watch is set).
  void children_async(std::string_view path, Watcher watch,
                      std::function<void(Result<Children>)> done);
  /// children_async() without a watch.
  void children_async(std::string_view path, std::function<void(Result<Children>)> done) {
    children_async(path, Watcher{}, std::move(done));
  }
  /// remove() without blocking: `done` gets Done, or Errc::no_node if there was no node.
  void remove_async(std::string_view path, std::int32_t version,
                    std::function<void(Result<Done>)> done);
  /// multi() without blocking: `done` gets the MultiResult (a refusal included) or the error of
  /// the call.
  void multi_async(const std::vector<Op>& ops, std::function<void(Result<MultiResult>)> done);
  /// sync() without blocking: `done` gets Done once the server has caught up, or the error.
  void sync_async(std::string_view path, std::function<void(Result<Done>)> done);

  // --- State. ---
  /// The current state (closed after close(), and on a moved-from Session).
  [[nodiscard]] SessionState state() const;
  /// Current ZooKeeper session id (changes after a renewal following an expiry).
  [[nodiscard]] std::int64_t session_id() const;
  /// Session id and password, for example to force a server-side expiry in a test.
  [[nodiscard]] ClientId client_id() const;
  /// The timeout the server granted.
  [[nodiscard]] std::chrono::milliseconds negotiated_timeout() const;
  /// "ip:port" of the server we are connected to, or empty.
  [[nodiscard]] std::string current_server() const;
  /// Registers a listener for state changes; returns an id for remove_listener.
  std::uint64_t add_listener(Listener listener);
  /// Removes a listener: a call of it not yet started is skipped, a running one is not waited for.
  /// An unknown id is ignored.
  void remove_listener(std::uint64_t id);

  /// Closes the session (ephemeral nodes go at once). Idempotent. Later calls throw session_closed.
  void close();

  /// True on any Session's callback thread (where blocking calls are refused).
  [[nodiscard]] static bool on_callback_thread() noexcept;

private:
  // The shared state is reached only through impl_of (the session layer's own calls, and core's
  // gate, src/core/gate.hpp, by which recipes reach it).
  friend detail::SessionImpl& detail::impl_of(const Session& s);
  std::shared_ptr<detail::SessionImpl> m_impl;
};

/// Checks a znode path; throws Errc::invalid_argument naming the path and what is wrong.
void validate_path(std::string_view path);
/// Checks a connect string ("host:port,[v6::addr]:port", optionally followed by a /chroot); throws
/// Errc::invalid_argument naming the entry and what is wrong.
void validate_hosts(std::string_view hosts);

} // namespace zk
